"""A reload's new haresources: what it means for the groups running here (docs/core.md, Reload).

Owns the policy of `Reconfigured` for groups; the records themselves stay groups.py's, and
every state change still goes through `Groups.move`. A group is known by its key (the text
of its first resource), so a reload matches the new list against the old one by key:

- **kept** (same resources): its record carries over untouched — state, fail count, claim,
  standby flags — only its place in the list (its byte on the wire) and perhaps its
  preferred node change. A group that runs keeps running; nothing is stopped or started.
- **added**: a new record, NONE; the usual rules pick its holder. While a removed group is
  still being stopped here it is *held back*: advertised STOPPING and never claimed, so that
  neither node starts it while something it may share (an address, a disk) is still up.
- **removed**: a group held here is released (StopMonitoring, StopGroup) at once; one busy
  (starting, restarting, stopping) is released when its result comes. Until it is stopped it
  stays here as *retiring*: off the wire (neither node's new configuration has it), shown in
  the status, and its results are applied as usual. A group not running is dropped at once.
  Stopped, it is forgotten, and a late report about it (a check already under way) is
  ignored. A removed group whose stop failed stays CRITICAL here, like any failed stop (the
  shutdown retries it once), and holds no new group back.
- **redefined** (same key, other resources): stopped like a removed group, then it takes its
  new definition and starts anew wherever the rules say. One not running takes it at once
  (its fail count, which named the old resources, is forgotten).

Stopping and starting go through the driver's `StopGroup` and `StartGroup` as always: the
driver stops what it started (the old resources) and starts the new definition.

Safety while the two nodes' files differ: a peer whose fingerprint differs is compared with
nothing, so neither node acquires anything until both have reloaded (membership.py), and
groups already held stay where they are. Must import nothing doing I/O, nor node.py.
"""

from __future__ import annotations

from .events import Action, Log
from .groups import Groups
from .params import GroupSpec, Params
from .records import FailCount, Group
from .states import GroupLocal, GroupTrigger

# A group in one of these is not running here: a reload may drop or redefine it at once.
IDLE = (GroupLocal.NONE, GroupLocal.FAILED, GroupLocal.GIVEN_UP)


def regroup(groups: Groups, params: Params, now: float, out: list[Action]) -> None:
    """Apply `params.groups` to the records (the module docstring's rules)."""
    old = {g.spec.key: g for g in groups.records}
    records = []
    fresh = []  # added, or redefined at once: they wait for what is still to be stopped
    for index, spec in enumerate(params.groups):
        g = old.pop(spec.key, None) or groups.retiring.pop(spec.key, None)
        if g is None:
            g = Group(spec=spec, index=index, changed_at=now)
            fresh.append(g)
            out.append(Log("info", f"Resource group {spec.key}: added by the reload"))
        else:
            g.index = index
            if _carry_over(groups, g, spec, now, out):
                fresh.append(g)
        records.append(g)
    groups.adopt(params, records)
    for g in old.values():
        _retire(groups, g, now, out)
    _hold(groups, fresh, now, out)


def after_result(groups: Groups, key: str, now: float, out: list[Action]) -> None:
    """An agent's result (start, stop, restart) was applied: a removed or redefined group may
    be released, dropped or take its new definition now."""
    if groups.retired(key):
        return
    g = groups.get(key)
    if key in groups.retiring:
        _step_retiring(groups, g, now, out)
    elif g.pending is not None:
        if g.state is GroupLocal.HELD:
            groups.release(g, now, out, " (redefined by the reload)")
        elif g.state in IDLE:
            _redefine(groups, g, g.pending, now, out)
            _hold(groups, [g], now, out)
            return
    _hold(groups, [], now, out)


# ----------------------------------------------------------------------------- the rules


def _carry_over(groups: Groups, g: Group, spec: GroupSpec, now: float,
                out: list[Action]) -> bool:
    """A group the reload keeps: True if it took a new definition at once (it is fresh)."""
    if spec.resources == (g.pending or g.spec).resources:
        if g.pending is not None:
            g.pending = spec  # still to be redefined; its new preferred node comes with it
        else:
            g.spec = spec
        return False
    if g.state in IDLE or g.state is GroupLocal.CLAIMING:
        _redefine(groups, g, spec, now, out)
        return True
    g.pending = spec
    if g.state is GroupLocal.HELD:
        groups.release(g, now, out, " (redefined by the reload: started anew once stopped)")
    else:
        out.append(Log("info", f"Resource group {g.spec.key} is {g.state.value}: its new "
                               "definition applies once it is stopped here"))
    return False


def _redefine(groups: Groups, g: Group, spec: GroupSpec, now: float, out: list[Action]) -> None:
    """Not running here: take the new definition now (the fail count named old resources)."""
    g.spec, g.pending = spec, None
    g.fails = FailCount()
    if g.state is GroupLocal.GIVEN_UP:
        groups.move(g, GroupTrigger.FORGIVEN, now, out)
    text = " ".join(spec.resources) or spec.key
    out.append(Log("info", f"Resource group {spec.key} is now: {text}"))


def _retire(groups: Groups, g: Group, now: float, out: list[Action]) -> None:
    g.index = -1  # off the wire
    g.pending = None
    g.held_back = False
    if g.state is GroupLocal.CLAIMING:
        groups.move(g, GroupTrigger.WITHDRAW, now, out)
    groups.retiring[g.spec.key] = g
    if g.state is GroupLocal.HELD:
        groups.release(g, now, out, " (removed by the reload)")
    elif g.state not in IDLE:
        out.append(Log("info", f"Resource group {g.spec.key} was removed by the reload while "
                               f"{g.state.value}: it is stopped once that is done"))
    _step_retiring(groups, g, now, out)


def _step_retiring(groups: Groups, g: Group, now: float, out: list[Action]) -> None:
    key = g.spec.key
    if g.state is GroupLocal.HELD:
        groups.release(g, now, out, " (removed by the reload)")
    elif g.state in IDLE:
        del groups.retiring[key]
        groups.gone.add(key)
        out.append(Log("info", f"Resource group {key} removed from the configuration"))


def _stopping(groups: Groups) -> bool:
    """Something a reload removed or redefined is still being stopped here. A CRITICAL one
    (its stop failed) waits for an admin, like any failed stop, and holds nothing back: the
    log has said so loudly, and the other groups must not wait for ever."""
    return any(g.state is not GroupLocal.CRITICAL for g in groups.retiring.values()) or any(
        g.pending is not None and g.state is not GroupLocal.CRITICAL for g in groups.records)


def _hold(groups: Groups, fresh: list[Group], now: float, out: list[Action]) -> None:
    """Fresh groups wait while something is still to be stopped; once nothing is, every
    group held back may start."""
    if _stopping(groups):
        for g in fresh:
            if g.state is GroupLocal.CLAIMING:
                groups.move(g, GroupTrigger.WITHDRAW, now, out)
            g.held_back = True
            out.append(Log("info", f"Resource group {g.spec.key} waits until what the reload "
                                   "removed or redefined is stopped here"))
        return
    for g in groups.records:
        if g.held_back:
            g.held_back = False
            out.append(Log("info", f"Resource group {g.spec.key} may start now"))
