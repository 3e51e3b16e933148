"""What a reload from one configuration to another would change, and what it cannot change.

Owns the classification of a reload (issue #16, DESIGN.md §10): `compare(old, new)` reads two
valid `Config`s of the same node and says, in an admin's words,

- `changes`: what a reload applies in place: timers, auto_failback, links added, removed or
  changed, keys, groups added, removed or redefined, monitoring, fencing, ping nodes,
  respawn programs; each one line;
- `refusals`: why the reload must be refused instead, each one line; anything here means
  nothing changes: the node list (a node renamed, a peer changed), logging targets,
  realtime, the watchdog device, the gratuitous ARP settings of running addresses, the
  metrics endpoint; and the
  two changes that would cut the nodes off from each other (no link left as it was; the key
  the peer signs with dropped or changed);
- `warnings`: what the admin must do on the peer for the change to work (a new signing key).

Pure: no I/O, no trio, no core; the daemon (daemon/reload.py) and `twinbeat check --diff`
are the callers. What the *running groups* make of a new group list is not decided here: that
is the core's (core/regroup.py). Key material and fence options never appear in a line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twinbeat.config.model import (
    AuthKeys,
    Bcast,
    Config,
    Group,
    HaCf,
    Link,
    Mcast,
    Respawn,
    Serial,
    Ucast,
)
from twinbeat.config.values import format_seconds

# Settings a running daemon cannot change, and why (each refuses the reload).
RESTART_ONLY: dict[str, Callable[[HaCf], object]] = {
    "logfile": lambda h: h.logfile,
    "debugfile": lambda h: h.debugfile,
    "logfacility": lambda h: h.logfacility,
    "realtime": lambda h: h.realtime,
    "watchdog": lambda h: h.watchdog,
    "garp_count": lambda h: h.garp_count,
    "garp_interval": lambda h: h.garp_interval,
    "metrics": lambda h: h.metrics,
    "peer_protocol": lambda h: h.peer_protocol,
}
RESTART_WHY = {
    "logfile": "the log targets are opened at start-up",
    "debugfile": "the log targets are opened at start-up",
    "logfacility": "the log targets are opened at start-up",
    "realtime": "the scheduling class is set at start-up",
    "watchdog": "the watchdog device is opened at start-up",
    "garp_count": "the addresses already held keep their announcer",
    "garp_interval": "the addresses already held keep their announcer",
    "metrics": "the endpoint is opened at start-up",
    "peer_protocol": "the protocol spoken to the peer is chosen for the whole run",
}
TIMERS = ("keepalive", "deadtime", "warntime", "initdead")


@dataclass(frozen=True)
class GroupDiff:
    """haresources, group by group (a group is its key: the text of its first resource)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    redefined: tuple[str, ...] = ()  # same key, other resources: stopped, then started anew
    kept: tuple[str, ...] = ()  # same resources (maybe another preferred node or place)


@dataclass(frozen=True)
class LinkDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # same name, another medium, port, speed or link id
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Changes:
    """The answer of `compare`; see the module docstring."""

    changes: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    links: LinkDiff = field(default_factory=LinkDiff)
    groups: GroupDiff = field(default_factory=GroupDiff)
    respawn_added: tuple[Respawn, ...] = ()
    respawn_removed: tuple[Respawn, ...] = ()

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    @property
    def nothing(self) -> bool:
        """Nothing to apply (and nothing refused): a reload would be a no-op."""
        return not self.changes and not self.refusals


