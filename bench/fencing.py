"""Fencing benchmark: power loss → calc fences prime → calc serves, and where the time goes.

Not a test: it measures. For each fencing kind and timer preset it builds one lab whose nodes
fence each other through the lab's power switch (`twinbeat lab`'s switch, docs/lab.md), polls
http://198.18.1.100/ from the client namespace and, over N trials, cuts prime's power and
times:

  total    fault → first answer from calc (what a client sees)
  detect   fault → the switch receives calc's request (deadtime, any head start, the fence
           program's start-up)
  fence    the whole fence run as calc's daemon logs it ("node prime now off. (..., N s)"):
           fence_tblab or `stonith -t external/tblab` start to exit
  switch   the switch's own work (prime's processes killed, NICs down, cable cut)
  after    the switch's answer → first answer from calc (the rest of the fence run, the
           core's takeover, IPaddr + apache2 start, the client's next GET)

`--device` measures the fence run alone, whatever the core does: the daemon's own driver
(daemon/fencer.py), run inside calc's namespace against prime, N times (`device` rows).

Kinds: `none` (no fencing: the baseline), `agent` (fence ... fence_tblab, stdin protocol),
`stonith` (stonith_host * external/tblab, through cluster-glue). Without a core that fences
(fence-core's policy), `detect`/`fence`/`switch` stay empty and the run says so.

Run as root:  .venv/bin/python bench/fencing.py --trials 20 --kinds none,agent,stonith
"""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Callable

from benchlab import bench_lab, choices, options, prober, sayer

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.fencing import FenceSetup, switch_records
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller

KINDS = ("none", "agent", "stonith")
PARTS = ("total", "detect", "fence", "switch", "after", "device")
# The daemon's fence driver, run by hand inside a node's namespace: prints the run's seconds.
DRIVER = """
import sys, time, trio
from twinbeat.config import load
from twinbeat.daemon.fencer import Fencer
events = []
async def report(event):
    events.append(event)
async def main():
    fencer = Fencer.build(load(sys.argv[1], node=sys.argv[2]), report)
    started = time.monotonic()
    await fencer.fence(sys.argv[3])
    print(type(events[0]).__name__, time.monotonic() - started)
trio.run(main)
"""
_FENCED = re.compile(r"node prime now (?:off|reset)\. \(.*, ([0-9.]+) s\)")


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples p99 is the maximum, as it should be)."""
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[rank - 1]


def one_trial(lab: Lab, poller: Poller, patience: float) -> dict[str, float]:
    """Cut prime's power, measure, then power it on and wait until it holds the group again."""
    log = lab.node("calc").log
    mark = log.mark()
    fault = lab.power_loss("prime")
    seen = poller.first("calc", fault, patience)
    if seen is None:
        raise LabError(f"calc never answered within {patience:.0f} s after prime's power loss")
    parts = {"total": seen - fault}
    fences = [e for e in switch_records(lab.plan.run_dir, fault)
              if e.get("from") == "calc" and e.get("action") in ("off", "reboot")]
    if fences:
        parts["detect"] = fences[0]["t"] - fault
        parts["switch"] = fences[0]["took"]
        parts["after"] = seen - fences[0]["t"] - fences[0]["took"]
    ran = _FENCED.search(log.read(mark))
    if ran:
        parts["fence"] = float(ran.group(1))
    lab.power_on("prime", wait=False)
    wait_for(lambda: lab.converged("prime"), patience + 15, "prime to hold the group again")
    return parts


def _settled_on_calc(lab: Lab) -> bool:
    status = lab.status("calc") or {}
    fencing = status.get("fencing") or {}
    groups = status.get("groups") or [{}]
    return groups[0].get("holder") == "calc" and not fencing.get("degraded", False)


def device_trial(lab: Lab, patience: float) -> dict[str, float]:
    """calc's fence driver against prime, by hand; then prime back on, holding the group."""
    config = lab.plan.files("calc").config_dir
    result = lab.harness.python(lab.netns("calc"), DRIVER, str(config), "calc", "prime",
                                timeout=patience)
    outcome, _, seconds = result.stdout.strip().partition(" ")
    if outcome != "PeerFenced":
        raise LabError(f"the fence driver said {result.stdout.strip() or result.stderr[-300:]}")
    # calc's core saw none of that: it finds prime dead and fences it itself. Powering prime
    # on before that fence is done would have it shot again, as any switch would.
    wait_for(lambda: _settled_on_calc(lab), patience, "calc to take over after the fence")
    lab.power_on("prime", wait=False)
    wait_for(lambda: lab.converged("prime"), patience + 15, "prime to hold the group again")
    return {"device": float(seconds)}


def bench(kind: str, preset: str, *, trials: int, interval: float, device: bool,
          say: Callable[[str], None]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    with bench_lab("tbf", preset) as lab:
        timers = lab.plan.timers
        patience = timers.deadtime_s * 3 + 30
        lab.up(fencing=None if kind == "none" else FenceSetup(kind))
        wait_for(lambda: lab.converged("prime"), timers.initdead_s + patience, "prime to hold")
        with prober(lab, interval) as poller:
            for trial in range(trials):
                parts = one_trial(lab, poller, patience)
                if device and kind != "none":
                    parts |= device_trial(lab, patience)
                for name, value in parts.items():
                    samples.setdefault(name, []).append(value)
                say(f"  {kind}/{preset}: trial {trial + 1}/{trials} done")
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__, trials=20, presets="lab,1s-3s", interval=0.002)
    parser.add_argument("--kinds", default="none,agent,stonith")
    parser.add_argument("--device", action="store_true",
                        help="also time the fence driver alone, from calc against prime")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    kinds, presets = choices(parser, (args.kinds, KINDS), (args.presets, lp.PRESETS))
    say = sayer(args.quiet)
    print(f"{'kind':<8} {'preset':<7} {'part':<7} {'n':>3} {'min':>8} {'median':>8} "
          f"{'p99':>8} {'max':>8}   (ms)")
    for kind in kinds:
        for preset in presets:
            try:
                samples = bench(kind, preset, trials=args.trials, interval=args.interval,
                                device=args.device, say=say)
            except LabError as exc:
                print(f"twinbeat bench: {kind}/{preset}: {exc}", file=sys.stderr)
                return 1
            for part in PARTS:
                values = [v * 1000 for v in samples.get(part, [])]
                if values:
                    print(f"{kind:<8} {preset:<7} {part:<7} {len(values):>3} "
                          f"{min(values):>8.0f} {statistics.median(values):>8.0f} "
                          f"{percentile(values, 99):>8.0f} {max(values):>8.0f}")
            if kind != "none" and not samples.get("fence"):
                print(f"{kind:<8} {preset:<7} (no fence recorded: this core did not fence; "
                      "fence-core's policy decides when)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
