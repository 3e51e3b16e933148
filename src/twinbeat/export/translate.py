"""The typed twinbeat `Config` -> the Pacemaker `Cluster` (model.py) and the notes.

- each `node` -> a CIB node, id = its corosync nodeid (ha.cf order from 1);
- each haresources line -> a group, members in order (resources.py);
- its first word -> a location preference of PREFERENCE for that node;
- `auto_failback on`/`legacy` -> `resource-stickiness=0`: the group goes back to its node;
- `auto_failback off` -> `resource-stickiness=STAY` (> PREFERENCE): it stays where it runs;
- monitoring -> monitor operations; `migration-threshold`, `failure-timeout` defaults;
- `ping`, `ping_group` -> an `ocf:pacemaker:ping` clone over every host, and each group
  banned where its `pingd` attribute is missing or 0 (no ping node reachable);
- fencing -> fencing.py;
- `initdead` -> `dc-deadtime` (how long a starting node waits for its peer).

Pure: everything from outside the `Config` comes in `Facts`.
"""

from __future__ import annotations

import os

from twinbeat.config.model import Config, HaCf
from twinbeat.export.facts import Facts
from twinbeat.export.fencing import fence_devices, fencing_properties
from twinbeat.export.ids import Ids
from twinbeat.export.model import (
    Clone,
    Cluster,
    Connectivity,
    Group,
    Note,
    Op,
    Preference,
    Primitive,
    Target,
    duration,
)
from twinbeat.export.resources import monitor_defaults, primitive

PREFERENCE = 100  # the primary's pull on its group
STAY = 200  # auto_failback off: more than PREFERENCE, so a running group does not move back
PING_ATTRIBUTE = "pingd"
PING_MULTIPLIER = 1000
PING_INTERVAL = 10.0  # the ping agent's advised monitor interval (it pings each host 3 times)
PING_TIMEOUT = 60.0


def translate(config: Config, facts: Facts) -> tuple[Cluster, tuple[Note, ...]]:
    hacf = config.hacf
    hacf_path = os.path.join(config.config_dir, "ha.cf")
    ids = Ids()
    groups, notes = _groups(config, facts, ids)
    fenced = fence_devices(hacf, hacf_path, facts, ids)
    notes += fenced.notes
    preferences = tuple(Preference(ids.take(f"prefer-{g.id}"), g.id, g.primary, PREFERENCE)
                        for g in groups)
    clones, connectivity = _ping(hacf, groups, ids)
    properties = (*fencing_properties(hacf, bool(fenced.devices)),
                  ("dc-deadtime", duration(hacf.initdead)))
    stickiness = "0" if hacf.auto_failback.fails_back else str(STAY)
    cluster = Cluster(
        nodes=tuple(enumerate(hacf.nodes, start=1)),
        properties=properties,
        rsc_defaults=(("resource-stickiness", stickiness), *monitor_defaults(hacf)),
        groups=groups,
        clones=clones,
        fencing=fenced.devices,
        preferences=preferences + fenced.avoid,
        connectivity=connectivity,
        header=_header(config, notes),
    )
    return cluster, notes


def _groups(config: Config, facts: Facts, ids: Ids) -> tuple[tuple[Group, ...], tuple[Note, ...]]:
    groups: list[Group] = []
    notes: list[Note] = []
    # fence_delay: the node running the first group wins the race (docs/fencing.md §5)
    first_meta = (("priority", "1"),) if config.hacf.fencing.delay > 0 else ()
    for index, group in enumerate(config.groups):
        members: list[Primitive] = []
        for resource in group.resources:
            made = primitive(resource, group, config.hacf, facts, ids)
            members.append(made.primitive)
            notes += made.notes
        groups.append(Group(ids.take(f"group-{members[0].id}"), tuple(members), group.primary,
                            f"{group.path}:{group.line}", first_meta if index == 0 else ()))
    if not config.groups:
        path = os.path.join(config.config_dir, "haresources")
        notes.append(Note(path, 0, "no resource groups: the CIB has no resources",
                          Target.CIB))
    return tuple(groups), tuple(notes)


def _ping(hacf: HaCf, groups: tuple[Group, ...],
          ids: Ids) -> tuple[tuple[Clone, ...], tuple[Connectivity, ...]]:
    hosts = [host for node in hacf.ping_nodes for host in node]
    if not hosts:
        return (), ()
    agent = Primitive(
        ids.take("ping"), "ocf", "pacemaker", "ping",
        (("host_list", " ".join(hosts)), ("multiplier", str(PING_MULTIPLIER)),
         ("dampen", duration(max(hacf.deadtime, 1.0))), ("name", PING_ATTRIBUTE)),
        ops=(Op("monitor", PING_INTERVAL, PING_TIMEOUT),),
        source="ping nodes",
        comments=("twinbeat's isolation guard: a node that reaches no ping node runs no "
                  "group",))
    clone = Clone(ids.take(f"{agent.id}-clone"), agent)
    rules = tuple(Connectivity(ids.take(f"{g.id}-needs-ping"), g.id, PING_ATTRIBUTE)
                  for g in groups)
    return (clone,), rules


def _header(config: Config, notes: tuple[Note, ...]) -> tuple[str, ...]:
    hacf = config.hacf
    lines = [
        f"Written by `twinbeat export pacemaker` from {config.config_dir} (node {config.node}).",
        f"auto_failback {hacf.auto_failback.value}, keepalive {duration(hacf.keepalive)}, "
        f"deadtime {duration(hacf.deadtime)}, initdead {duration(hacf.initdead)}.",
    ]
    said = [n for n in notes if n.target is Target.CIB]
    if said:
        lines.append("Not translated as it was (each is also a warning of the export):")
        lines += [f"  {note}" for note in said]
    return tuple(lines)
