"""Service benchmark: apache2 crashes on the holder → the VIP serves again (issue #12).

Not a test: it measures. For each preset it builds one lab (`twinbeat.lab.Lab`), polls
http://198.18.1.100/ from the client namespace every few ms and, over N trials, injects each
fault at prime (lab/service.py) and times the first good answer after it:

  restart  apache2 SIGKILLed on prime; the monitor finds it at its next check and the core
           restarts it in place: time to prime's first answer
  move     apache2 SIGKILLed on prime and port 80 taken there, so its restart fails; the
           group moves: time to calc's first answer. Then the port is freed, `twinbeat clear`
           on prime, and the group fails back (not timed).

The fault's instant is when every apache2 process of prime is gone. The monitor runs at its
default interval (ha.cf sets none); each crash comes a random (seeded) time after the group
was (re)armed, so it lands anywhere in an interval: the spread of the results is mostly
that phase, and the maximum is about one interval plus the restart. Presets: `lab`
(resource.d/apache2) and `ocf` (ocf:heartbeat:apache, whose start waits its whole timeout
for an apache2 that cannot bind, and which sees a crashed apache2 only once this machine's
PID 1 has reaped it).

Run as root:  .venv/bin/python bench/service.py --trials 10 --presets lab,ocf
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from benchlab import bench_lab, choices, prober, sayer

from twinbeat.config.monitoring import DEFAULT_INTERVAL
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller
from twinbeat.lab.service import block_service, crash_service, unblock_service

FAULTS = ("restart", "move")
PRESETS = ("lab", "ocf")
PATIENCE = 90.0  # longer than the OCF agent's 40 s start timeout plus an interval


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples p99 is the maximum, as it should be)."""
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[rank - 1]


def monitored(lab: Lab) -> bool:
    groups = (lab.status("prime") or {}).get("groups") or [{}]
    found = groups[0].get("resources") or []
    return bool(found) and all(r.get("monitored") for r in found)


def settle(lab: Lab) -> None:
    """prime holds and monitors the group, and its failures are forgotten."""
    result = lab.node("prime").twinbeat("clear")
    if result.returncode != 0:
        raise LabError(f"twinbeat clear failed: {result.stderr.strip()}")
    wait_for(lambda: lab.converged("prime"), PATIENCE, "prime to hold the group again")
    wait_for(lambda: monitored(lab), 10, "prime to monitor the group")


def one_trial(lab: Lab, poller: Poller, fault: str, rng: random.Random) -> float:
    time.sleep(rng.uniform(0, DEFAULT_INTERVAL))  # anywhere in the monitor's interval
    if not crash_service(lab, "prime"):
        raise LabError("no apache2 to crash on prime")
    if fault == "move":
        block_service(lab, "prime")
    t0 = time.monotonic()
    seen = poller.first("prime" if fault == "restart" else "calc", t0, PATIENCE)
    if seen is None:
        raise LabError(f"{fault}: no answer within {PATIENCE:.0f} s")
    if fault == "move":
        wait_for(lambda: lab.converged("calc"), 10, "calc to hold the group")
        unblock_service(lab, "prime")
    settle(lab)
    return seen - t0


def bench(preset: str, *, faults: list[str], trials: int, interval: float, seed: int,
          say: Callable[[str], None]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    ok = False
    with bench_lab("tbs", preset, purge=lambda: ok) as lab:  # a failed run keeps its logs
        try:
            lab.up()
            wait_for(lambda: lab.converged("prime"), lab.plan.timers.initdead_s + 30, "prime")
            wait_for(lambda: monitored(lab), 10, "prime to monitor the group")
            with prober(lab, interval) as poller:
                rng = random.Random(seed)
                for trial in range(trials):
                    for fault in faults:
                        samples.setdefault(fault, []).append(one_trial(lab, poller, fault, rng))
                    say(f"  {preset}: trial {trial + 1}/{trials} done")
            ok = True
        finally:
            if not ok:
                say(f"  logs kept in {lab.plan.run_dir}")
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--interval", type=float, default=0.005, help="poll interval, s")
    parser.add_argument("--seed", type=int, default=12, help="of the crashes' phase")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    presets, faults = choices(parser, (args.presets, PRESETS), (args.faults, FAULTS))
    say = sayer(args.quiet)
    rows = []
    for preset in presets:
        try:
            samples = bench(preset, faults=faults, trials=args.trials, interval=args.interval,
                            seed=args.seed, say=say)
        except LabError as exc:
            print(f"twinbeat bench: {preset}: {exc}", file=sys.stderr)
            return 1
        rows += [(fault, preset, [v * 1000 for v in samples[fault]]) for fault in faults]
    print(f"{'fault':<8} {'preset':<7} {'n':>3} {'min':>8} {'median':>8} {'p99':>8} "
          f"{'max':>8}   (ms, apache2 gone → first answer on the VIP)")
    for fault, preset, values in rows:
        print(f"{fault:<8} {preset:<7} {len(values):>3} {min(values):>8.0f} "
              f"{statistics.median(values):>8.0f} {percentile(values, 99):>8.0f} "
              f"{max(values):>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
