"""Split-brain heal benchmark: what a client on the VIP loses while a split brain heals.

Not a test: it measures (the lab test tests/integration/test_lab_announce.py only checks
the bound). One lab per preset (`twinbeat.lab.Lab`, VIP + apache2 with `--groups apache`,
VIP only with apache2 running on both nodes with `vip`); the client polls
http://198.18.1.100/ every `--interval` from its namespace. Each trial:

1. both cables are cut (prime's eth1 down, the serial cable pulled); calc declares prime
   dead and takes the group over; the trial goes on once the client is answered by calc
   (calc's GARP moved the client's ARP entry) — a split brain, prime still holding;
2. `--partition` seconds later both cables come back; prime keeps the group (its primary),
   calc stops apache2 and the VIP;
3. measured from the heal until the cluster has settled on prime and the client's ARP entry
   is prime's: **lost probes** (requests that got no answer: refused, reset, or sent to a MAC
   that no longer has the address) and the **longest gap** between two answers;
4. a pause of `--quiet` seconds, so that no GARP burst of the previous trial (10 at 0.5 s,
   10 more 5 s later) is still running when the next one starts: the worst case, where only
   the keeper's announces bring the client back.

Prints, per preset and group, min / median / max of both figures over the trials.

Run as root:  .venv/bin/python bench/splitbrain.py --trials 10 --presets lab,fast
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchlab import GROUPS, bench_lab, choices, options, prober, sayer, serve_group

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import REQUEST_TIMEOUT, Poller

GARP_BURSTS = 15.0  # the IPaddr agent's two bursts after a start or an announce


@dataclass(frozen=True)
class Trial:
    lost: list[float]  # when each probe that got no answer started, seconds after the heal
    gap: float  # longest time between two answers in that window, seconds
    first_prime: float  # from the heal to the first answer from prime, seconds


def one_trial(lab: Lab, poller: Poller, partition: float) -> Trial:
    """Cut both cables, wait until calc serves, heal, and measure until prime serves alone."""
    patience = lab.plan.timers.deadtime_s + 10
    cut = time.monotonic()
    lab.set_link("prime", lp.HB_IFACE, up=False)
    lab.cable.pull()
    wait_for(lambda: lab.client_neighbour() == lab.mac("calc"), patience, "calc's GARP")
    if poller.first("calc", cut, patience) is None:
        raise LabError("calc never answered during the split brain")
    time.sleep(partition)
    heal = time.monotonic()
    lab.set_link("prime", lp.HB_IFACE, up=True)
    lab.cable.plug()
    wait_for(lambda: not lab.vip_on("calc"), patience, "calc to release the VIP")
    wait_for(lambda: lab.converged("prime"), patience, "the cluster to settle on prime")
    wait_for(lambda: lab.client_neighbour() == lab.mac("prime"), 5, "prime's announce")
    settled = time.monotonic()
    time.sleep(REQUEST_TIMEOUT + 0.3)  # every probe started before `settled` has ended
    answers = poller.answered(heal - 0.1, settled + 0.1)
    gaps = [b - a for a, b in itertools.pairwise(answers)]
    first = poller.first("prime", heal, 0)
    return Trial(
        lost=[t - heal for t in poller.lost(heal, settled)],
        gap=max(gaps, default=settled - heal),
        first_prime=(first - heal) if first is not None else float("nan"),
    )


def bench(preset: str, group: str, *, trials: int, interval: float, partition: float,
          quiet: float, say: Callable[[str], None]) -> list[Trial]:
    results: list[Trial] = []
    with bench_lab("tbs", preset) as lab:
        serve_group(lab, group)
        wait_for(lambda: lab.converged("prime"), 30, "prime to hold the group")
        with prober(lab, interval) as poller:
            for n in range(trials):
                time.sleep(quiet)
                trial = one_trial(lab, poller, partition)
                results.append(trial)
                when = ", ".join(f"{t * 1000:.0f}" for t in trial.lost)
                say(f"  {preset}/{group}: trial {n + 1}/{trials}: {len(trial.lost)} lost"
                    f"{f' (started {when} ms after the heal)' if when else ''}, longest gap "
                    f"{trial.gap * 1000:.0f} ms, prime answers "
                    f"{trial.first_prime * 1000:.0f} ms after the heal")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__, trials=10, presets="lab", interval=0.01, groups="apache")
    parser.add_argument("--partition", type=float, default=1.0,
                        help="seconds from calc serving to the heal")
    parser.add_argument("--quiet", type=float, default=GARP_BURSTS,
                        help="seconds before each trial (GARP bursts of the last one end)")
    parser.add_argument("--quiet-output", action="store_true", help="no per-trial lines")
    args = parser.parse_args(argv)
    presets, groups = choices(parser, (args.presets, lp.PRESETS), (args.groups, GROUPS))
    say = sayer(args.quiet_output)
    rows = []
    for preset in presets:
        for group in groups:
            try:
                results = bench(preset, group, trials=args.trials, interval=args.interval,
                                partition=args.partition, quiet=args.quiet, say=say)
            except LabError as exc:
                print(f"twinbeat bench: {preset}/{group}: {exc}", file=sys.stderr)
                return 1
            rows.append((preset, group, results))
    print(f"{'preset':<7} {'group':<7} {'n':>3}   {'lost probes':>17}   "
          f"{'longest gap (ms)':>20}   (heal of a split brain, probe every "
          f"{args.interval * 1000:g} ms)")
    print(f"{'':<7} {'':<7} {'':>3}   {'min':>5} {'med':>5} {'max':>5}   "
          f"{'min':>6} {'med':>6} {'max':>6}")
    for preset, group, results in rows:
        lost = [len(r.lost) for r in results]
        gaps = [r.gap * 1000 for r in results]
        print(f"{preset:<7} {group:<7} {len(results):>3}   {min(lost):>5} "
              f"{statistics.median(lost):>5g} {max(lost):>5}   {min(gaps):>6.0f} "
              f"{statistics.median(gaps):>6.0f} {max(gaps):>6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
