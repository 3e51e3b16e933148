"""`twinbeat lab up|demo|status|down`: argument handling only; the work is in `lab.Lab`."""

from __future__ import annotations

import argparse
import sys
import time

from twinbeat.lab.errors import LabError
from twinbeat.lab.fencing import FenceSetup
from twinbeat.lab.lab import Lab


def _up(lab: Lab, fencing: FenceSetup | None) -> int:
    started = time.monotonic()
    lab.up(fencing=fencing, say=lambda text: print(f"twinbeat lab: {text}"))
    elapsed = (time.monotonic() - started) * 1000
    print(
        f"twinbeat lab: {lab.name} is up in {elapsed:.0f} ms (daemons running); "
        f"run dir {lab.plan.run_dir}"
    )
    print(
        f"  try: twinbeat lab status --name {lab.name}"
        + (
            ""
            if lab.plan.run_dir.parent.name == "twinbeat-lab"
            else f" --run-dir {lab.plan.run_dir}"
        )
    )
    return 0


def _down(lab: Lab) -> int:
    done = lab.down()
    for line in done or ["nothing to do"]:
        print(f"twinbeat lab: {line}")
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        lab = Lab.make(args.name, args.run_dir, args.preset)
        fencing = None if args.fencing == "none" else FenceSetup(args.fencing)
        if args.action == "up":
            return _up(lab, fencing)
        if args.action == "down":
            return _down(lab)
        if args.action == "status":
            print(lab.describe())
            return 0 if lab.exists() else 1
        from twinbeat.lab.demo import run_demo  # noqa: PLC0415 - only `demo` needs it

        return run_demo(lab, fencing=fencing)
    except LabError as exc:
        print(f"twinbeat lab: {exc}", file=sys.stderr)
        return 1
