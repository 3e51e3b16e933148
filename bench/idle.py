"""What an idle daemon costs (issue #17): CPU per node at a timer preset, and its memory.

Not a test: it measures. For each of `--runs` labs (`twinbeat.lab.Lab`, default preset
`fast`: keepalive 10 ms, UDP + serial, a VIP-only group), it waits until prime holds the
group, lets the daemons settle for `--settle` seconds, then reads each daemon's CPU time
(`/proc/PID/stat`: utime + stime) over `--windows` windows of `--window` seconds, and at the
end its memory (`/proc/PID/smaps_rollup`: Rss, and Pss, which splits shared pages between
the processes that map them). Nothing is done to either node meanwhile.

Prints, per node, the median and p99 of the windows' CPU % (of one core) over every run, and
the median and max of Rss and Pss (MB). Run as root:

    .venv/bin/python bench/idle.py --runs 5 --windows 10 --window 5
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.lab import Lab

TICKS = os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (with few samples p99 is the maximum, as it should be)."""
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[rank - 1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (its own threads; children are not counted)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(Rss, Pss) in MB from smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                values[key] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def one_run(preset: str, windows: int, window: float, settle: float
            ) -> dict[str, tuple[list[float], float, float]]:
    """One lab: per node, the CPU % of each window, and Rss, Pss at the end."""
    lab = Lab.make("tbi" + secrets.token_hex(2), preset=preset)
    try:
        lab.up(apache_in_group=False)
        wait_for(lambda: lab.converged("prime"), 60, "prime to hold the group")
        time.sleep(settle)
        pids = {node: lab.node(node).pid() for node in lp.NODES}
        if None in pids.values():
            raise LabError(f"a daemon is not running: {pids}")
        cpu: dict[str, list[float]] = {node: [] for node in lp.NODES}
        for _ in range(windows):
            start = {n: cpu_seconds(p) for n, p in pids.items() if p}
            t0 = time.monotonic()
            time.sleep(window)
            elapsed = time.monotonic() - t0
            for n, p in pids.items():
                if p:
                    cpu[n].append(100 * (cpu_seconds(p) - start[n]) / elapsed)
        if not lab.converged("prime"):
            raise LabError("the group moved while idle: the measurement is void")
        out = {}
        for n, p in pids.items():
            assert p is not None
            rss, pss = memory_mb(p)
            out[n] = (cpu[n], rss, pss)
        return out
    finally:
        lab.down(purge=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="fast", choices=list(lp.PRESETS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--window", type=float, default=5.0, help="seconds")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds")
    args = parser.parse_args(argv)
    cpu: dict[str, list[float]] = {n: [] for n in lp.NODES}
    mem: dict[str, list[tuple[float, float]]] = {n: [] for n in lp.NODES}
    for run in range(args.runs):
        try:
            result = one_run(args.preset, args.windows, args.window, args.settle)
        except LabError as exc:
            print(f"twinbeat bench: {exc}", file=sys.stderr)
            return 1
        for n, (samples, rss, pss) in result.items():
            cpu[n] += samples
            mem[n].append((rss, pss))
        print(f"  run {run + 1}/{args.runs} done", file=sys.stderr)
    print(f"preset {args.preset}: {args.runs} runs x {args.windows} windows of "
          f"{args.window:g} s, VIP-only group, prime holding")
    print(f"{'node':<6} {'cpu median':>10} {'cpu p99':>8} {'rss median':>10} {'rss max':>8} "
          f"{'pss median':>10} {'pss max':>8}")
    for n in lp.NODES:
        rss = [r for r, _ in mem[n]]
        pss = [p for _, p in mem[n]]
        print(f"{n:<6} {statistics.median(cpu[n]):>9.2f}% {percentile(cpu[n], 99):>7.2f}% "
              f"{statistics.median(rss):>8.1f}MB {max(rss):>6.1f}MB "
              f"{statistics.median(pss):>8.1f}MB {max(pss):>6.1f}MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
