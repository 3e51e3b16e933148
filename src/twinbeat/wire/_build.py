"""cffi API-mode builder for the C wire codec in csrc/ (run by setuptools at install time).

The cdef is derived from csrc/twinbeat_wire.h, the single source of truth: the text between
its TB_CDEF_BEGIN/TB_CDEF_END markers, minus comments and preprocessor lines other than
integer ``#define TB_...`` constants (which cffi turns into ``lib.TB_...``). Deriving it
instead of keeping a second, cdef-clean copy means a prototype or error code cannot change
in one place and not the other.
"""

from __future__ import annotations

import os
import re
import runpy
import shlex
import subprocess
import sysconfig
from pathlib import Path

from cffi import FFI

# setuptools refuses absolute source paths; the build runs from the project root.
CSRC = Path("csrc")
HEADER = CSRC / "twinbeat_wire.h"
SOURCES = [
    "tb_frame.c", "tb_mac.c", "tb_cobs.c", "tb_deframe.c",
    "tb_base64.c", "tb_hb.c", "tb_hb_encode.c",  # heartbeat 3.0.6 messages
]

_INT_DEFINE = re.compile(r"#define\s+TB_\w+\s+-?\d+\s*$")


def _advice() -> str:
    here = Path(__file__).resolve().parent
    return str(runpy.run_path(str(here / "_advice.py"))["BUILD_ADVICE"])


def cdef_from_header(text: str) -> str:
    """Return the cffi-parsable part of the header text (see the module docstring)."""
    try:
        body = text.split("/* TB_CDEF_BEGIN */", 1)[1].split("/* TB_CDEF_END */", 1)[0]
    except IndexError as exc:
        raise RuntimeError(f"{HEADER}: missing TB_CDEF_BEGIN/TB_CDEF_END markers") from exc
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.DOTALL)
    lines = []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not _INT_DEFINE.match(stripped):
            continue
        lines.append(line)
    return "\n".join(lines)


def check_toolchain() -> None:
    """Fail early, with install advice, when there is no compiler or no OpenSSL header.

    Without this, a missing libssl-dev shows up as a long compiler traceback that does not
    say which package to install.
    """
    # The compiler setuptools will use: $CC if set, else the one Python was built with.
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    probe = b"#include <openssl/evp.h>\n#include <openssl/core_names.h>\n"
    try:
        result = subprocess.run(
            [*cc, "-E", "-x", "c", "-", "-o", "/dev/null"],
            input=probe,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise RuntimeError(_advice()) from exc
    if result.returncode != 0:
        raise RuntimeError(f"{_advice()}\n{result.stderr.decode(errors='replace')}")


def make_builder() -> FFI:
    """The FFI object setuptools compiles (``cffi_modules`` in setup.py)."""
    check_toolchain()
    builder = FFI()
    builder.cdef(cdef_from_header(HEADER.read_text()))
    builder.set_source(
        "twinbeat.wire._twinbeat_wire",
        '#include "twinbeat_wire.h"',
        sources=[str(CSRC / name) for name in SOURCES],
        include_dirs=[str(CSRC)],
        libraries=["crypto"],
        extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra"],
    )
    return builder


ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
