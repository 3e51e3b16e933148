"""The node's generation counter: heartbeat's `hb_generation`, kept in the state directory.

Every start increments it and makes it durable before the first frame goes out, so that the peer
can tell a restarted node (higher generation: it holds nothing, its old sequence numbers are void)
from a replay of old frames (lower generation: dropped).
"""

from __future__ import annotations

import os
from pathlib import Path

GENERATION_FILE = "generation"
MAX_GENERATION = 2**32 - 1  # a u32 on the wire


class GenerationError(Exception):
    """The state directory or its generation file cannot be used; the daemon must not start."""


def bump_generation(state_dir: str | os.PathLike[str]) -> int:
    """Read, increment and durably store the generation; return the new value (from 1)."""
    directory = Path(state_dir)
    path = directory / GENERATION_FILE
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            text = "0"
        try:
            current = int(text)
        except ValueError:
            raise GenerationError(f"{path}: not a generation number: {text[:20]!r}") from None
        if not 0 <= current < MAX_GENERATION:
            raise GenerationError(f"{path}: generation {current} out of range")
        new = current + 1
        # Write-then-rename so a crash mid-write never leaves a truncated counter behind, and
        # fsync both file and directory: a restart must never reuse a generation (replays).
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{new}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise GenerationError(f"{path}: {exc.strerror or exc}") from None
    return new
