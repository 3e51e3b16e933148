"""Resource negotiation with a heartbeat 3.0.6 peer in haresources mode (issue #14, step 2).

Owns: `R1`, this node's side of heartbeat's "nice_failback" resource protocol (reference
§6.4-§6.7; `auto_failback on|off`), while the peer speaks heartbeat's protocol (foreign.py
says when). Groups are started and stopped through groups.py's `acquire`/`release`; the
messages go out through hbsession.py. Must not import anything doing I/O.

heartbeat names resource *sets* from the sender's side: `local` are the groups whose
haresources line names the sender, `foreign` the others, `all` both. What a node says it holds
(`rsc_hold`) is its two hold bits, which heartbeat sets and clears on events (a takeover sets
both, a standby clears its set, the taker sets the complement), not from the groups it runs:
a node without local groups that took everything over says `all`. `bits` are ours, kept by the
same rules so that the peer's audit ("No one owns foreign resources!") finds what it expects;
`want` is the groups this node means to run.

The rules are heartbeat's between two heartbeat nodes (docs/core.md §heartbeat peers has
them in words): start-up (`starting`, `resource ... isstable`, RQSTDELAY), the peer's
`starting`, auto failback, standby both ways (`ask_resources` me/other/done; `hb_takeover`
is answered with a standby of the complementary set), shutdown (`resource rsc_hold=none
info=shutdown`, then `shutdone`; the peer's `shutdone` is a takeover at once), and heal after
partition (the peer restarts; we keep what we hold). The peer's death is foreign.py's: the
native rules take every group over (mach_down), fencing first when configured.
"""

from __future__ import annotations

from .events import Action, Log
from .groups import Groups
from .hbgroups import toward
from .hbsession import Fields, HbSession, field_of
from .params import Params
from .r1state import (
    ALL,
    CLAIMED,
    FOREIGN,
    LOCAL,
    RQSTDELAY,
    SETS,
    STANDBY_LIMIT,
    STANDBY_REPLY,
    TAKER_BITS,
    Job,
    RState,
    Standby,
    bits_of,
)
from .states import GroupLocal


