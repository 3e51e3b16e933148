"""haresources resources -> Pacemaker primitives (docs/pacemaker.md, "What each resource becomes").

- `IPaddr::A/N/IF/BRD`, `IPaddr2::...`, a bare address -> `ocf:heartbeat:IPaddr2` with ip,
  cidr_netmask, nic, broadcast, and twinbeat's `garp_count`/`garp_interval` as
  arp_count/arp_interval;
- `ocf:PROVIDER:AGENT::NAME=VALUE` -> itself;
- heartbeat's classic names (`Filesystem::DEV::DIR`, `apache`) -> `ocf:heartbeat:NAME` with
  the parameters heartbeat's resource.d wrapper set (config/classic.py);
- an `/etc/init.d` script -> `lsb:NAME`; a systemd unit -> `systemd:NAME`;
- any other `resource.d` script -> `lsb:NAME`, with a warning: Pacemaker runs LSB scripts
  from /etc/init.d only, and judges `status` by its exit code (heartbeat read its output).

`lsb:` and `systemd:` take no arguments: `NAME::ARG` keeps NAME and says (a warning) that
ARG is not passed. Each primitive gets a `monitor` operation from twinbeat's monitoring
settings (`monitor_interval`, `monitor_timeout`, per-resource `monitor` lines). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from twinbeat.config.classic import ClassicMapping, classic_mapping
from twinbeat.config.model import (
    Group,
    HaCf,
    IPaddrResource,
    OcfResource,
    Resource,
    ScriptResource,
)
from twinbeat.export.facts import Facts
from twinbeat.export.ids import Ids
from twinbeat.export.model import Note, Op, Pairs, Primitive, Target, duration

INIT_D = "/etc/init.d"


@dataclass(frozen=True, slots=True)
class Made:
    """One primitive and what had to be said about it."""

    primitive: Primitive
    notes: tuple[Note, ...] = ()


def primitive(resource: Resource, group: Group, hacf: HaCf, facts: Facts, ids: Ids) -> Made:
    """The Pacemaker primitive for one haresources resource, with its monitor operation."""
    match resource:
        case IPaddrResource():
            made = _ipaddr(resource, hacf, ids)
        case OcfResource(provider=provider, agent=agent, params=params):
            made = Made(Primitive(ids.take(agent), "ocf", provider, agent, params))
        case ScriptResource():
            made = _script(resource, group, facts, ids)
    ops, comment = _monitor(resource.text, hacf)
    prim = made.primitive
    comments = (*prim.comments, *([comment] if comment else []))
    return Made(Primitive(prim.id, prim.standard, prim.provider, prim.type, prim.params,
                          prim.meta, ops, resource.text, comments), made.notes)


def _ipaddr(resource: IPaddrResource, hacf: HaCf, ids: Ids) -> Made:
    params: list[tuple[str, str]] = [("ip", resource.address)]
    if resource.prefixlen is not None:
        params.append(("cidr_netmask", str(resource.prefixlen)))
    if resource.iface is not None:
        # heartbeat's IPaddr took `eth0:1` (an alias); IPaddr2 wants the NIC and the label apart
        nic, _, label = resource.iface.partition(":")
        params.append(("nic", nic))
        if label:
            params.append(("iflabel", label))
    if resource.broadcast is not None:
        params.append(("broadcast", resource.broadcast))
    params += [("arp_count", str(hacf.garp_count)),
               ("arp_interval", str(round(hacf.garp_interval * 1000)))]
    comment = ("twinbeat's netlink agent; IPaddr2 is resource-agents' equivalent"
               if resource.agent == "IPaddr" else "")
    return Made(Primitive(ids.take(f"ip-{resource.address}"), "ocf", "heartbeat", "IPaddr2",
                          tuple(params), comments=(comment,) if comment else ()))


def _script(resource: ScriptResource, group: Group, facts: Facts, ids: Ids) -> Made:
    name, args = resource.name, resource.args
    kind = facts.agents.get(name)
    classic = classic_mapping(name, args)
    if isinstance(classic, ClassicMapping) and kind in ("ocf", "resource.d", None):
        # resource.d/NAME of a classic name is heartbeat's own wrapper of this very agent
        return Made(Primitive(ids.take(classic.instance), "ocf", "heartbeat", classic.agent,
                              classic.params,
                              comments=(f"heartbeat's resource.d/{name} ran this OCF agent "
                                        "with these parameters",)))
    notes: list[Note] = []
    if kind == "systemd":
        prim = Primitive(ids.take(name), "systemd", None, name)
    else:
        prim = Primitive(ids.take(name), "lsb", None, name)
        reason = _lsb_reason(name, kind, group.path)
        if reason:
            notes.append(Note(group.path, group.line, reason, Target.CIB))
    if args:
        notes.append(Note(group.path, group.line,
                          f"{resource.text}: cannot translate the arguments "
                          f"{' '.join(args)}: {prim.agent} takes none, so Pacemaker would run "
                          f"{name} without them; write an OCF agent (docs/pacemaker.md)",
                          Target.CIB))
    comments = tuple(note.text for note in notes)
    return Made(Primitive(prim.id, prim.standard, prim.provider, prim.type,
                          comments=comments), tuple(notes))


def _lsb_reason(name: str, kind: str | None, path: str) -> str:
    """Why `lsb:NAME` needs the admin's hand, or "" for a real /etc/init.d script."""
    if kind == "init.d":
        return ""
    if kind is None:
        return (f"{name}: not found on this machine (no resource.d script, init.d script or "
                f"systemd unit); assumed to be {INIT_D}/{name} (lsb:{name})")
    directory = path.rsplit("/", 1)[0] if "/" in path else "."
    return (f"{name}: resource.d script, no OCF counterpart: install "
            f"{directory}/resource.d/{name} as {INIT_D}/{name} (lsb:{name}) on both nodes; "
            "Pacemaker judges its status by the LSB exit code (0 running, 3 stopped), not "
            "by the words heartbeat looked for")


def _monitor(text: str, hacf: HaCf) -> tuple[tuple[Op, ...], str]:
    """The monitor operation twinbeat's settings give this resource, and a comment."""
    monitoring = hacf.monitoring
    interval = monitoring.interval_for(text)
    if interval is None:
        return (), "monitoring off in ha.cf: no monitor operation (Pacemaker still probes)"
    timeout = monitoring.timeout_for(text)
    return (Op("monitor", interval, timeout),), ""


def monitor_defaults(hacf: HaCf) -> Pairs:
    """migration_threshold and failure_timeout as resource defaults (Pacemaker counts
    failures per resource, twinbeat per group: the same for a group's one failing member)."""
    monitoring = hacf.monitoring
    return (("migration-threshold", str(monitoring.migration_threshold)),
            ("failure-timeout", duration(monitoring.failure_timeout)))
