"""A model of a heartbeat 3.0.6 node in haresources mode, for the mixed-cluster simulator.

Written from heartbeat's sources as docs/core.md §heartbeat peers and the reference (§3, §6)
describe them, independently of twinbeat's core/r1.py, so that the simulator checks the two
against each other: `HbModel` is prime running heartbeat with `auto_failback on|off`. It
keeps heartbeat's resource states, hold bits, stable flags and standby states, handles its
own messages as heartbeat does (they loop back in-process), runs resource work one job at a
time (heartbeat's one resource child), tracks the peer's sequence numbers (gaps are asked for
again; our messages are kept for the peer's requests), and follows heartbeat's rules for a
dead peer, a restarted one and one returning after a partition (give everything up, then
restart). The simulator (sim_r1.py) owns time, the network and the agents' durations: the
model asks for them through its `io` (send, start/stop a group, schedule a timer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

SETS = ("none", "local", "foreign", "all")
LOCAL, FOREIGN, ALL = 1, 2, 3
RQSTDELAY = 10.0
STANDBY_REPLY = 10.0
Fields = list[tuple[str, str]]


class ModelIO(Protocol):
    def send(self, fields: Fields) -> None: ...
    def run_group(self, index: int, start: bool, done: Callable[[], None]) -> None: ...
    def later(self, delay: float, what: str) -> None: ...
    def log(self, text: str) -> None: ...


def bits(word: str | None) -> int:
    return ALL if word is None else SETS.index(word) if word in SETS else 0


@dataclass
class Job:
    ops: list[tuple[int, bool]]  # (group, start?) in order
    then: Callable[[], None]


@dataclass
class HbModel:
    name: str
    peer: str
    primaries: list[str]  # per group
    keepalive: float
    deadtime: float
    initdead: float
    auto_failback: bool
    io: ModelIO
    generation: int = 0x6B060000
    running: set[int] = field(default_factory=set)
    up: bool = False

    # -------------------------------------------------------------- life

    def start(self, now: float) -> None:
        self.generation += 1
        self.up, self.seq, self.history = True, 0, {}
        self.comm_up, self.started_at = False, now
        self.rstate, self.i_hold, self.other_holds, self.other_stable = "init", 0, 0, False
        self.standby, self.standby_until = "not", None
        self.local_takeover_at: float | None = None
        self.needs_failback, self.shutting_down, self.failback_due = False, False, False
        self.jobs: list[Job] = []
        self.busy = False
        self.peer_state = "init"  # init | up | dead
        self.peer_heard: float | None = None
        self.peer_gen, self.peer_seq, self.missing = 0, None, set()
        self.peer_status_seq = 0
        self.anypackets = False
        self.status(now)
        self.io.later(self.keepalive, "beat")
        self.io.later(0.25, "poll")

    def power_off(self) -> None:
        """The machine loses power: nothing runs any more, nothing is said."""
        self.up = False
        self.running.clear()

    # -------------------------------------------------------------- out

    def send(self, fields: Fields, now: float) -> None:
        kind = fields[0][1]
        out = [*fields, ("src", self.name)]
        if not kind.startswith("NS_"):
            self.seq += 1
            out.append(("seq", f"{self.seq:x}"))
        out += [("hg", f"{self.generation:x}"), ("ts", f"{int(now) + 1:x}"), ("ttl", "3")]
        if not kind.startswith("NS_"):
            self.history[self.seq] = out
        self.io.send(out)
        if kind in ("resource", "ask_resources", "shutdone"):
            self.own(kind, dict(fields), now)  # heartbeat handles its own messages too

    def status(self, now: float) -> None:
        self.send([("t", "status"), ("st", "active" if self.comm_up else "up"),
                   ("dt", f"{int(self.deadtime * 1000):x}"), ("protocol", "1")], now)

    def resources(self, stable: bool, now: float, info: str | None = None) -> None:
        f = [("t", "resource"), ("rsc_hold", SETS[self.i_hold]), ("rtype", "full"),
             ("isstable", "1" if stable else "0")]
        self.send(f + ([("info", info)] if info else []), now)

    # -------------------------------------------------------------- timers

    def on_timer(self, what: str, now: float) -> None:
        if not self.up:
            return
        if what == "beat":
            self.status(now)
            self.io.later(self.keepalive, "beat")
        elif what == "poll":
            self.poll(now)
            self.io.later(0.25, "poll")
        elif what == "restart":
            self.giveup(now, restart=True)
        elif what == "jobs":
            self.next_job()

    def poll(self, now: float) -> None:
        if not self.comm_up and (self.peer_state == "up" or now >= self.started_at
                                 + self.initdead):
            if self.peer_state != "up":
                self.peer_dead(now)
            self.comm_up = True
            self.status(now)
            self.send([("t", "starting")], now)
            if self.rstate == "init":
                self.rstate = "starting"
        elif self.peer_state == "up" and self.peer_heard is not None and (
                now - self.peer_heard > self.deadtime):
            self.peer_dead(now)
        if self.rstate == "rscrcvd" and self.local_takeover_at and now > self.local_takeover_at:
            self.rstate = "stable"
            self.req_our(False, now)
            self.resources(True, now)
        if self.standby_until is not None and now > self.standby_until:
            self.standby, self.standby_until = "not", None
        if self.missing:
            for s in sorted(self.missing)[:50]:
                self.send([("t", "NS_rexmit"), ("dest", self.peer), ("firstseq", str(s)),
                           ("lastseq", str(s))], now)
        if self.failback_due:  # PerformAutoFailback, called or retried (it clears itself)
            self.perform_auto_failback(now)

    # -------------------------------------------------------------- the peer

    def peer_dead(self, now: float) -> None:
        self.peer_state = "dead"
        self.peer_seq, self.missing = None, set()
        self.io.log(f"{self.name}: node {self.peer}: is dead")
        if self.standby != "not":
            self.standby, self.standby_until = "not", None
        if self.shutting_down:
            return
        self.needs_failback = True
        if self.anypackets and self.other_holds == 0:
            if self.i_hold == ALL:
                self.other_stable = True
                return
            if not self.i_hold & LOCAL:
                self.req_our(True, now)
            if not self.i_hold & FOREIGN:
                self.takeover(now)
        else:
            self.takeover(now)

    def takeover(self, now: float) -> None:
        if self.shutting_down:
            return
        self.i_hold |= FOREIGN
        self.other_holds, self.other_stable = 0, True
        theirs = [i for i, p in enumerate(self.primaries) if p != self.name]
        self.queue(theirs, True, lambda: self.send(
            [("t", "resource"), ("rsc_hold", "foreign"), ("info", "mach_down")], now))
        self.req_our(True, now)

    def receive(self, msg: dict[str, str], fields: Fields, now: float) -> None:
        """A verified message from the peer (the simulator decoded it)."""
        if not self.up or msg.get("src") != self.peer:
            return
        kind = msg.get("t", "")
        if kind.startswith("NS_"):
            if msg.get("dest") in (None, self.name):
                self.nosequence(kind, msg, now)
            return
        if not self.track(kind, msg, now) or msg.get("dest") not in (None, self.name):
            return
        self.dispatch(kind, msg, now)

    def dispatch(self, kind: str, msg: dict[str, str], now: float) -> None:
        if kind == "status":
            self.peer_heard = now
            if self.peer_state != "up":
                self.peer_state, self.anypackets = "up", True
        elif kind in ("starting", "resource", "shutdone"):
            self.process(kind, msg, now, own=False)
        elif kind == "ask_resources":
            self.ask(msg, now, own=False)
        elif kind == "hb_takeover":
            which = {"local": "foreign", "foreign": "local"}.get(msg.get("rsc_hold", ""), "all")
            self.hb_standby(which, now)
        elif kind == "reqnodes":
            self.send([("t", "repnodes"), ("dest", self.peer),
                       ("nodelist", f"{self.name} {self.peer} "), ("delnodelist", " ")], now)

    def track(self, kind: str, msg: dict[str, str], now: float) -> bool:
        """heartbeat's should_drop_message, enough of it: generations, order, gaps."""
        gen, seq = int(msg.get("hg", "0"), 16), int(msg.get("seq", "0"), 16)
        if seq <= 0 or gen < self.peer_gen:
            return False
        if kind == "status" and gen == self.peer_gen and self.peer_state == "dead" and (
                seq > self.peer_status_seq):
            self.io.log(f"{self.name}: Cluster node {self.peer} returning after partition.")
            self.io.later(2.0, "restart")
        if kind == "status" and gen > self.peer_gen:  # "Heartbeat restart on node"
            self.peer_gen, self.peer_seq, self.missing = gen, None, set()
            self.peer_status_seq = 0
        if kind == "status":
            self.peer_status_seq = max(self.peer_status_seq, seq)
        if self.peer_seq is None or seq == self.peer_seq + 1:
            self.peer_seq = seq
            return True
        if seq > self.peer_seq:
            self.missing |= set(range(self.peer_seq + 1, seq)) if seq - self.peer_seq < 250 \
                else set()
            self.peer_seq = seq
            return True
        if seq in self.missing:
            self.missing.discard(seq)
            return True
        return False

    def nosequence(self, kind: str, msg: dict[str, str], now: float) -> None:
        if kind == "NS_rexmit":
            first, last = int(msg.get("firstseq", "0")), int(msg.get("lastseq", "0"))
            for s in range(first, min(last, first + 49) + 1):
                if s in self.history:
                    self.io.send(self.history[s])
                else:
                    self.send([("t", "NS_nak_rexmit"), ("firstseq", f"{s:x}"),
                               ("dest", self.peer), ("info", "seqno not found")], now)
        elif kind == "NS_nak_rexmit":
            self.missing.discard(int(msg.get("firstseq", "0"), 16))

    # -------------------------------------------------------------- process_resources

    def own(self, kind: str, msg: dict[str, str], now: float) -> None:
        if kind == "ask_resources":
            self.ask(msg, now, own=True)
        else:
            self.process(kind, msg, now, own=True)

    def process(self, kind: str, msg: dict[str, str], now: float, *, own: bool) -> None:
        """heartbeat's process_resources."""
        newstate: str | None = self.rstate
        if kind == "starting" and not own:
            newstate = self.on_starting(now)
        elif kind == "resource":
            newstate = self.on_resource(msg, now, own=own)
        elif kind == "shutdone" and not own:
            self.on_shutdone(now)
        if newstate is None:
            return
        self.rstate = newstate
        if self.rstate == "rscrcvd" and self.local_takeover_at is None:
            self.local_takeover_at = now + RQSTDELAY

    def on_starting(self, now: float) -> str | None:
        newstate = self.rstate
        if self.rstate == "starting":
            newstate = "bothstarting"
        elif self.rstate not in ("rscrcvd", "stable", "shutdown"):
            return None
        self.other_stable = False
        self.resources(self.rstate == "stable", now)
        return newstate

    def on_resource(self, msg: dict[str, str], now: float, *, own: bool) -> str | None:
        n, full = bits(msg.get("rsc_hold")), msg.get("rtype") == "full"
        newstate = self.rstate
        if self.rstate in ("starting", "bothstarting"):
            newstate = "rscrcvd"
        elif self.rstate not in ("rscrcvd", "stable", "shutdown"):
            return None
        if own:
            self.i_hold = n if full or n == 0 else n | self.i_hold
            if msg.get("info") == "mach_down":
                self.i_hold |= FOREIGN
                self.needs_failback = self.other_stable = True
            return "shutdown" if msg.get("info") == "shutdown" else newstate
        self.other_holds = n if full or n == 0 else n | self.other_holds
        stable = msg.get("isstable")
        if stable == "1" and not self.other_stable:
            self.other_stable = self.failback_due = True
            self.resources(self.rstate == "stable", now)
        elif stable == "0":
            self.other_stable = False
        if newstate not in ("stable", "shutdown") and self.other_stable:
            self.rstate = newstate = "stable"
            self.req_our(False, now)
            self.resources(True, now)
            self.failback_due = True
        return newstate

    def on_shutdone(self, now: float) -> None:
        self.other_stable, self.other_holds = True, 0
        if self.i_hold != ALL and not self.shutting_down:
            rtype = {FOREIGN: "local", LOCAL: "foreign"}.get(self.i_hold, "all")
            self.standby = "done"
            self.go_standby("other", rtype, now)
        self.takeover(now)

    def req_our(self, anyway: bool, now: float) -> None:
        if self.shutting_down:
            return
        if (self.other_holds & FOREIGN or self.i_hold & LOCAL) and not anyway and (
                self.standby == "not"):
            return
        self.i_hold |= LOCAL
        mine = [i for i, p in enumerate(self.primaries) if p == self.name]
        self.queue(mine, True, lambda: self.resources(True, now, "req_our_resources()"))

    def perform_auto_failback(self, now: float) -> None:
        if self.shutting_down or not self.i_hold & FOREIGN or not self.auto_failback:
            self.needs_failback = self.failback_due = False
            return
        if self.standby != "not" or not self.other_stable or self.rstate != "stable":
            return  # delayed: poll tries again
        self.needs_failback = self.failback_due = False
        self.hb_standby("foreign", now)

    # -------------------------------------------------------------- standby

    def hb_standby(self, which: str, now: float) -> None:
        self.send([("t", "ask_resources"), ("rsc_hold", which), ("info", "me")], now)

    def ask(self, msg: dict[str, str], now: float, *, own: bool) -> None:
        """heartbeat's ask_for_resources (own: our message, looped back)."""
        if self.rstate == "shutdown":
            return
        info, rtype = msg.get("info", ""), msg.get("rsc_hold", "all")
        if self.standby == "not" and info == "me":
            self.ask_not(rtype, now, own=own)
        elif self.standby == "me":
            if not own and info == "other":
                self.standby_until = now + 3600
                self.go_standby("me", rtype, now)
            elif own and info == "done":
                self.standby = "done"
                self.i_hold &= ~bits(rtype)
        elif self.standby == "other" and info == "done" and not own:
            self.standby = "done"
            self.go_standby("other", rtype, now)
        elif self.standby == "done" and info == "done":
            self.standby, self.standby_until = "not", None
            if own:
                self.i_hold |= {LOCAL: FOREIGN, FOREIGN: LOCAL}.get(bits(rtype), ALL)
            self.resources(True, now)

    def ask_not(self, rtype: str, now: float, *, own: bool) -> None:
        if not self.other_stable or self.rstate != "stable":
            return  # "standby message ignored. Other side is in flux."
        self.other_stable = False
        if own:
            self.standby, self.standby_until = "me", now + STANDBY_REPLY
        else:
            self.standby, self.standby_until = "other", now + 3600
            self.send([("t", "ask_resources"), ("rsc_hold", rtype), ("info", "other")], now)

    def go_standby(self, who: str, which: str, now: float) -> None:
        rset = bits(which)
        if who == "me":
            self.other_stable = False
            self.i_hold &= ~rset
            self.resources(False, now, "standby")
        act = rset if who == "me" else {LOCAL: FOREIGN, FOREIGN: LOCAL}.get(rset, ALL)
        groups = [i for i, p in enumerate(self.primaries)
                  if (act & LOCAL and p == self.name) or (act & FOREIGN and p != self.name)]
        self.queue(groups, who != "me", lambda: self.send(
            [("t", "ask_resources"), ("rsc_hold", which), ("info", "done")], now))

    # -------------------------------------------------------------- shutdown

    def giveup(self, now: float, *, restart: bool = False) -> None:
        """hb_giveup_resources (a graceful stop, or a restart after a partition)."""
        if self.shutting_down:
            return
        self.shutting_down = True
        self.i_hold, self.rstate = 0, "shutdown"
        self.resources(False, now, "shutdown")

        def done() -> None:
            self.send([("t", "shutdone"), ("st", "dead")], now)
            self.up = False
            self.io.later(1.0, "start again" if restart else "stopped")

        self.queue(list(range(len(self.primaries))), False, done)

    # -------------------------------------------------------------- resource work

    def queue(self, groups: list[int], start: bool, then: Callable[[], None]) -> None:
        order = groups if start else list(reversed(groups))
        self.jobs.append(Job([(i, start) for i in order], then))
        if not self.busy:
            self.busy = True
            self.io.later(0.0, "jobs")  # heartbeat forks a child: never done at once

    def next_job(self) -> None:
        if not self.jobs:
            self.busy = False
            return
        self.busy = True
        job = self.jobs[0]
        if not job.ops:
            self.jobs.pop(0)
            job.then()
            self.next_job()
            return
        index, start = job.ops.pop(0)
        if (index in self.running) == start:
            self.next_job()  # ResourceManager: already so
            return

        def finished() -> None:
            if start:
                self.running.add(index)
            else:
                self.running.discard(index)
            if self.up:
                self.next_job()

        self.io.run_group(index, start, finished)
