"""Failover benchmark: fault → first good HTTP answer from the new node on the VIP.

Not a test: it measures. For each timer preset and group shape it builds one lab
(`twinbeat.lab.Lab`), polls http://198.18.1.100/ from the client namespace every few ms and,
over N trials, injects each fault at prime and times the first answer that says "calc"
(or "prime" for failback). Prints min / median / p99 / max in milliseconds.

Faults:
  power-loss  prime's daemon, apache2 and NICs die and the serial cable goes dead
  sigkill     prime's daemon alone is SIGKILLed (its VIP and apache2 stay as leftovers)
  graceful    prime's daemon gets SIGTERM and hands the group over
  failback    prime comes back after a power loss (auto_failback on) until it serves again

Groups: `apache` (IPaddr + apache2 started on takeover, the haresources of the lab) and `vip`
(IPaddr only; apache2 runs on both nodes all the time).

Run as root:  .venv/bin/python bench/failover.py --trials 20 --presets fast,1s-3s
"""

from __future__ import annotations

import signal
import statistics
import sys
import time
from collections.abc import Callable

from benchlab import GROUPS, bench_lab, choices, options, prober, sayer, serve_group

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller

FAULTS = ("power-loss", "sigkill", "graceful", "failback")


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples p99 is the maximum, as it should be)."""
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[rank - 1]


def settle(lab: Lab, timeout: float) -> None:
    wait_for(lambda: lab.converged("prime"), timeout, "prime to hold the group again")


def one_trial(
    lab: Lab, poller: Poller, fault: str, patience: float, *, vip_only: bool
) -> dict[str, float]:
    """Inject one fault at prime, measure, and bring the cluster back to prime holding."""
    results: dict[str, float] = {}
    t0 = time.monotonic()
    if fault == "power-loss":
        t0 = lab.power_loss("prime")  # when the power went, after the lab's preparation
    else:
        lab.node("prime").signal(signal.SIGKILL if fault == "sigkill" else signal.SIGTERM)
    seen = poller.first("calc", t0, patience)
    if seen is None:
        raise LabError(f"{fault}: calc never answered within {patience:.0f} s")
    results[fault] = seen - t0

    # Recovery (and, after a power loss, the failback measurement).
    wait_for(lambda: not lab.node("prime").running(), 15, "prime's daemon to exit")
    t1 = time.monotonic()
    if fault == "power-loss":
        lab.power_on("prime", wait=False)
        if vip_only:  # apache2 runs outside the group: prime's boot starts it again
            lab.apache("prime", "start")
        back = poller.first("prime", t1, patience + 15)
        if back is None:
            raise LabError("failback: prime never answered again")
        results["failback"] = back - t1
    else:
        lab.node("prime").start(wait=False)
    settle(lab, patience + 15)
    return results


def injected(faults: list[str]) -> list[str]:
    """The faults to inject: failback is measured on the way back from a power loss."""
    run = [f for f in faults if f != "failback"]
    if "failback" in faults and "power-loss" not in run:
        run.append("power-loss")
    return run


def bench(
    preset: str,
    group: str,
    *,
    faults: list[str],
    trials: int,
    interval: float,
    say: Callable[[str], None],
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    with bench_lab("tbb", preset) as lab:
        timers = lab.plan.timers
        patience = timers.deadtime_s * 3 + 10
        serve_group(lab, group)
        settle(lab, timers.initdead_s + patience)
        with prober(lab, interval) as poller:
            for trial in range(trials):
                for fault in injected(faults):
                    for name, value in one_trial(
                        lab, poller, fault, patience, vip_only=group == "vip"
                    ).items():
                        if name in faults:
                            samples.setdefault(name, []).append(value)
                say(f"  {preset}/{group}: trial {trial + 1}/{trials} done")
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__, trials=20, presets="howto,1s-3s,fast", interval=0.002,
                     groups="apache,vip")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    presets, groups, faults = choices(parser, (args.presets, lp.PRESETS),
                                      (args.groups, GROUPS), (args.faults, FAULTS))
    say = sayer(args.quiet)

    rows = []
    for preset in presets:
        for group in groups:
            try:
                samples = bench(
                    preset,
                    group,
                    faults=faults,
                    trials=args.trials,
                    interval=args.interval,
                    say=say,
                )
            except LabError as exc:
                print(f"twinbeat bench: {preset}/{group}: {exc}", file=sys.stderr)
                return 1
            for fault in faults:
                values = [v * 1000 for v in samples.get(fault, [])]
                if values:
                    rows.append((fault, preset, group, values))

    print(
        f"{'fault':<11} {'preset':<7} {'group':<7} {'n':>3} "
        f"{'min':>8} {'median':>8} {'p99':>8} {'max':>8}   (ms, fault → first answer)"
    )
    for fault, preset, group, values in rows:
        print(
            f"{fault:<11} {preset:<7} {group:<7} {len(values):>3} {min(values):>8.0f} "
            f"{statistics.median(values):>8.0f} {percentile(values, 99):>8.0f} "
            f"{max(values):>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
