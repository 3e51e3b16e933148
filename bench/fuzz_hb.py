"""A long fuzz run of hb_decode_untrusted (heartbeat 3.0.6 messages) and of the serial reader.

Prints how many inputs were refused for each reason. Invariants checked on every input (exit
status 1 if one breaks):
  - only WireError escapes, with a reason from the header's table;
  - a damaged message that verifies under an HMAC key says what the signer said (its fields
    but the classic auth field, in order: heartbeat's own coverage); crc may be forged;
  - the C codec and the pure-Python reference (tests/reference_hb.py) agree, on every
    --oracle-every'th input (the reference is ~20x slower);
  - the serial reader, fed all inputs as one stream in random reads, never hands on more
    than its bound and agrees with the reference reader's counts.

    .venv/bin/python bench/fuzz_hb.py [--count 1000000] [--seed 0] [--oracle-every 10]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

from hb_inputs import KEYS, hostile_inputs

import reference_codec
import reference_hb
from twinbeat import wire

HMAC_ONLY = {i: k for i, k in KEYS.items() if k[0] != "crc"}


def ref_verdict(data: bytes, keys: dict[int, tuple[str, bytes | None]]) -> object:
    try:
        msg = reference_hb.decode(data, keys)
    except reference_hb.RefHbError as exc:
        return exc.reason
    return [tuple(f) for f in msg.fields]


class Run:
    def __init__(self, oracle_every: int) -> None:
        self.ring = wire.Keyring(KEYS, 0)  # every slot, so it signs with crc
        self.hmac_ring = wire.Keyring(HMAC_ONLY, 2)
        self.oracle_every = oracle_every
        self.counts: Counter[str] = Counter()
        self.failures = 0

    def fail(self, what: str, data: bytes) -> None:
        self.failures += 1
        print(f"{what}: {data!r}"[:2000])

    def check(self, n: int, original: bytes, data: bytes) -> None:
        try:
            msg: wire.HbMessage | str = wire.hb_decode_untrusted(data, self.ring)
        except wire.WireError as exc:
            if exc.reason not in wire.REASON_NAMES:
                self.fail(f"unknown reason {exc.reason!r}", data)
            msg = exc.reason
        except Exception as exc:  # the invariant under test: this must never happen
            self.fail(f"{type(exc).__name__}: {exc}", data)
            return
        if isinstance(msg, str):
            self.counts[msg] += 1
        else:
            self.accepted(original, data, msg)
        if n % self.oracle_every == 0:
            ours = msg if isinstance(msg, str) else [tuple(f) for f in msg.fields]
            if ours != ref_verdict(data, KEYS):
                self.fail("the reference disagrees", data)

    def accepted(self, original: bytes, data: bytes, msg: wire.HbMessage) -> None:
        if data == original:
            self.counts["accepted (unchanged)"] += 1
        elif KEYS[msg.key_index][0] == "crc":
            self.counts["accepted (changed, crc: no security)"] += 1
        else:
            before = wire.hb_decode_untrusted(original, self.ring)
            if [f for f in msg.fields if f.name != b"auth"] != [
                    f for f in before.fields if f.name != b"auth"]:
                self.counts["FORGED"] += 1
                self.fail("forged message accepted", data)
            else:
                self.counts["accepted (blank lines / auth line moved)"] += 1


def deframe(stream: list[bytes], seed: int) -> tuple[Counter[str], bool]:
    """All inputs as one serial stream in random reads, through both readers."""
    rng = random.Random(seed)
    data = b"".join(stream)
    ours, theirs = wire.Deframer(), reference_codec.RefDeframer()
    out, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 4096)
        out += ours.feed(data[pos : pos + step])
        pos += step
    ref_out = theirs.feed(data)
    s = ours.stats
    ok = (out == ref_out and all(len(m) <= wire.HB_MAX_MSG for m in out)
          and (s.frames, s.classic_messages, s.dropped_garbage, s.dropped_oversize)
          == (theirs.frames, theirs.classic, theirs.dropped_garbage, theirs.dropped_oversize))
    counts = Counter({"serial: classic messages out": s.classic_messages,
                      "serial: frames out": s.frames, "serial: garbage": s.dropped_garbage,
                      "serial: oversize": s.dropped_oversize})
    return counts, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--oracle-every", type=int, default=10)
    parser.add_argument("--serial-inputs", type=int, default=50_000,
                        help="how many of the inputs also go through the serial readers")
    args = parser.parse_args()

    run = Run(args.oracle_every)
    stream: list[bytes] = []
    start = time.perf_counter()
    for n, (original, data) in enumerate(hostile_inputs(args.seed, args.count)):
        run.check(n, original, data)
        if n < args.serial_inputs:
            stream.append(data)
    serial_counts, serial_ok = deframe(stream, args.seed)
    if not serial_ok:
        run.fail("the serial readers disagree or overran", b"")
    elapsed = time.perf_counter() - start

    print(f"{args.count} inputs, seed {args.seed}, {elapsed:.1f} s "
          f"({elapsed / args.count * 1e6:.2f} µs per input incl. generation and oracle)")
    print(f"{'outcome':45} {'count':>9}")
    for outcome, n in [*sorted(run.counts.items(), key=lambda kv: -kv[1]),
                       *serial_counts.items()]:
        print(f"{outcome:45} {n:9}")
    print("invariants held" if not run.failures else f"{run.failures} INVARIANT FAILURES")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
