"""Resource negotiation with a heartbeat 3.0.6 peer in haresources mode (issue #14, step 2).

Owns: `R1`, this node's side of heartbeat's "nice_failback" resource protocol (reference
§6.4-§6.7; `auto_failback on|off`), while the peer speaks heartbeat's protocol (foreign.py
says when). Groups are started and stopped through groups.py's `acquire`/`release`; the
messages go out through hbsession.py. Must not import anything doing I/O.

heartbeat names resource *sets* from the sender's side: `local` are the groups whose
haresources line names the sender, `foreign` the others, `all` both. `want` is the set this
node means to hold; what it says it holds (`rsc_hold`) is read from `want`, as heartbeat
sets its bits before its scripts finish.

The rules, as heartbeat applies them between two heartbeat nodes:
- **start-up**: at comms up with the peer alive, send `starting` (STARTING). A `resource`
  reply moves us to RSCRCVD; once the peer says it is stable we take our local groups unless
  it holds them (as its foreign) and become STABLE, saying `resource ... isstable=1`. Both
  starting and neither stable: after RQSTDELAY each takes its local groups.
- the peer's `starting`: answer with what we hold (stable if we are).
- **auto_failback on**: holding the peer's groups after a takeover, once both are stable,
  give them back by a standby of our foreign set (heartbeat's PerformAutoFailback).
- **standby** (`ask_resources`, info me/other/done) both ways: the side going standby stops
  its set and says done; the other then starts the complement and says done. Our request
  unanswered for STANDBY_REPLY is cancelled. `hb_takeover` from the peer is answered with a
  standby of the complementary set (heartbeat's rc.d/hb_takeover); our takeover request is
  an `hb_takeover` to it.
- **shutdown**: `resource rsc_hold=none info=shutdown`, stop everything, `shutdone`; the
  peer's `shutdone`: take everything over at once, no deadtime wait.
- the peer's death is not handled here: foreign.py ends its speech and the native rules take
  every group over (mach_down), fencing first when configured.
- **heal after partition**: the peer, seeing our generation return, gives everything up and
  restarts (reference §3.3); we keep what we hold and take over what its `shutdone` frees,
  then negotiate as at any start of the peer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .events import Action, Log
from .groups import Groups
from .hbsession import Fields, HbSession, field_of
from .params import Params
from .records import Group
from .states import GroupLocal

RQSTDELAY = 10.0  # s: heartbeat's wait for a stable peer before taking local groups
STANDBY_REPLY = 10.0  # s: heartbeat's STANDBY_INIT_TO_MS
STANDBY_LIMIT = 3600.0  # s: heartbeat's HB_STANDBY_RSC_TO_MS
SETS = ("none", "local", "foreign", "all")
CLAIMED = frozenset({GroupLocal.CLAIMING, GroupLocal.STARTING, GroupLocal.HELD,
                     GroupLocal.RESTARTING})


class RState(enum.Enum):
    INIT = "init"
    STARTING = "starting"
    BOTHSTARTING = "bothstarting"
    RSCRCVD = "rscrcvd"
    STABLE = "stable"
    SHUTDOWN = "shutdown"


class Standby(enum.Enum):
    NOT = "not"
    ME = "me"  # we go standby
    OTHER = "other"  # the peer goes standby
    DONE = "done"


@dataclass
class Job:
    """Group starts or stops under way, and what to say when they are all done."""

    indices: frozenset[int]
    acquire: bool
    then: tuple[Fields, ...]  # messages to send once done
    standby: Standby | None = None  # the standby state to move to once done
    log: str | None = None  # the line to log once done


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
        self.peer_holds: frozenset[int] = frozenset()
        self.peer_stable = False
        self.standby = Standby.NOT
        self.standby_until: float | None = None
        self.local_takeover_at: float | None = None
        self.needs_failback = False
        self.jobs: list[Job] = []
        self._stable_before = False  # the peer's stability before our standby request

    # ------------------------------------------------------------------ sets

    def _set(self, name: str | None, sender_is_peer: bool) -> frozenset[int]:
        """heartbeat's set word, said by the peer or by us, as group indices."""
        word = name if name in SETS else "all" if name is None else "none"
        ours = self._local if not sender_is_peer else self._all - self._local
        return {"none": frozenset(), "local": ours, "foreign": self._all - ours,
                "all": self._all}[word]

    def _word(self, indices: set[int] | frozenset[int]) -> str:
        """Our set word for `indices`: local and foreign counted from our side."""
        has_local = bool(indices & self._local)
        has_foreign = bool(indices - self._local)
        return SETS[has_local + 2 * has_foreign]

    # ------------------------------------------------------------------ entering

    def enter(self, groups: Groups, active: bool) -> None:
        """The peer is now heard speaking heartbeat: start from what we hold (native rules
        ran until now). Active already: we are settled (STABLE); else we start up later."""
        self.want = {g.index for g in groups.records if g.state in CLAIMED}
        self.rstate = RState.STABLE if active else RState.INIT
        self.peer_holds, self.peer_stable = frozenset(), False
        self.standby, self.standby_until, self.jobs = Standby.NOT, None, []
        self.needs_failback = bool(self.want - self._local)

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
        said = self._set(field_of(fields, "rsc_hold") or "none", sender_is_peer=True)
        full = field_of(fields, "rtype") == "full"
        self.peer_holds = said if full or not said else self.peer_holds | said
        if self.rstate in (RState.STARTING, RState.BOTHSTARTING):
            self.rstate = RState.RSCRCVD
            self.local_takeover_at = now + RQSTDELAY
        stable = field_of(fields, "isstable")
        if stable == "1" and not self.peer_stable:
            out.append(Log("info", "remote resource transition completed."))
            self.peer_stable = True
            self._resources(self.rstate is RState.STABLE, now, out)
        elif stable == "0":
            self.peer_stable = False
        if self.rstate is RState.RSCRCVD and self.peer_stable:
            self._take_local(now, groups, out)

    def _take_local(self, now: float, groups: Groups, out: list[Action]) -> None:
        """heartbeat's req_our_resources: our local groups, unless the peer holds them."""
        self.rstate = RState.STABLE
        mine = self._local - self.want - self.peer_holds
        if not mine:
            out.append(Log("info", "Local Resource acquisition completed. (none)"))
            self._resources(True, now, out)
            return
        self._start_job(mine, True, groups, now, out,
                        then=(self._resource_fields(True, "req_our_resources()"),))
        self._resources(True, now, out)

    def _on_shutdone(self, now: float, groups: Groups, out: list[Action]) -> None:
        """The peer gave everything up and leaves: take everything over now."""
        self.peer_holds, self.peer_stable = frozenset(), True
        out.append(Log("info", f"Received shutdown notice from '{self._p.peer}'."))
        if self.rstate is RState.SHUTDOWN:
            return
        self.rstate = RState.STABLE
        missing = self._all - self.want
        self.standby, self.standby_until = Standby.NOT, None
        self.needs_failback = self.needs_failback or bool(missing - self._local)
        if missing:
            out.append(Log("info", f"Resources being acquired from {self._p.peer}."))
            self._start_job(missing, True, groups, now, out,
                            then=(self._resource_fields(True, "mach_down"),))

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
            self._resources(False, now, out, "standby")
            self._start_job(give, False, groups, now, out, standby=Standby.DONE,
                            then=((("t", "ask_resources"), ("rsc_hold", which),
                                   ("info", "done")),))
        elif self.standby is Standby.OTHER and info == "done":
            out.append(Log("info", f"standby: acquire [{which}] resources from {peer}"))
            take = self._set(which, sender_is_peer=True) - self.want
            self.peer_holds -= take
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
            self._step_group(g, now, groups, out)
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
        if (self._p.auto_failback and self.needs_failback and self.want - self._local
                and self.refusal() is None):
            self.needs_failback = False
            self.request_standby("foreign", now, out)

    def _step_group(self, g: Group, now: float, groups: Groups, out: list[Action]) -> None:
        if g.index in self.want:
            if g.state is GroupLocal.NONE:
                groups.acquire(g, now, out)
        elif g.state is GroupLocal.HELD:
            groups.release(g, now, out)
        elif g.state is GroupLocal.CLAIMING:
            groups.withdraw(g, now, out)

    def _start_job(self, indices: set[int] | frozenset[int], acquire: bool, groups: Groups,
                   now: float, out: list[Action], *, then: tuple[Fields, ...] = (),
                   standby: Standby | None = None, log: str | None = None) -> None:
        if acquire:
            self.want |= indices
        self.jobs.append(Job(frozenset(indices), acquire, then, standby, log))
        for g in groups.records:
            if g.index in indices:
                self._step_group(g, now, groups, out)

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
        return tuple((n, self._word(self.want) if n == "rsc_hold" else v) for n, v in fields)

    # ------------------------------------------------------------------ shutdown

    def shutting_down(self, now: float, out: list[Action]) -> None:
        """Our graceful stop begins: say we give everything up (groups.py stops them)."""
        if self.rstate is RState.SHUTDOWN:
            return
        self.rstate, self.want, self.jobs = RState.SHUTDOWN, set(), []
        self._resources(False, now, out, "shutdown")

    def shutdown_done(self, now: float, out: list[Action]) -> None:
        """Everything is stopped: the peer may take it all now."""
        self._send((("t", "shutdone"), ("st", "dead")), now, out)

    # ------------------------------------------------------------------ out

    def holds_for_peer(self, index: int) -> bool:
        """Whether the peer holds group `index`, as its `resource` messages say."""
        return index in self.peer_holds

    def _resource_fields(self, stable: bool, info: str | None = None) -> Fields:
        fields: list[tuple[str, str]] = [("t", "resource"), ("rsc_hold", self._word(self.want)),
                                         ("rtype", "full"), ("isstable", "1" if stable else "0")]
        if info is not None:
            fields.append(("info", info))
        return tuple(fields)

    def _resources(self, stable: bool, now: float, out: list[Action],
                   info: str | None = None) -> None:
        self._send(self._resource_fields(stable, info), now, out)

    def _send(self, fields: Fields, now: float, out: list[Action]) -> None:
        self._session.send(fields, now, out)
