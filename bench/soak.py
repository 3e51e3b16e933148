"""False-failover soak (issue #6): the fastest timers under CPU load, no fault injected.

Not a test: it watches. It builds one lab (`twinbeat.lab.Lab`) at a timer preset (default
`fast`: keepalive 10ms, deadtime 40ms, UDP on eth1 + the serial cable), waits until both
daemons agree that prime holds the group, starts a CPU load on the machine, and for
`--duration` seconds polls both nodes' `status --json` about every 0.5 s. Nothing is done to
either node, so calc must never take the group over.

Counted:
  takeovers       calc's group state becoming starting/held while prime's daemon (same PID
                  as at the start) is alive: seen by the poll, and as "acquiring resource
                  group" lines in calc's ha-log (the log catches a takeover shorter than a poll)
  peer dead       "node prime: is dead" lines in calc's ha-log
  link dead       "Link <peer>:<link> dead." lines per link in each node's ha-log
  per link        the worst heartbeat gap (`max_gap`, since the daemon started; marked `*`
                  when it already happened before the clock started) and its margin to
                  deadtime, plus frames_ok, late, rejected and replayed counted over the soak

Log lines are counted from the ha-log's size when the clock started (ha-log is the ha.cf
`logfile`; the lab's daemon.log holds the same lines again, so only ha-log is read).

Load (`--load`): `stress-ng` (default) runs `stress-ng --cpu N --timeout <duration>s`, started
and stopped by PID (its workers too). If stress-ng is missing the soak refuses with one line
rather than silently measuring under another load: install it (apt-get install stress-ng) or
choose `--load python`, N busy-looping Python processes (also stopped by PID), which loads the
CPU the same way without the package. `--load none` soaks an idle machine.

Exit status: 0 when no false failover happened, 1 when one did (or prime's daemon died, which
makes the run meaningless), 2 when the lab or the load could not be set up, 130 when
interrupted (SIGINT/SIGTERM; the load and the lab are still torn down).

Run as root:  .venv/bin/python bench/soak.py --duration 600
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from twinbeat.lab import plan as lp
from twinbeat.lab import procs
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.harness import Harness
from twinbeat.lab.lab import Lab

LOADS = ("stress-ng", "python", "none")
BUSY = ("starting", "held")  # a group state that means "this node is taking/has it"
POLL_INTERVAL = 0.5
LINK_DEAD = re.compile(r"Link ([^:\s]+):(.+?) dead\.")
ACQUIRING = "acquiring resource group"


class SoakError(RuntimeError):
    """A one-line reason the soak could not run."""


# -- load ------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """The PIDs below `pid` (via /proc/PID/task/*/children), deepest last."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                kids = [int(k) for k in (task / "children").read_text().split()]
                found.extend(kids)
                todo.extend(kids)
    return found


@dataclass
class Load:
    kind: str
    labels: list[str] = field(default_factory=list)
    harness: Harness | None = None

    def check(self) -> None:
        if self.kind == "stress-ng" and shutil.which("stress-ng") is None:
            raise SoakError(
                "stress-ng not found; install it (apt-get install stress-ng) or use --load python"
            )

    def start(self, harness: Harness, workers: int, duration: float, log: Path) -> None:
        """The load's processes, tracked by the lab's harness (so `lab down` stops them too)."""
        self.harness = harness
        if self.kind == "none":
            return
        if self.kind == "stress-ng":
            self.check()
            argvs = [["stress-ng", "--cpu", str(workers), "--timeout", f"{math.ceil(duration)}s"]]
        else:
            argvs = [[sys.executable, "-c", "while True: pass"]] * workers
        for n, argv in enumerate(argvs):
            self.labels.append(f"load-{n}")
            harness.spawn(self.labels[-1], argv, log=log)
        time.sleep(0.3)
        if not all(harness.pid(label) is not None for label in self.labels):
            raise SoakError(f"the {self.kind} load exited at once (see {log})")

    def stop(self) -> None:
        """By PID, the stop policy: the load's processes and (stress-ng) their workers."""
        if self.harness is None:
            return
        pids = [self.harness.pid(label) for label in self.labels]
        started = [pid for pid in pids if pid is not None]
        workers = [d for pid in started for d in descendants(pid)]
        if workers or started:
            procs.stop(workers + started)
        for label in self.labels:
            self.harness.forget(label)
        self.labels.clear()


# -- what the soak observes ------------------------------------------------------------------


@dataclass
class Watch:
    prime_pid: int
    polls: int = 0
    misses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(lp.NODES, 0))
    takeovers: int = 0  # calc busy while prime alive, counted on each rising edge
    prime_died: bool = False
    calc_busy: bool = False
    last: dict[str, dict] = field(default_factory=dict)

    def poll(self, lab: Lab) -> None:
        self.polls += 1
        for node in lp.NODES:
            snapshot = lab.status(node)
            if snapshot is None:
                self.misses[node] += 1
            else:
                self.last[node] = snapshot
            if node == "calc" and snapshot is not None:
                busy = any(g.get("state") in BUSY for g in snapshot.get("groups", []))
                prime_ok = lab.node("prime").pid() == self.prime_pid
                if not prime_ok:
                    self.prime_died = True
                elif busy and not self.calc_busy:
                    self.takeovers += 1
                self.calc_busy = busy
        if lab.node("prime").pid() != self.prime_pid:
            self.prime_died = True


def log_offsets(lab: Lab) -> dict[str, int]:
    offsets = {}
    for node in lp.NODES:
        try:
            offsets[node] = lab.plan.files(node).ha_log.stat().st_size
        except FileNotFoundError:
            offsets[node] = 0
    return offsets


def log_since(lab: Lab, node: str, offset: int) -> list[str]:
    try:
        with open(lab.plan.files(node).ha_log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []


def link_key(link: dict) -> tuple[str, str]:
    return str(link.get("peer")), str(link.get("name"))


def rejected_total(link: dict) -> int:
    return sum(int(v) for v in (link.get("rejected") or {}).values())


# -- the soak --------------------------------------------------------------------------------


def start_cluster(lab: Lab, say: Callable[[str], None]) -> int:
    """Lab up, both daemons converged with prime holding; prime's daemon PID."""
    timers = lab.plan.timers
    say(
        f"soak: lab {lab.name} up, preset {lab.plan.preset} "
        f"(keepalive {timers.keepalive}, deadtime {timers.deadtime})"
    )
    lab.up(daemons=True)
    wait_for(
        lambda: lab.converged("prime"),
        timers.initdead_s + timers.deadtime_s * 3 + 20,
        "both nodes to agree that prime holds the group",
    )
    prime_pid = lab.node("prime").pid()
    if prime_pid is None:
        raise SoakError("prime's daemon is not running")
    return prime_pid


def watch_for(lab: Lab, watch: Watch, duration: float, say: Callable[[str], None]) -> float:
    """Poll both nodes every POLL_INTERVAL for `duration` s; the time it took."""
    t0 = time.monotonic()
    end = t0 + duration
    next_report = t0 + 60
    while True:
        tick = time.monotonic()
        if tick >= end:
            break
        watch.poll(lab)
        if tick >= next_report:
            say(f"soak: {tick - t0:.0f} s, takeovers so far {watch.takeovers}")
            next_report += 60
        time.sleep(max(0.0, min(POLL_INTERVAL - (time.monotonic() - tick), end - tick)))
    return time.monotonic() - t0


@dataclass
class LogCounts:
    dead: dict[tuple[str, tuple[str, str]], int]  # (node, (peer, link)) -> "Link ... dead." lines
    acquired: int  # "acquiring resource group" in calc's log
    prime_dead: int  # "node prime: is dead" in calc's log


def count_log_lines(lab: Lab, offsets: dict[str, int]) -> LogCounts:
    lines = {node: log_since(lab, node, offsets[node]) for node in lp.NODES}
    dead: dict[tuple[str, tuple[str, str]], int] = {}
    for node in lp.NODES:
        for match in filter(None, (LINK_DEAD.search(line) for line in lines[node])):
            key = (node, (match.group(1), match.group(2)))
            dead[key] = dead.get(key, 0) + 1
    return LogCounts(
        dead=dead,
        acquired=sum(ACQUIRING in line for line in lines["calc"]),
        prime_dead=sum("node prime: is dead" in line for line in lines["calc"]),
    )


def print_links(watch: Watch, baseline: dict[str, dict], counts: LogCounts) -> None:
    print(
        f"{'node':<6} {'link (from peer)':<24} {'frames_ok':>9} {'max_gap':>8} "
        f"{'margin':>8} {'late':>5} {'rejected':>8} {'replayed':>8} {'dead':>5}"
    )
    for node in lp.NODES:
        before = {link_key(lk): lk for lk in baseline[node].get("links", [])}
        for link in watch.last.get(node, {}).get("links", []):
            key = link_key(link)
            old = before.get(key, {})
            gap = float(link.get("max_gap") or 0.0)
            early = "*" if old and gap <= float(old.get("max_gap") or 0.0) else " "
            name = f"{key[0]}:{key[1]}"
            if len(name) > 24:
                name = "…" + name[-23:]
            print(
                f"{node:<6} {name:<24} "
                f"{int(link.get('frames_ok', 0)) - int(old.get('frames_ok', 0)):>9} "
                f"{gap * 1000:>6.1f}ms{early}"
                f"{float(link.get('margin') or 0.0) * 1000:>6.1f}ms "
                f"{int(link.get('late', 0)) - int(old.get('late', 0)):>5} "
                f"{rejected_total(link) - rejected_total(old):>8} "
                f"{int(link.get('replayed', 0)) - int(old.get('replayed', 0)):>8} "
                f"{counts.dead.get((node, key), 0):>5}"
            )
    unknown = {
        (node, key): n
        for (node, key), n in counts.dead.items()
        if key not in {link_key(lk) for lk in watch.last.get(node, {}).get("links", [])}
    }
    for (node, key), n in sorted(unknown.items()):
        print(f"{node:<6} {key[0] + ':' + key[1]:<24} (not in status) dead {n}")
    print(
        "(frames_ok, late, rejected, replayed: during the soak; max_gap: since the "
        "daemon started, * = before the clock; margin = deadtime - max_gap)"
    )


def verdict(watch: Watch, counts: LogCounts) -> tuple[int, bool]:
    """Print the verdict; (exit status, whether to keep the logs)."""
    false = max(watch.takeovers, counts.acquired)
    print(
        f"takeovers by calc while prime alive: {false} (poll {watch.takeovers}, "
        f"calc's log {counts.acquired}); calc declared prime dead: {counts.prime_dead}"
    )
    if watch.prime_died:
        print("prime's daemon died during the soak: the run proves nothing")
        return 1, True
    print("verdict: " + ("FAIL, false failover" if false else "ok, no false failover"))
    return (1 if false else 0), false > 0 or counts.prime_dead > 0


def soak(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    lab = Lab.make(args.name, preset=args.preset)
    timers = lab.plan.timers
    load = Load(args.load)
    load.check()  # before the lab is built
    keep = True
    try:
        watch = Watch(prime_pid=start_cluster(lab, say))
        baseline = {node: lab.status(node) or {} for node in lp.NODES}
        offsets = log_offsets(lab)
        say(
            f"soak: converged, prime holds; load {args.load} x{args.cpu}; "
            f"{args.duration:.0f} s from now"
        )
        load.start(lab.harness, args.cpu, args.duration, lab.plan.run_dir / "load.log")
        elapsed = watch_for(lab, watch, args.duration, say)
        load.stop()
        watch.poll(lab)  # the final snapshot, after the load
        counts = count_log_lines(lab, offsets)
        print(
            f"soak: preset {args.preset} (keepalive {timers.keepalive}, deadtime "
            f"{timers.deadtime}), load {args.load} x{args.cpu}, {elapsed:.0f} s, "
            f"{watch.polls} polls (status misses: "
            + ", ".join(f"{n} {watch.misses[n]}" for n in lp.NODES)
            + ")"
        )
        print_links(watch, baseline, counts)
        code, keep = verdict(watch, counts)
        return code
    finally:
        load.stop()
        lab.down(purge=not keep)
        if keep:
            say(f"soak: logs kept in {lab.plan.run_dir}/<node>/ha-log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--preset", default="fast", choices=list(lp.PRESETS))
    parser.add_argument("--name", default="tbsoak", help="lab name prefix (default tbsoak)")
    parser.add_argument("--load", default="stress-ng", choices=LOADS)
    parser.add_argument("--cpu", type=int, default=2, help="load workers (default 2)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.cpu < 1:
        parser.error("--duration and --cpu must be positive")
    say = (lambda _t: None) if args.quiet else (lambda t: print(t, file=sys.stderr))

    main_pid = os.getpid()

    def stop(signum: int, _frame: object) -> None:  # SIGTERM: tear down like Ctrl-C does
        # pyroute2 forks helpers (copies of this process) into the namespaces and ends them
        # with SIGTERM: a copy must die, never unwind into `finally` and tear the lab down.
        if os.getpid() != main_pid:
            os._exit(128 + signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    try:
        return soak(args, say)
    except (LabError, SoakError, subprocess.SubprocessError) as exc:
        print(f"twinbeat soak: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"twinbeat soak: interrupted ({exc or 'SIGINT'}); lab torn down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
