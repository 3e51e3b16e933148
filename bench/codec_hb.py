"""heartbeat 3.0.6 codec benchmark: C (twinbeat.wire) vs the pure-Python reference, per message.

A real status message (the md5 capture's first; sha1 and crc runs re-sign its fields) in
both forms. Prints a table (not a test; nothing asserts timing): the minimum and the median
over R runs of N messages, in µs per message.

    .venv/bin/python bench/codec_hb.py [--runs 15] [--messages 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import hb_captures as cap
import reference_hb as ref
from twinbeat import wire

KEYS: dict[str, bytes | None] = {"md5": b"hb-lab-secret", "sha1": b"hb-lab-secret", "crc": None}


def per_message_us(loop: Callable[[int], None], n: int, runs: int) -> tuple[float, float]:
    loop(min(n, 500))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        loop(n)
        samples.append((time.perf_counter() - start) / n * 1e6)
    return min(samples), statistics.median(samples)


def codec_loops(data: bytes, *, enc: Callable[..., bytes], ref_enc: Callable[..., bytes],
                fields: list[wire.HbField], ring: wire.Keyring,
                keys: dict[int, tuple[str, bytes | None]]) -> dict[str, Callable[[int], None]]:
    """The four timed loops over one message, each bound to its own arguments."""
    plain = [tuple(f) for f in fields]

    def c_decode(n: int) -> None:
        for _ in range(n):
            wire.hb_decode_untrusted(data, ring)

    def c_encode(n: int) -> None:
        for _ in range(n):
            enc(fields, ring)

    def ref_decode(n: int) -> None:
        for _ in range(n):
            ref.decode(data, keys)

    def ref_encode(n: int) -> None:
        for _ in range(n):
            ref_enc(plain, 1, keys)

    return {"C decode": c_decode, "C encode": c_encode, "ref decode": ref_decode,
            "ref encode": ref_encode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    md5 = wire.Keyring({1: ("md5", KEYS["md5"])}, 1)
    first = cap.pcap_datagrams(cap.CAPTURES / "hb-md5.pcap")[0].payload
    fields = list(wire.hb_decode_untrusted(first, md5).fields)
    print(f"{'method':6} {'form':10} {'bytes':>5}  {'C decode':>14} {'C encode':>14} "
          f"{'ref decode':>14} {'ref encode':>14}   (µs/message: min / median)")
    for method, key in KEYS.items():
        ring = wire.Keyring({1: (method, key)}, 1)
        keys = {1: (method, key)}
        for form, enc, ref_enc in (
            ("netstring", wire.hb_encode_netstring, ref.encode_netstring),
            ("classic", wire.hb_encode_classic, ref.encode_classic),
        ):
            data = enc(fields, ring)
            loops = codec_loops(data, enc=enc, ref_enc=ref_enc, fields=fields, ring=ring, keys=keys)
            cells = []
            for loop in loops.values():
                low, mid = per_message_us(loop, args.messages, args.runs)
                cells.append(f"{low:6.2f} / {mid:5.2f}")
            print(f"{method:6} {form:10} {len(data):5}  " + " ".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()