def compare(old: Config, new: Config, *, peer_key: int | None = None) -> Changes:
    """Classify a reload from `old` to `new` (both valid, for the same local node).

    `peer_key`: the key slot the peer's latest authentic frame was signed with (the engine
    knows it), None when unknown: then the check that the peer stays audible is skipped."""
    changes: list[str] = []
    refusals: list[str] = []
    warnings: list[str] = []
    refusals += _node_refusals(old, new)
    changes += _timer_changes(old.hacf, new.hacf)
    links = link_diff(old.hacf, new.hacf)
    changes += _link_lines(links)
    if old.peer is not None and new.hacf.links and not links.kept:
        refusals.append("no link stays as it is: until the peer reloads too, the nodes could "
                        "not hear each other and each would take over the other's groups; "
                        "change the links one reload at a time (docs/operations.md)")
    key_changes, key_refusals, key_warnings = _key_changes(old.authkeys, new.authkeys, peer_key,
                                                           old.peer)
    changes += key_changes
    refusals += key_refusals
    warnings += key_warnings
    groups = group_diff(old.groups, new.groups)
    changes += _group_lines(old.groups, new.groups, groups)
    changes += _settings_lines(old.hacf, new.hacf)
    added, removed = _respawn_diff(old.hacf.respawn, new.hacf.respawn)
    changes += [f"respawn: start {r.text}" for r in added]
    changes += [f"respawn: stop {r.text}" for r in removed]
    refusals += [f"{name}: needs a restart ({RESTART_WHY[name]})"
                 for name, read in RESTART_ONLY.items() if read(old.hacf) != read(new.hacf)]
    return Changes(tuple(changes), tuple(refusals), tuple(warnings), links, groups,
                   added, removed)


# ----------------------------------------------------------------------------- nodes


def _node_refusals(old: Config, new: Config) -> list[str]:
    if old.node != new.node:
        return [f"this node is now {new.node} (was {old.node}): needs a restart"]
    if old.peer != new.peer:
        before, after = old.peer or "no peer", new.peer or "no peer"
        return [f"node list: the peer is now {after} (was {before}): needs a restart of "
                "both nodes (the peer's frames and generation are kept per name)"]
    return []


def _timer_changes(old: HaCf, new: HaCf) -> list[str]:
    lines = [f"{name} {format_seconds(getattr(old, name))} -> {format_seconds(getattr(new, name))}"
             for name in TIMERS if getattr(old, name) != getattr(new, name)]
    if old.auto_failback != new.auto_failback:
        lines.append(f"auto_failback {old.auto_failback.value} -> {new.auto_failback.value}")
    return lines


# ----------------------------------------------------------------------------- links


def _link_key(hacf: HaCf, link: Link) -> tuple[object, ...]:
    """Everything that makes a link's frames go where they went: its medium, its port or
    speed, and its id on the wire."""
    match link.medium:
        case Serial():
            return (link.medium, hacf.baud, link.link_id)
        case Mcast():
            return (link.medium, link.link_id)
        case Bcast() | Ucast():
            return (link.medium, hacf.udpport, link.link_id)


def link_diff(old: HaCf, new: HaCf) -> LinkDiff:
    before = {link.name: link for link in old.links}
    after = {link.name: link for link in new.links}
    return LinkDiff(
        added=tuple(n for n in after if n not in before),
        removed=tuple(n for n in before if n not in after),
        changed=tuple(n for n in after if n in before
                      and _link_key(old, before[n]) != _link_key(new, after[n])),
        kept=tuple(n for n in after if n in before
                   and _link_key(old, before[n]) == _link_key(new, after[n])),
    )


def _link_lines(links: LinkDiff) -> list[str]:
    return ([f"link {n}: added" for n in links.added]
            + [f"link {n}: removed" for n in links.removed]
            + [f"link {n}: changed (reopened)" for n in links.changed])


# ----------------------------------------------------------------------------- keys


