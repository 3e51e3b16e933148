"""The node's generation counter: heartbeat's `hb_generation`, kept in the state directory.

Every start increments it and makes it durable before the first frame goes out, so that the peer
can tell a restarted node (higher generation: it holds nothing, its old sequence numbers are void)
from a replay of old frames (lower generation: dropped).

The file is read as untrusted input: a disk error, a hand edit or an interrupted restore can
leave anything there. Anything but one decimal number in range is refused with one line naming
the file, and nothing is written: guessing (starting again from 1, or skipping the bad bytes)
could reuse a generation the peer has already seen, which is exactly what the counter exists
to prevent. The operator fixes or removes the file, knowing what they do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import time
from pathlib import Path

GENERATION_FILE = "generation"
HEARTBEAT_GENERATION_FILE = "hb_generation"  # in heartbeat's /var/lib/heartbeat
log = logging.getLogger("twinbeat")
MAX_GENERATION = 2**32 - 1  # a u32 on the wire
# What we write is at most ten digits and a newline; reading a little more than any plausible
# hand-written counter tells a counter from some other file without reading a huge one.
MAX_FILE_BYTES = 64
_NUMBER = re.compile(rb"[0-9]+")


class GenerationError(Exception):
    """The state directory or its generation file cannot be used; the daemon must not start."""


def bump_generation(state_dir: str | os.PathLike[str], *, at_least: int = 0) -> int:
    """Read, increment and durably store the generation; return the new value (from 1), and
    above `at_least` (heartbeat's last generation on this machine: `heartbeat_generation`).

    Raises GenerationError (one line, naming the file) and writes nothing when the directory
    or the file cannot be used.
    """
    directory = Path(state_dir)
    path = directory / GENERATION_FILE
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        new = max(_read(path), min(at_least, MAX_GENERATION - 1)) + 1
        # A symlinked counter (state kept on another file system) stays a symlink: the new
        # value replaces the file it points to.
        _store(Path(os.path.realpath(path)), new)
    except OSError as exc:
        raise GenerationError(f"{path}: {exc.strerror or exc}") from None
    return new


def start_generation(state_dir: str | os.PathLike[str],
                     heartbeat_state_dir: str | os.PathLike[str]) -> int:
    """This run's generation: `bump_generation`, above heartbeat's on a migrated node (a
    bad heartbeat counter is one warning, see `heartbeat_generation`)."""
    seed, why = heartbeat_generation(heartbeat_state_dir)
    if why is not None:
        log.warning("heartbeat's generation not read (%s): a heartbeat peer may drop this "
                    "node's messages as replays (docs/migrating.md)", why)
    return bump_generation(state_dir, at_least=seed)


def wall_clock_offset(now: float) -> float:
    """Unix time minus the event loop's clock at `now`: heartbeat's messages carry a
    wall-clock `ts` (core/hbsession.py), the core only the loop's time."""
    return time.time() - now


def heartbeat_generation(state_dir: str | os.PathLike[str]) -> tuple[int, str | None]:
    """heartbeat 3.0.6's last generation on this machine (`hb_generation` in its state dir,
    `%15lu`), and why it was not read (None: read, or no heartbeat there).

    Why (issue #14, docs/migrating.md): a heartbeat peer remembers this node's generation from
    the heartbeat that ran here and drops anything with a lower one as a replay. So twinbeat's
    first generation on a migrated node must be above it. Not our file: anything odd in it is
    reported and ignored, never fatal.
    """
    path = Path(state_dir) / HEARTBEAT_GENERATION_FILE
    try:
        return _read(path), None
    except GenerationError as exc:
        return 0, str(exc)
    except OSError as exc:
        return 0, f"{path}: {exc.strerror or exc}"


def _read(path: Path) -> int:
    """The stored generation, 0 when there is no file yet; GenerationError if it is not one."""
    try:
        # O_NONBLOCK: a FIFO put in the file's place must not hang the start in open().
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        if path.is_symlink():
            # e.g. the counter lives on a file system that is not mounted: starting again
            # from 1 would reuse generations.
            raise GenerationError(f"{path}: symlink to a missing file "
                                  f"({os.readlink(path)})") from None
        return 0
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GenerationError(f"{path}: not a regular file")
        data = b""
        while len(data) <= MAX_FILE_BYTES and (chunk := os.read(fd, MAX_FILE_BYTES + 1)):
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise GenerationError(f"{path}: not a generation counter (over {MAX_FILE_BYTES} bytes)")
    text = data.strip()
    if not text:
        raise GenerationError(f"{path}: empty (expected one decimal number)")
    if not _NUMBER.fullmatch(text):
        raise GenerationError(f"{path}: not a generation number: {repr(text[:20])[1:]} "
                              "(expected one decimal number)")
    current = int(text)
    if current >= MAX_GENERATION:
        raise GenerationError(f"{path}: generation {current} out of range")
    return current


def _store(path: Path, value: int) -> None:
    """Write-then-rename, so a crash mid-write never leaves a truncated counter behind; fsync
    both file and directory, because a restart must never reuse a generation (replays)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        try:
            os.write(fd, f"{value}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full disk must not leave a stray temporary file
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
