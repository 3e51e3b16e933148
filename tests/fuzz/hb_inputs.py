"""Seeded generator of hostile heartbeat 3.0.6 messages for hb_decode_untrusted (used by
bench/fuzz_hb.py, tests/hostile/test_hb_messages.py and the oracle tests).

Random bytes almost never get past "###\\n" or ">>>\\n", so most inputs start from a valid
message in either form, signed with md5, sha1 or crc, and damage it where text parsers go
wrong: lengths, separators, markers, line ends, base64, the auth string, NULs, truncation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from twinbeat import wire

#: Every slot a different method; sha256 (slot 1) is twinbeat's and never heartbeat's.
KEYS: dict[int, tuple[str, bytes | None]] = {
    0: ("crc", None),
    1: ("sha256", b"fuzz-key-sha256"),
    2: ("sha1", b"fuzz-key-sha1"),
    3: ("md5", b"fuzz-key-md5"),
}
SIGNERS = (0, 2, 3)
_PRINTABLE = bytes(range(0x21, 0x7F)).replace(b"=", b"")
_VALUE_BYTES = bytes(range(1, 256)).replace(b"\r", b"").replace(b"\x13", b"")


def status_fields(rng: random.Random) -> list[wire.HbField]:
    """A status message as heartbeat 3.0.6 builds it (reference §1.6, §3.1)."""
    f = wire.HbField
    return [
        f(b"t", b"status"), f(b"st", rng.choice([b"init", b"up", b"active"])),
        f(b"dt", b"%x" % rng.randrange(1, 100_000)), f(b"protocol", b"1"),
        f(b"src", rng.choice([b"prime", b"calc", b"x" * 64])),
        f(b"srcuuid", rng.randbytes(16), True), f(b"seq", b"%x" % rng.randrange(1, 2**32)),
        f(b"hg", b"%x" % rng.getrandbits(32)), f(b"ts", b"%x" % rng.getrandbits(32)),
        f(b"ld", b"0.05 0.03 0.01 1/123 4567"), f(b"ttl", b"3"),
    ]


def random_fields(rng: random.Random) -> list[wire.HbField]:
    """Any fields both forms can carry: odd names, "=" and "\\n" in values, binary."""
    fields = []
    for _ in range(rng.randint(1, 12)):
        name = bytes(rng.choices(_PRINTABLE, k=rng.randint(1, 64)))
        if name.startswith(b"(") or name == b"auth":
            name = b"x" + name[1:]
        binary = rng.random() < 0.25
        value = (rng.randbytes(rng.randint(1, 40)) if binary
                 else bytes(rng.choices(_VALUE_BYTES, k=rng.randint(1, 60))))
        fields.append(wire.HbField(name, value, binary))
    return fields


def valid_message(rng: random.Random, rings: dict[int, wire.Keyring]) -> bytes:
    fields = status_fields(rng) if rng.random() < 0.5 else random_fields(rng)
    ring = rings[rng.choice(SIGNERS)]
    if rng.random() < 0.5:
        return wire.hb_encode_netstring(fields, ring, inner_auth=rng.random() < 0.8)
    return wire.hb_encode_classic(fields, ring)


def _at_special(rng: random.Random, d: bytes) -> int:
    """A position where the syntax lives: digits, separators, line ends, the trailer."""
    spots = [i for i, b in enumerate(d) if b in b"0123456789:,=\n()%#<>"]
    return rng.choice(spots) if spots else rng.randrange(len(d))


def _set_special(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    b[_at_special(rng, d)] = rng.choice(b"0123456789:,=\n()\x00\r\x13 AZaz%#<>")
    return bytes(b)


def _flip_bits(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    for _ in range(rng.randint(1, 3)):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def _splice_lines(rng: random.Random, d: bytes) -> bytes:
    sep = b"," if d.startswith(b"###") else b"\n"
    parts = d.split(sep)
    i, j = rng.randrange(len(parts)), rng.randrange(len(parts))
    choice = rng.randrange(4)
    if choice == 0:
        parts.insert(i, parts[j])  # a field twice
    elif choice == 1:
        parts[i], parts[j] = parts[j], parts[i]  # reordered
    elif choice == 2:
        del parts[i]
    else:
        parts.insert(i, b"")  # a blank line (classic: harmless)
    return sep.join(parts)


def _retag_auth(rng: random.Random, d: bytes) -> bytes:
    """The auth string: another slot, upper-case hex, a leading zero, a stray space."""
    for old in (b"auth=", b":"):
        k = d.rfind(old)
        if k >= 0:
            i = k + len(old)
            new = rng.choice([b"1 ", b"16 ", b"03 ", b"2  ", b"9 ", b"-1 ", b""])
            return d[:i] + new + d[i + 2 :] if rng.random() < 0.5 else d[:i] + d[i:].upper()
    return d


MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    _set_special,
    _set_special,
    _flip_bits,
    _splice_lines,
    _retag_auth,
    lambda rng, d: d[: rng.randrange(len(d))],
    lambda rng, d: d + rng.choice([b"\x00", b"\n", b",", rng.randbytes(rng.randint(1, 50))]),
    lambda rng, d: d[: rng.randrange(4, len(d))] + rng.randbytes(rng.randint(0, 200)),
    lambda rng, d: d[:4] + bytes(rng.choices(b"0123456789:,=\n()%#<>ab", k=rng.randint(0, 80))),
    lambda rng, d: d[: (i := rng.randrange(len(d)))] + d[i:] * rng.randint(2, 40),
]


def hostile_inputs(seed: int, count: int) -> Iterator[tuple[bytes, bytes]]:
    """Yield (original valid message, hostile bytes derived from it), `count` times."""
    rng = random.Random(seed)
    rings = {i: wire.Keyring({i: KEYS[i]}, i) for i in SIGNERS}
    original = b""
    for n in range(count):
        if n % 16 == 0:  # a fresh valid message now and then; building it is the slow part
            original = valid_message(rng, rings)
        if n % 101 == 0:
            yield original, original
        else:
            yield original, rng.choice(MUTATORS)(rng, original)
