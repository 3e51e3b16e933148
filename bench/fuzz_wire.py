"""A long fuzz run of decode_untrusted: prints how many inputs were refused for each reason.

Invariants checked on every input (exit status 1 if one breaks):
  - only WireError escapes, with a reason from the header's table;
  - no damaged frame verifies under an HMAC key (a crc frame may, by design: no security).

    .venv/bin/python bench/fuzz_wire.py [--count 1000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

from wire_inputs import KEYS, hostile_inputs

from twinbeat import wire


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ring = wire.Keyring(KEYS, 0)  # knows every slot, so it signs with crc (protocol.md §Keys)
    counts: Counter[str] = Counter()
    failures = 0
    start = time.perf_counter()
    for original, data in hostile_inputs(args.seed, args.count):
        try:
            frame = wire.decode_untrusted(data, ring)
        except wire.WireError as exc:
            if exc.reason not in wire.REASON_NAMES:
                failures += 1
                print(f"unknown reason {exc.reason!r} for {data.hex()}")
            counts[exc.reason] += 1
            continue
        except Exception as exc:  # the invariant under test: this must never happen
            failures += 1
            print(f"{type(exc).__name__}: {exc} for {data.hex()}")
            continue
        if data == original:
            counts["accepted (unchanged)"] += 1
        elif KEYS[frame.key_index][0] == "crc":
            counts["accepted (changed, crc: no security)"] += 1
        else:
            failures += 1
            counts["FORGED"] += 1
            print(f"forged frame accepted: {data.hex()}")
    elapsed = time.perf_counter() - start

    print(f"{args.count} inputs, seed {args.seed}, {elapsed:.1f} s "
          f"({elapsed / args.count * 1e6:.2f} µs per input incl. generation)")
    print(f"{'outcome':40} {'count':>9}")
    for outcome, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{outcome:40} {n:9}")
    print("invariants held" if not failures else f"{failures} INVARIANT FAILURES")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
