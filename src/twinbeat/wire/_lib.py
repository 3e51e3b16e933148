"""Load the compiled codec and derive the reason table from the header's constants.

This is the only module that imports the cffi extension; the other facade modules take
``ffi``/``lib`` from here. Must not import anything else from twinbeat.
"""

from __future__ import annotations

from ._advice import BUILD_ADVICE

try:
    from ._twinbeat_wire import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on how the package was installed
    raise ImportError(f"{BUILD_ADVICE} (the compiled module is missing: {exc})") from exc

#: Frame rejections: TB_ERR_<NAME> in csrc/twinbeat_wire.h becomes the reason "<name>".
#: ARG, CRYPTO and GARBAGE are not reasons a frame is refused for (see the header).
_NOT_REASONS = {"ARG", "CRYPTO", "GARBAGE"}
REASONS: dict[int, str] = {
    getattr(lib, name): name.removeprefix("TB_ERR_").lower()
    for name in dir(lib)
    if name.startswith("TB_ERR_") and name.removeprefix("TB_ERR_") not in _NOT_REASONS
}

__all__ = ["REASONS", "ffi", "lib"]
