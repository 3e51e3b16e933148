"""Codec benchmark: C path through twinbeat.wire vs the pure-Python reference codec.

Prints tables (not a test; nothing here asserts timing). Per-frame costs are the mean of
one run of N frames; the median and p99 are taken over R runs.

    .venv/bin/python bench/codec.py [--runs 30] [--frames 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference_codec as ref
from twinbeat import wire
from twinbeat.wire._lib import lib

KEYS: dict[str, bytes | None] = {
    "sha256": b"86e07a217fcd61fb981872ec57b68845",
    "sha1": b"86e07a217fcd61fb981872ec57b68845",
    "md5": b"86e07a217fcd61fb981872ec57b68845",
    "crc": None,
}
HEARTBEAT_UDP, HEARTBEAT_SERIAL = 290, 580  # ../shared/reference/heartbeat-3.0.6.md §1.4


def per_frame_ns(
    loop: Callable[[int], None], frames: int, runs: int
) -> tuple[float, float, float]:
    loop(min(frames, 2000))  # warm up
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        loop(frames)
        samples.append((time.perf_counter_ns() - start) / frames)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    # The minimum is shown too: on a shared machine it is the best estimate of the cost.
    return samples[0], statistics.median(samples), p99


def c_encode_loop(ring: wire.Keyring) -> Callable[[int], None]:
    encode = wire.encode

    def loop(n: int) -> None:
        for seq in range(n):
            encode(ring, sender="prime", fingerprint=0x1234ABCD, generation=7, sequence=seq,
                   timestamp_ms=123456, echo_ms=123000, echo_delay_ms=12, link_id=0,
                   node_state=2, node_flags=3, groups=b"\x02")
    return loop


def ref_encode_loop(key: ref.RefKey) -> Callable[[int], None]:
    encode = ref.encode

    def loop(n: int) -> None:
        for seq in range(n):
            encode(key, 1, sender="prime", fingerprint=0x1234ABCD, generation=7, sequence=seq,
                   timestamp_ms=123456, echo_ms=123000, echo_delay_ms=12, link_id=0,
                   node_state=2, node_flags=3, groups=b"\x02")
    return loop


def decode_loop(decode: Callable, data: bytes, keys: object) -> Callable[[int], None]:
    def loop(n: int) -> None:
        for _ in range(n):
            decode(data, keys)
    return loop


def sample_frame(ring: wire.Keyring, seq: int = 42) -> bytes:
    return wire.encode(ring, sender="prime", fingerprint=0x1234ABCD, generation=7,
                       sequence=seq, timestamp_ms=123456, echo_ms=123000, echo_delay_ms=12,
                       link_id=0, node_state=2, node_flags=3, groups=b"\x02")


def bench_frames(runs: int, frames: int) -> None:
    print(f"\nPer frame, ns (min / median / p99 over {runs} runs x {frames} frames)")
    print(f"{'method':8} {'op':15} {'C facade':>20} {'reference':>20} {'ref/C med':>9}")
    for method, key in KEYS.items():
        ring = wire.Keyring({1: (method, key)}, 1)
        ref_keys = ref.make_keys({1: (method, key)}, 1)
        data = sample_frame(ring)
        rows = [
            ("sign+encode", c_encode_loop(ring), ref_encode_loop(ref_keys[1])),
            ("verify+decode", decode_loop(wire.decode_untrusted, data, ring),
             decode_loop(ref.decode, data, ref_keys)),
        ]
        for op, c_loop, r_loop in rows:
            c_min, c_med, c_p99 = per_frame_ns(c_loop, frames, runs)
            r_min, r_med, r_p99 = per_frame_ns(r_loop, frames, runs)
            print(f"{method:8} {op:15} {c_min:6.0f}/{c_med:6.0f}/{c_p99:6.0f}"
                  f" {r_min:6.0f}/{r_med:6.0f}/{r_p99:6.0f} {r_med / c_med:9.2f}")


def bench_deframer(runs: int) -> None:
    ring = wire.Keyring({1: ("sha256", KEYS["sha256"])}, 1)
    stream = b"".join(wire.cobs_frame(sample_frame(ring, seq)) for seq in range(4000))
    chunks = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]

    def rate(make: Callable[[], object]) -> float:
        best = []
        for _ in range(runs):
            deframer = make()
            start = time.perf_counter_ns()
            for chunk in chunks:
                deframer.feed(chunk)  # type: ignore[attr-defined]
            best.append(len(stream) / ((time.perf_counter_ns() - start) / 1e9) / 1e6)
        return statistics.median(best)

    c_rate, r_rate = rate(wire.Deframer), rate(ref.RefDeframer)
    print(f"\nDeframer, {len(stream)} bytes of COBS status frames in 4 KiB chunks (median MB/s)")
    print(f"{'C facade':>10} {'reference':>10} {'C/ref':>6}")
    print(f"{c_rate:10.1f} {r_rate:10.1f} {c_rate / r_rate:6.1f}")


def bench_sizes() -> None:
    print("\nBytes per two-node status frame (name 'prime', one group)")
    print(f"{'method':8} {'UDP':>5} {'serial':>7} {'ms@19200':>9}   heartbeat 3.0.6 text frames")
    for method, key in KEYS.items():
        data = sample_frame(wire.Keyring({1: (method, key)}, 1))
        on_line = len(wire.cobs_frame(data))
        print(f"{method:8} {len(data):5} {on_line:7} {on_line / 1.92:9.1f}")
    print(f"{'heartbeat':8} {HEARTBEAT_UDP:5} {HEARTBEAT_SERIAL:7} {HEARTBEAT_SERIAL / 1.92:9.1f}"
          "   (~290 B UDP netstring, ~580 B serial classic)")


def calibrate() -> None:
    call = lib.tb_wire_version
    n = 1_000_000
    start = time.perf_counter_ns()
    for _ in range(n):
        call()
    print(f"calibration: empty cffi call {(time.perf_counter_ns() - start) / n:.0f} ns "
          "(DESIGN.md §9 measured ~45 ns on its machine)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--frames", type=int, default=20_000)
    args = parser.parse_args()
    calibrate()
    bench_frames(args.runs, args.frames)
    bench_deframer(min(args.runs, 10))
    bench_sizes()


if __name__ == "__main__":
    main()