def _key_changes(old: AuthKeys, new: AuthKeys, peer_key: int | None,
                 peer: str | None) -> tuple[list[str], list[str], list[str]]:
    """authkeys: slots added, removed or changed, and the signing slot (never a key)."""
    changes: list[str] = []
    for index in sorted(set(old.keys) | set(new.keys)):
        a, b = old.keys.get(index), new.keys.get(index)
        if a is None and b is not None:
            changes.append(f"key {index} added ({b.method})")
        elif b is None and a is not None:
            changes.append(f"key {index} removed")
        elif a is not None and b is not None and (a.method, a.key) != (b.method, b.key):
            changes.append(f"key {index} changed ({a.method} -> {b.method})")
    warnings: list[str] = []
    if old.active != new.active:
        changes.append(f"signing with key {new.active} (was {old.active})")
        warnings.append(f"the peer must already accept key {new.active} (have it in its "
                        "authkeys and reloaded) or it hears nothing from this node: "
                        "docs/protocol.md, key changes")
    refusals: list[str] = []
    if peer is not None and peer_key is not None:
        a, b = old.keys.get(peer_key), new.keys.get(peer_key)
        if a is not None and (b is None or (a.method, a.key) != (b.method, b.key)):
            refusals.append(f"{peer} signs its frames with key {peer_key}, which the new "
                            "authkeys no longer accepts as it was: this node would hear "
                            f"nothing from {peer} and take its groups over; keep key "
                            f"{peer_key} until {peer} signs with another "
                            "(docs/protocol.md, key changes)")
    return changes, refusals, warnings


# ----------------------------------------------------------------------------- groups


def group_diff(old: Sequence[Group], new: Sequence[Group]) -> GroupDiff:
    before = {g.key: g for g in old}
    after = {g.key: g for g in new}

    def same(key: str) -> bool:
        return [r.text for r in before[key].resources] == [r.text for r in after[key].resources]

    return GroupDiff(
        added=tuple(k for k in after if k not in before),
        removed=tuple(k for k in before if k not in after),
        redefined=tuple(k for k in after if k in before and not same(k)),
        kept=tuple(k for k in after if k in before and same(k)),
    )


def _group_lines(old: Sequence[Group], new: Sequence[Group], diff: GroupDiff) -> list[str]:
    before = {g.key: g for g in old}
    after = {g.key: g for g in new}
    lines = [f"group {k}: added ({' '.join(r.text for r in after[k].resources)}, preferred "
             f"node {after[k].primary})" for k in diff.added]
    lines += [f"group {k}: removed (stopped first where it runs)" for k in diff.removed]
    lines += [f"group {k}: now {' '.join(r.text for r in after[k].resources)} (stopped where "
              "it runs, then started anew)" for k in diff.redefined]
    for k in (*diff.kept, *diff.redefined):
        if before[k].primary != after[k].primary:
            lines.append(f"group {k}: preferred node {after[k].primary} "
                         f"(was {before[k].primary})")
    kept_order = [k for k in (g.key for g in new) if k in before]
    if kept_order != [k for k in (g.key for g in old) if k in after]:
        lines.append("haresources order changed (the order groups are given up in at "
                     "shutdown)")
    return lines


# ----------------------------------------------------------------------------- the rest


def _settings_lines(old: HaCf, new: HaCf) -> list[str]:
    lines: list[str] = []
    if old.monitoring != new.monitoring:
        lines.append("monitoring settings changed (monitor_interval, monitor_timeout, monitor "
                     "lines, migration_threshold or failure_timeout)")
    if old.fencing != new.fencing:
        before, after = len(old.fencing.devices), len(new.fencing.devices)
        lines.append(f"fencing changed ({before} -> {after} fencing line(s); fence_delay "
                     f"{format_seconds(new.fencing.delay)}, fence_timeout "
                     f"{format_seconds(new.fencing.timeout)}, fence_action "
                     f"{new.fencing.action.value})")
    if old.ping_nodes != new.ping_nodes:
        after_text = ", ".join(" ".join(hosts) for hosts in new.ping_nodes) or "none"
        lines.append(f"ping nodes: {after_text}")
    return lines


def _respawn_diff(old: Sequence[Respawn], new: Sequence[Respawn]
                  ) -> tuple[tuple[Respawn, ...], tuple[Respawn, ...]]:
    """Programs to start and to stop; one that is on both sides keeps running (a line that
    moved is the same program)."""
    remaining = list(old)
    added: list[Respawn] = []
    for r in new:
        if r in remaining:
            remaining.remove(r)
        else:
            added.append(r)
    return tuple(added), tuple(remaining)
