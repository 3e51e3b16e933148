"""cffi API-mode builder for the C wire codec in csrc/ (run by setuptools at install time)."""

from pathlib import Path

from cffi import FFI

# setuptools refuses absolute source paths; the build runs from the project root.
CSRC = Path("csrc")

ffibuilder = FFI()
ffibuilder.cdef("int tb_wire_version(void);")
ffibuilder.set_source(
    "twinbeat.wire._twinbeat_wire",
    '#include "twinbeat_wire.h"',
    sources=[str(CSRC / "twinbeat_wire.c")],
    include_dirs=[str(CSRC)],
    libraries=["crypto"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
