"""The per-frame path of an idle node at a 10 ms keepalive, step by step (issue #17).

Not a test: it measures. Two production `Engine`s (core + wire translation) exchange frames
in-process over two links with simulated time (no sockets, no trio: what is left is the
Python the daemon runs per frame), settle on prime holding a group, and then, over
`--seconds` of simulated steady state, each step is timed with `perf_counter`:

  sign+encode  one heartbeat signed for every link (`Transmit`)
  decode       one received frame verified and parsed (`Engine.frame_event`)
  feed frame   the core taking a received frame in (`Engine.feed`)
  feed tick    the core's timer feed that sends the keepalive

Prints median and p99 (µs) per step. Run:  .venv/bin/python bench/frame_path.py --seconds 20
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

from twinbeat.core import (
    GroupSpec,
    GroupStarted,
    LeftoversFound,
    LinkEcho,
    Params,
    SendHeartbeat,
    Started,
    StartGroup,
    Tick,
)
from twinbeat.engine import Engine, Output, Transmit
from twinbeat.wire import Keyring

KEYRING = Keyring({1: ("sha256", b"bench-key-0123456789abcdef012345")}, 1)
LINK_IDS = {"eth1": 0, "/dev/ttyS0": 0x80}
STEP = 0.0005  # s of simulated time per turn of the loop


def params(node: str, peer: str) -> Params:
    return Params(node=node, peer=peer, links=tuple(LINK_IDS), keepalive=0.01, deadtime=0.04,
                  warntime=0.025, initdead=1.0, auto_failback=True,
                  groups=(GroupSpec("198.18.1.100", "prime"),), fingerprint=7, generation=1)


class Pair:
    def __init__(self) -> None:
        self.engines = {n: Engine(params(n, p), KEYRING, LINK_IDS, 0.0)
                        for n, p in (("prime", "calc"), ("calc", "prime"))}
        self.now = 0.0
        self.pending: list[tuple[str, str, bytes | str]] = []
        self.times: dict[str, list[float]] = {}
        self.timing = False
        for name, engine in self.engines.items():
            self.carry(name, engine.feed(Started(), 0.0))
            self.carry(name, engine.feed(LeftoversFound(()), 0.0))

    def timed(self, step: str, call: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        result = call()
        if self.timing:
            self.times.setdefault(step, []).append(time.perf_counter() - t0)
        return result

    def carry(self, name: str, outputs: list[Output]) -> None:
        other = "calc" if name == "prime" else "prime"
        for out in outputs:
            if isinstance(out, Transmit):
                self.pending += [(other, link, data) for link, data in out.payloads]
            elif isinstance(out, StartGroup):
                self.pending.append((name, "start", out.key))

    def run(self, until: float) -> None:
        while self.now < until:
            self.now = round(self.now + STEP, 6)
            queue, self.pending = self.pending, []
            for dst, link, data in queue:
                engine = self.engines[dst]
                if link == "start":
                    self.carry(dst, engine.feed(GroupStarted(str(data)), self.now))
                    continue
                event = self.timed("decode", lambda e=engine, ln=link, d=data:
                                   e.frame_event(ln, d))  # type: ignore[arg-type]
                if event is not None:
                    self.carry(dst, self.timed("feed frame", lambda e=engine, ev=event:
                                               e.feed(ev, self.now)))  # type: ignore[arg-type]
            for name, engine in self.engines.items():
                due = engine.next_deadline()
                if due is not None and self.now >= due:
                    self.carry(name, self.timed("feed tick", lambda e=engine:
                                                e.feed(Tick(), self.now)))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated steady state")
    args = parser.parse_args(argv)
    pair = Pair()
    pair.run(3.0)
    if pair.engines["calc"].snapshot().groups[0].holder != "prime":
        print("twinbeat bench: the pair did not settle on prime", file=sys.stderr)
        return 1
    engine = pair.engines["prime"]
    beat = SendHeartbeat(sequence=7, node_state=2, node_flags=0, groups=b"\x02",
                         echoes=tuple(LinkEcho(ln, 1234, 0) for ln in LINK_IDS),
                         timestamp_ms=5678)
    gc.freeze()
    pair.timing = True
    pair.run(3.0 + args.seconds)
    for _ in range(2000):
        pair.timed("sign+encode", lambda: engine._transmit(beat))
    print(f"{'step':<12} {'n':>6} {'median µs':>10} {'p99 µs':>8}")
    for step in ("sign+encode", "decode", "feed frame", "feed tick"):
        values = sorted(pair.times.get(step, []))
        if values:
            print(f"{step:<12} {len(values):>6} {statistics.median(values) * 1e6:>10.1f} "
                  f"{values[int(len(values) * 0.99)] * 1e6:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
