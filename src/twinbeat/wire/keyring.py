"""Keyring: the authkeys slots prepared as C keys (keyed OpenSSL MAC contexts).

A C key is single-threaded (csrc/tb_mac.c explains the speed trade), so the Keyring keeps
one set of C keys, and one output buffer, per thread that uses it. Must not import trio.
"""

from __future__ import annotations

import threading
from typing import Any

from ._lib import ffi, lib

#: authkeys method names (plus twinbeat's sha256) to the C constants.
METHODS: dict[str, int] = {
    "crc": lib.TB_METHOD_CRC,
    "sha256": lib.TB_METHOD_SHA256,
    "sha1": lib.TB_METHOD_SHA1,
    "md5": lib.TB_METHOD_MD5,
}


class _Session:
    """One thread's prepared C keys and output buffer for one Keyring.

    ``sign`` is the active slot's C key, looked up once here so that ``encode`` does not
    index the table per frame.
    """

    __slots__ = ("keys", "out", "out_bytes", "ptrs", "sign", "used")

    def __init__(self, spec: dict[int, tuple[str, bytes]], active: int) -> None:
        self.used: list[int] = []
        self.keys: Any = ffi.new("tb_key[]", lib.TB_MAX_KEYS)
        self.ptrs: Any = ffi.new("tb_key *[]", lib.TB_MAX_KEYS)  # NULL = slot not configured
        for index, (method, secret) in spec.items():
            slot = ffi.addressof(self.keys, index)
            rc = lib.tb_key_init(slot, METHODS[method], secret, len(secret))
            if rc == lib.TB_ERR_CRYPTO:
                raise RuntimeError(f"key {index}: OpenSSL cannot prepare {method}")
            if rc != lib.TB_OK:
                raise ValueError(f"key {index}: {method} key refused (error {rc})")
            self.used.append(index)
            self.ptrs[index] = slot
        self.sign: Any = self.ptrs[active]
        self.out: Any = ffi.new("uint8_t[]", lib.TB_MAX_FRAME)
        # The same memory seen as char*, so ffi.unpack returns bytes in one step.
        self.out_bytes: Any = ffi.cast("char *", self.out)

    def __del__(self) -> None:
        # Release OpenSSL's contexts: the only heap memory the codec does not own itself.
        keys = getattr(self, "keys", None)
        for index in getattr(self, "used", ()):
            lib.tb_key_free(ffi.addressof(keys, index))


class Keyring:
    """All configured keys; frames are signed with ``active`` and verified with any slot.

    Every slot verifies, so that a key can be changed one node at a time (docs/protocol.md
    §Keys). That is only safe while no slot is weaker than the active one: a crc slot
    beside a keyed active slot would let anyone forge frames by naming its index, so it is
    refused here as well as by the authkeys parser. Immutable, so the rule cannot be
    bypassed later by switching ``active``: build a new Keyring instead.
    Built once per authkeys file; validation errors raise ValueError here, not later.
    """

    __slots__ = ("_active", "_spec", "_tls", "methods")

    def __init__(self, keys: dict[int, tuple[str, bytes | None]], active: int) -> None:
        if active not in keys:
            raise ValueError(f"active key {active} is not among the keys {sorted(keys)}")
        self._spec: dict[int, tuple[str, bytes]] = {}
        for index, (method, secret) in sorted(keys.items()):
            self._spec[index] = (method, _checked(index, method, secret))
        self.methods: dict[int, str] = {i: m for i, (m, _) in self._spec.items()}
        _refuse_weaker_slots(self.methods, active)
        self._active = active
        self._tls = threading.local()
        self.session()  # prepare now, so OpenSSL refusing a method surfaces here

    @property
    def active(self) -> int:
        """The slot that signs outgoing frames (authkeys `auth N`)."""
        return self._active

    def session(self) -> _Session:
        """This thread's C keys (made on first use in each thread)."""
        try:
            return self._tls.session  # type: ignore[no-any-return]
        except AttributeError:
            session = self._tls.session = _Session(self._spec, self._active)
            return session

    def __repr__(self) -> str:  # never show key bytes
        return f"Keyring(active={self._active}, methods={self.methods})"


def _refuse_weaker_slots(methods: dict[int, str], active: int) -> None:
    """ValueError if a crc slot sits beside a keyed active slot (see Keyring)."""
    if methods[active] == "crc":
        return  # the node's own frames are forgeable anyway; no slot is weaker than crc
    for index, method in methods.items():
        if method == "crc":
            raise ValueError(
                f"key {index}: crc beside the keyed active key {active} ({methods[active]})"
                " would let anyone forge frames; every slot verifies, so none may be weaker")


def _checked(index: object, method: object, secret: object) -> bytes:
    if type(index) is not int or not 0 <= index < lib.TB_MAX_KEYS:
        raise ValueError(f"key index {index!r} is not in 0..{lib.TB_MAX_KEYS - 1}")
    if method not in METHODS:
        raise ValueError(f"key {index}: unknown method {method!r} (one of {sorted(METHODS)})")
    if method == "crc":
        if secret:
            raise ValueError(f"key {index}: crc takes no key")
        return b""
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError(f"key {index}: {method} needs a non-empty key (bytes)")
    return bytes(secret)
