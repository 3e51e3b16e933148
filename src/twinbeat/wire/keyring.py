"""Keyring: the authkeys slots prepared once as C keys (keyed OpenSSL MAC contexts)."""

from __future__ import annotations

from typing import Any

from ._lib import ffi, lib

#: authkeys method names (plus twinbeat's sha256) to the C constants.
METHODS: dict[str, int] = {
    "crc": lib.TB_METHOD_CRC,
    "sha256": lib.TB_METHOD_SHA256,
    "sha1": lib.TB_METHOD_SHA1,
    "md5": lib.TB_METHOD_MD5,
}


class Keyring:
    """All configured keys; frames are signed with ``active`` and verified with any slot.

    Built once per authkeys file. It also owns the output buffer ``encode`` writes into,
    so a Keyring must not be used for encoding from two threads at once (the daemon is one
    trio thread; the C keys themselves are safe to share).
    """

    __slots__ = ("_keys", "_out", "_out_bytes", "_ptrs", "_used", "active", "methods")

    def __init__(self, keys: dict[int, tuple[str, bytes | None]], active: int) -> None:
        if active not in keys:
            raise ValueError(f"active key {active} is not among the keys {sorted(keys)}")
        self._used: list[int] = []
        self._keys: Any = ffi.new("tb_key[]", lib.TB_MAX_KEYS)
        self._ptrs: Any = ffi.new("tb_key *[]", lib.TB_MAX_KEYS)
        self.methods: dict[int, str] = {}
        for index, (method, secret) in sorted(keys.items()):
            self._add(index, method, secret)
        self.active: int = active
        self._out: Any = ffi.new("uint8_t[]", lib.TB_MAX_FRAME)
        # The same memory seen as char*, so ffi.unpack returns bytes in one step.
        self._out_bytes: Any = ffi.cast("char *", self._out)

    def _add(self, index: int, method: str, secret: bytes | None) -> None:
        if not isinstance(index, int) or not 0 <= index < lib.TB_MAX_KEYS:
            raise ValueError(f"key index {index!r} is not in 0..{lib.TB_MAX_KEYS - 1}")
        if method not in METHODS:
            raise ValueError(f"key {index}: unknown method {method!r} (one of {sorted(METHODS)})")
        if method == "crc":
            if secret:
                raise ValueError(f"key {index}: crc takes no key")
            secret = b""
        elif not isinstance(secret, bytes | bytearray) or not secret:
            raise ValueError(f"key {index}: {method} needs a non-empty key (bytes)")
        slot = ffi.addressof(self._keys, index)
        rc = lib.tb_key_init(slot, METHODS[method], bytes(secret), len(secret))
        if rc == lib.TB_ERR_CRYPTO:
            raise RuntimeError(f"key {index}: OpenSSL cannot prepare {method}")
        if rc != lib.TB_OK:
            raise ValueError(f"key {index}: {method} key refused ({rc})")
        self._used.append(index)
        self._ptrs[index] = slot
        self.methods[index] = method

    def __del__(self) -> None:
        # Release OpenSSL's contexts (the only heap memory the codec owns).
        keys = getattr(self, "_keys", None)
        for index in getattr(self, "_used", ()):
            lib.tb_key_free(ffi.addressof(keys, index))

    def __repr__(self) -> str:  # never show key bytes
        return f"Keyring(active={self.active}, methods={self.methods})"