class R1:
    """See the module docstring."""

    def __init__(self, params: Params, session: HbSession) -> None:
        self._p = params
        self._session = session
        self._local = frozenset(i for i, g in enumerate(params.groups)
                                if g.primary == params.node)
        self._all = frozenset(range(len(params.groups)))
        self.rstate = RState.INIT
        self.want: set[int] = set()
        self.bits = 0  # what we say we hold
        self.peer_bits = 0  # what the peer says it holds, its side
        self.peer_stable = False
        self.standby = Standby.NOT
        self.standby_until: float | None = None
        self.local_takeover_at: float | None = None
        self.needs_failback = False  # we took the peer's groups over (heartbeat's flag)
        self.failback_due = False  # the peer just became stable: time to give them back
        self.jobs: list[Job] = []
        self._stable_before = False  # the peer's stability before our standby request
        self._both_asked = -STANDBY_REPLY  # when we last acted on groups both hold

    # ------------------------------------------------------------------ sets

    def _groups_of(self, bits: int, sender_is_peer: bool) -> frozenset[int]:
        """The groups of heartbeat's hold bits, said by the peer or by us."""
        local = self._all - self._local if sender_is_peer else self._local
        return (local if bits & LOCAL else frozenset()) | (
            self._all - local if bits & FOREIGN else frozenset())

    def _set(self, name: str | None, sender_is_peer: bool) -> frozenset[int]:
        """heartbeat's set word, said by the peer or by us, as group indices."""
        return self._groups_of(bits_of(name), sender_is_peer)

    @property
    def peer_holds(self) -> frozenset[int]:
        return self._groups_of(self.peer_bits, sender_is_peer=True)

    # ------------------------------------------------------------------ entering

    def enter(self, groups: Groups, stable: bool) -> None:
        """The peer is now heard speaking heartbeat: start from what we hold (native rules
        ran until now). `stable`: we are settled (STABLE), and the peer, starting itself,
        will ask us; else we ask it at comms up (INIT: `comms_up`)."""
        self.want = {g.index for g in groups.records if g.state in CLAIMED}
        # heartbeat's bits after the takeovers the native rules did: a class counts as held
        # when all of it is (an empty one vacuously), if anything is held at all.
        self.bits = sum(bit for bit, which in ((LOCAL, self._local),
                                               (FOREIGN, self._all - self._local))
                        if which <= self.want) if self.want else 0
        self.rstate = RState.STABLE if stable else RState.INIT
        self.peer_bits, self.peer_stable = 0, False
        self.standby, self.standby_until, self.jobs = Standby.NOT, None, []
        self.needs_failback = bool(self.bits & FOREIGN)

    def comms_up(self, now: float, out: list[Action]) -> None:
        """Our comms came up with the peer speaking heartbeat: ask what it holds."""
        if self.rstate is RState.INIT:
            self._send((("t", "starting"),), now, out)
            self.rstate = RState.STARTING

    # ------------------------------------------------------------------ messages

    def on_message(self, kind: str, fields: Fields, now: float, groups: Groups,
                   out: list[Action]) -> None:
        """A new message of the peer's (hbsession.py accepted it)."""
        match kind:
            case "starting":
                self._on_starting(now, out)
            case "resource":
                self._on_resource(fields, now, groups, out)
            case "ask_resources":
                self._on_ask(fields, now, groups, out)
            case "hb_takeover":
                which = {"local": "foreign", "foreign": "local"}.get(
                    field_of(fields, "rsc_hold") or "all", "all")
                self.request_standby(which, now, out)
            case "shutdone":
                self._on_shutdone(now, groups, out)

    def _on_starting(self, now: float, out: list[Action]) -> None:
        if self.rstate is RState.STARTING:
            self.rstate = RState.BOTHSTARTING
        elif self.rstate is RState.INIT:
            return  # we answer with our own `starting` at comms up
        self.peer_stable = False
        self._resources(self.rstate is RState.STABLE, now, out)

    def _on_resource(self, fields: Fields, now: float, groups: Groups,
                     out: list[Action]) -> None:
        said = bits_of(field_of(fields, "rsc_hold") or "none")
        full = field_of(fields, "rtype") == "full"
        self.peer_bits = said if full or not said else self.peer_bits | said
        if self.rstate in (RState.STARTING, RState.BOTHSTARTING):
            self.rstate = RState.RSCRCVD
            self.local_takeover_at = now + RQSTDELAY
        stable = field_of(fields, "isstable")
        if stable == "1" and not self.peer_stable:
            out.append(Log("info", "remote resource transition completed."))
            self.peer_stable = self.failback_due = True
            if self.rstate is not RState.RSCRCVD:
                # In RSCRCVD, `_take_local` below says isstable=1 at once. heartbeat would
                # say isstable=0 first; reordered across the links, the peer could take that
                # one last, think us unstable and never fail back (sim_r1 seeds 375, 483).
                self._resources(self.rstate is RState.STABLE, now, out)
        elif stable == "0":
            self.peer_stable = False
        if self.rstate is RState.RSCRCVD and self.peer_stable:
            self._take_local(now, groups, out)
        elif self._orphaned():
            # heartbeat's audit only logs "No one owns our local resources!"; a start-up
            # cut short by the peer's restart leaves them so, and nobody else will take them.
            out.append(Log("warning", "No one owns our local resources: acquiring them"))
            self._take_local(now, groups, out)

    def _orphaned(self) -> bool:
        """Both stable, nothing moving, and neither side says it holds our local groups."""
        return (self.rstate is RState.STABLE and self.peer_stable and not self.jobs
                and self.standby is Standby.NOT and bool(self._local)
                and not (self.peer_bits & FOREIGN or self.bits & LOCAL))

    def _take_local(self, now: float, groups: Groups, out: list[Action]) -> None:
        """heartbeat's req_our_resources: our local groups, unless the peer holds them (as
        its foreign ones) or we already do."""
        self.rstate = RState.STABLE
        if self.peer_bits & FOREIGN or self.bits & LOCAL:
            out.append(Log("info", "Local Resource acquisition completed. (none)"))
            self._resources(True, now, out)
            return
        self.bits |= LOCAL
        self._start_job(self._local - self.want, True, groups, now, out,
                        then=(self._resource_fields(True, "req_our_resources()"),),
                        log="Local Resource acquisition completed.")
        self._resources(True, now, out)

    def _on_shutdone(self, now: float, groups: Groups, out: list[Action]) -> None:
        """The peer gave everything up and leaves: take everything over now."""
        self.peer_bits, self.peer_stable = 0, True
        out.append(Log("info", f"Received shutdown notice from '{self._p.peer}'."))
        if self.rstate is RState.SHUTDOWN:
            return
        self.rstate, self.bits = RState.STABLE, ALL
        self.standby, self.standby_until = Standby.NOT, None
        self.needs_failback = True
        out.append(Log("info", f"Resources being acquired from {self._p.peer}."))
        self._start_job(self._all - self.want, True, groups, now, out,
                        then=(self._resource_fields(True, "mach_down"),),
                        log=f"mach_down takeover complete for node {self._p.peer}.")

    # ------------------------------------------------------------------ standby

    def request_standby(self, which: str, now: float, out: list[Action]) -> str | None:
        """Our standby (`twinbeat standby`, the peer's hb_takeover, or auto failback):
        ask_resources info=me; the refusal, or None."""
        refusal = self.refusal()
        if refusal is not None:
            out.append(Log("warning", f"standby [{which}] not started: {refusal}"))
            return refusal
        out.append(Log("info", f"Going standby [{which}]."))
        self._send((("t", "ask_resources"), ("rsc_hold", which), ("info", "me")), now, out)
        self.standby, self.standby_until = Standby.ME, now + STANDBY_REPLY
        self._stable_before, self.peer_stable = self.peer_stable, False
        return None

    def request_takeover(self, which: str, now: float, out: list[Action]) -> str | None:
        """`twinbeat takeover`: ask the peer (hb_takeover) to go standby for the rest."""
        refusal = self.refusal()
        if refusal is None:
            self._send((("t", "hb_takeover"), ("rsc_hold", which)), now, out)
        return refusal

    def refusal(self) -> str | None:
        """Why a standby or takeover cannot start now (heartbeat ignores it then), or None."""
        if self.rstate is not RState.STABLE or self.jobs:
            return "local resources in flux"
        if not self.peer_stable or self.standby is not Standby.NOT:
            return "the other side is in flux"
        return None

    def _on_ask(self, fields: Fields, now: float, groups: Groups, out: list[Action]) -> None:
        info = field_of(fields, "info") or ""
        which = field_of(fields, "rsc_hold") or "all"
        if self.rstate is RState.SHUTDOWN:
            return
        peer = self._p.peer
        if self.standby is Standby.NOT and info == "me":
            if not self.peer_stable or self.rstate is not RState.STABLE or self.jobs:
                why = "Other side" if not self.peer_stable else "local resources"
                out.append(Log("warning", f"standby message [{info}] from {peer} ignored.  "
                                          f"{why} in flux."))
                return
            out.append(Log("info", f"{peer} wants to go standby [{which}]"))
            self.peer_stable = False
            self.standby, self.standby_until = Standby.OTHER, now + STANDBY_LIMIT
            self._send((("t", "ask_resources"), ("rsc_hold", which), ("info", "other")),
                       now, out)
        elif self.standby is Standby.ME and info == "other":
            out.append(Log("info", f"standby: {peer} can take our {which} resources"))
            self.standby_until = now + STANDBY_LIMIT
            give = self.want & self._set(which, sender_is_peer=False)
            self.want -= give
            self.bits &= ~bits_of(which)
            self._resources(False, now, out, "standby")
            self._start_job(give, False, groups, now, out, standby=Standby.DONE,
                            then=((("t", "ask_resources"), ("rsc_hold", which),
                                   ("info", "done")),))
        elif self.standby is Standby.OTHER and info == "done":
            out.append(Log("info", f"standby: acquire [{which}] resources from {peer}"))
            take = self._set(which, sender_is_peer=True) - self.want
            self.peer_bits &= ~bits_of(which)
            self.bits |= TAKER_BITS.get(which, ALL)
            self._start_job(take, True, groups, now, out, standby=Standby.NOT, then=(
                (("t", "ask_resources"), ("rsc_hold", which), ("info", "done")),
                self._resource_fields(True)),
                log=f"Standby resource acquisition done [{which}].")
            self.standby = Standby.DONE
        elif self.standby is Standby.DONE and info == "done":
            out.append(Log("info", f"Other node completed standby takeover of {which} "
                                   "resources."))
            self.standby, self.standby_until = Standby.NOT, None
            self._resources(True, now, out)
        else:
            out.append(Log("warning", f"Ignored standby message '{info}' from {peer} in "
                                      f"state {self.standby.value}"))

    # ------------------------------------------------------------------ settling

    def deadline(self) -> float | None:
        times = [self.standby_until]
        if self.rstate is RState.RSCRCVD:
            times.append(self.local_takeover_at)
        return min((t for t in times if t is not None), default=None)

    def step(self, now: float, groups: Groups, out: list[Action]) -> None:
        """Move the groups towards `want`; finish jobs; timers; auto failback."""
        for g in groups.records:
            if not g.held_back:  # a reload's new group waits (regroup.py)
                toward(groups, g, g.index in self.want, now, out)
        self._finish_jobs(now, groups, out)
        if self.rstate is RState.RSCRCVD and self.local_takeover_at is not None and (
                now >= self.local_takeover_at):
            out.append(Log("info", "local resource transition completed."))
            self._take_local(now, groups, out)
        if self.standby_until is not None and now >= self.standby_until:
            if self.standby is Standby.ME:
                out.append(Log("warning", "No reply to standby request.  Standby request "
                                          "cancelled."))
                self.peer_stable = self._stable_before
            self.standby, self.standby_until = Standby.NOT, None
        self._auto_failback(now, out)
        self._both_hold(now, out)

    def _both_hold(self, now: float, out: list[Action]) -> None:
        """Both sides say they hold the same groups (both took over in a partition, or both
        started in one): heartbeat only logs it (its audit), twinbeat sorts it out once the
        negotiation is quiet, as between twinbeat nodes: the preferred node keeps its own.
        Ours it holds too: `hb_takeover local` (it stands by for them); its own we hold
        too: our standby of `foreign`. At most once per STANDBY_REPLY."""
        both = self.want & self.peer_holds
        if not both or self.refusal() is not None or now < self._both_asked + STANDBY_REPLY:
            return
        self._both_asked = now
        keys = ", ".join(self._p.groups[i].key for i in sorted(both))
        out.append(Log("warning", f"Both nodes hold {keys}: the preferred node keeps each"))
        if both - self._local:
            self.request_standby("foreign", now, out)
        else:
            self.request_takeover("local", now, out)

    def _auto_failback(self, now: float, out: list[Action]) -> None:
        """heartbeat's PerformAutoFailback, due once the peer says it became stable: give
        back the groups taken over (our foreign ones) by a standby, as soon as both sides
        are stable; nothing to give back ends it."""
        if not self.failback_due:
            return
        if not (self._p.auto_failback and self.needs_failback and self.bits & FOREIGN):
            self.failback_due = self.needs_failback = False
        elif self.refusal() is None:
            self.failback_due = self.needs_failback = False
            self.request_standby("foreign", now, out)

    def _start_job(self, indices: set[int] | frozenset[int], acquire: bool, groups: Groups,
                   now: float, out: list[Action], *, then: tuple[Fields, ...] = (),
                   standby: Standby | None = None, log: str | None = None) -> None:
        if acquire:
            self.want |= indices
        self.jobs.append(Job(frozenset(indices), acquire, then, standby, log))
        for g in groups.records:
            if g.index in indices and not g.held_back:
                toward(groups, g, g.index in self.want, now, out)

    def _finish_jobs(self, now: float, groups: Groups, out: list[Action]) -> None:
        busy = (GroupLocal.CLAIMING, GroupLocal.STARTING, GroupLocal.STOPPING,
                GroupLocal.RESTARTING, GroupLocal.GIVING_UP)
        for job in list(self.jobs):
            if any(groups.records[i].state in busy for i in job.indices):
                continue
            self.jobs.remove(job)
            if job.log is not None:
                out.append(Log("info", job.log))
            if job.standby is not None:
                self.standby = job.standby
                if job.standby is Standby.NOT:
                    self.standby_until = None
            for fields in job.then:
                self._send(self._refreshed(fields), now, out)

    def _refreshed(self, fields: Fields) -> Fields:
        """A `resource` message says what we hold when it is sent, not when planned."""
        if field_of(fields, "t") != "resource":
            return fields
        return tuple((n, SETS[self.bits] if n == "rsc_hold" else v) for n, v in fields)

    # ------------------------------------------------------------------ shutdown

    def shutting_down(self, now: float, out: list[Action]) -> None:
        """Our graceful stop begins: say we give everything up (groups.py stops them)."""
        if self.rstate is RState.SHUTDOWN:
            return
        self.rstate, self.want, self.jobs, self.bits = RState.SHUTDOWN, set(), [], 0
        self._resources(False, now, out, "shutdown")

    def shutdown_done(self, now: float, out: list[Action]) -> None:
        """Everything is stopped: the peer may take it all now."""
        self._send((("t", "shutdone"), ("st", "dead")), now, out)

    # ------------------------------------------------------------------ out

    def _resource_fields(self, stable: bool, info: str | None = None) -> Fields:
        fields: list[tuple[str, str]] = [("t", "resource"), ("rsc_hold", SETS[self.bits]),
                                         ("rtype", "full"), ("isstable", "1" if stable else "0")]
        if info is not None:
            fields.append(("info", info))
        return tuple(fields)

    def _resources(self, stable: bool, now: float, out: list[Action],
                   info: str | None = None) -> None:
        self._send(self._resource_fields(stable, info), now, out)

    def _send(self, fields: Fields, now: float, out: list[Action]) -> None:
        self._session.send(fields, now, out)

