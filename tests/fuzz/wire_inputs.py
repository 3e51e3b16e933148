"""Seeded generator of hostile inputs for decode_untrusted (used by bench/fuzz_wire.py and
tests/hostile/test_wire_frames.py).

Pure random bytes almost never get past the magic, so most inputs start from a valid frame
and damage it the ways links do: bit flips, truncation, extension, spliced length bytes,
re-used MACs, wrong keys.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from twinbeat import wire

#: Every slot configured with a different method. A receiver that knows them all must sign
#: with crc (slot 0): a crc slot beside a keyed active slot is refused (docs/protocol.md §Keys).
KEYS: dict[int, tuple[str, bytes | None]] = {
    0: ("crc", None),
    1: ("sha256", b"fuzz-key-sha256"),
    2: ("sha1", b"fuzz-key-sha1"),
    3: ("md5", b"fuzz-key-md5"),
}
#: The same slots with other secrets: frames from this ring must never verify.
WRONG_KEYS: dict[int, tuple[str, bytes | None]] = {
    1: ("sha256", b"other"), 2: ("sha1", b"other"), 3: ("md5", b"other"),
}
_NAME_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))


def random_fields(rng: random.Random) -> dict:
    return dict(
        sender="".join(rng.choices(_NAME_CHARS, k=rng.randint(1, 64))),
        fingerprint=rng.getrandbits(32), generation=rng.getrandbits(32),
        sequence=rng.getrandbits(32), timestamp_ms=rng.getrandbits(32),
        echo_ms=rng.getrandbits(32), echo_delay_ms=rng.getrandbits(16),
        link_id=rng.getrandbits(8), node_state=rng.getrandbits(8),
        node_flags=rng.getrandbits(8), groups=rng.randbytes(rng.randint(0, 64)),
    )


def _flip_bits(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _set_byte(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    # Header bytes and length fields are where parsers go wrong; hit them more often.
    i = rng.choice([2, 3, 4, 5, len(b) - 1, rng.randrange(len(b))])
    b[i] = rng.choice([0, 1, 0x40, 0x41, 0xFF, rng.randrange(256)])
    return bytes(b)


MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    _flip_bits,
    _set_byte,
    lambda rng, d: d[: rng.randrange(len(d))],
    lambda rng, d: d + rng.randbytes(rng.randint(1, 300)),
    lambda rng, d: d[:-16] + rng.randbytes(16),
    lambda rng, d: bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))),
    lambda rng, d: b"TB\x01\x01" + rng.randbytes(rng.randint(0, 120)),
    lambda rng, d: d[: rng.randrange(len(d))] + d[rng.randrange(len(d)) :],
]


def hostile_inputs(seed: int, count: int) -> Iterator[tuple[bytes, bytes]]:
    """Yield (original valid frame, hostile bytes derived from it), ``count`` times."""
    rng = random.Random(seed)
    rings = {i: wire.Keyring({i: KEYS[i]}, i) for i in KEYS}
    wrong = {i: wire.Keyring(WRONG_KEYS, i) for i in WRONG_KEYS}
    frame = b""
    for n in range(count):
        if n % 16 == 0:  # a fresh valid frame now and then; signing is the slow part
            index = rng.choice(list(KEYS))
            frame = wire.encode(rings[index], **random_fields(rng))
        if n % 97 == 0:
            yield frame, wire.encode(wrong[rng.choice(list(WRONG_KEYS))], **random_fields(rng))
        else:
            yield frame, rng.choice(MUTATORS)(rng, frame)
