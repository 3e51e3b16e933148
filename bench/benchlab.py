"""What the lab benchmarks share: a lab of their own, its prober, their common options.

Each bench (failover.py, splitbrain.py, fencing.py, service.py) makes a lab with a unique
name, brings it up its own way, waits for prime to serve, probes the VIP, and must tear all of
it down however the run ends: by PID and namespace, through the lab (docs/lab.md). These
helpers hold that part once, so a bench script says only what it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
from collections.abc import Callable, Collection, Iterator

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller

GROUPS = ("apache", "vip")


@contextlib.contextmanager
def bench_lab(stem: str, preset: str, *, purge: Callable[[], bool] = lambda: True
              ) -> Iterator[Lab]:
    """A lab named `stem` + 4 hex digits, at `preset`, torn down on the way out; its run dir
    (the daemons' logs) is removed unless `purge()` says keep it."""
    lab = Lab.make(stem + secrets.token_hex(2), preset=preset)
    try:
        yield lab
    finally:
        lab.down(purge=purge())


def serve_group(lab: Lab, group: str) -> None:
    """Bring the lab up with `group` the resource group: "apache" (the VIP and apache2) or
    "vip" (the VIP alone, apache2 started on both nodes so that either answers)."""
    lab.up(apache_in_group=(group == "apache"))
    if group == "vip":
        for node in lp.NODES:
            if lab.apache(node, "start").returncode != 0:
                raise LabError(f"apache2 did not start on {node}")


@contextlib.contextmanager
def prober(lab: Lab, interval: float) -> Iterator[Poller]:
    """The client's prober of the VIP every `interval` s, once prime answers it; closed on
    the way out."""
    with contextlib.closing(lab.poller(interval=interval)) as poller:
        if poller.first("prime", 0, 10) is None:
            raise LabError("no answer from prime at the start")
        yield poller


def options(description: str, *, trials: int, presets: str, interval: float,
            groups: str | None = None) -> argparse.ArgumentParser:
    """A bench's parser with the options they all take (`--groups` when `groups` is given)."""
    parser = argparse.ArgumentParser(description=description.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--trials", type=int, default=trials)
    parser.add_argument("--presets", default=presets,
                        help=f"comma-separated, from {', '.join(lp.PRESETS)}")
    if groups is not None:
        parser.add_argument("--groups", default=groups, help="apache, vip or both")
    parser.add_argument("--interval", type=float, default=interval, help="poll interval, s")
    return parser


def choices(parser: argparse.ArgumentParser, *lists: tuple[str, Collection[str]]
            ) -> list[list[str]]:
    """Each comma-separated value split, or the parser's error naming what is unknown."""
    out = []
    for value, allowed in lists:
        items = value.split(",")
        bad = [v for v in items if v not in allowed]
        if bad:
            parser.error(f"unknown {', '.join(bad)} (choose from {', '.join(allowed)})")
        out.append(items)
    return out


def sayer(quiet: bool) -> Callable[[str], None]:
    """Progress lines to stderr, or nowhere."""
    return (lambda _t: None) if quiet else (lambda t: print(t, file=sys.stderr))
