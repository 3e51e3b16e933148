"""The peer's generation as this node last accepted it, kept in the state directory.

The core follows the peer's incarnation in memory; across our own restarts it gets the
generation back from here (`Params.peer_generation`), so that it can name what the peer's
frames are: a replay of an older generation, a restart ("Heartbeat restart on node X"), or a
generation gone backwards (docs/core.md, Freshness). What makes the peer alive is never this
file but a fresh echo, so a lost or stale record costs words in the log, not safety.

File: `<state_dir>/peer-generation`, one line `NAME GENERATION` (e.g. `prime 7`), mode 0600,
replaced atomically (write, fsync, rename, fsync the directory) like `generation`. A record
naming another node (the configuration changed) is ignored; anything else unreadable refuses
the start with one line naming the file. Written when the core says so
(`RecordPeerGeneration`: once per restart of the peer, never per frame), by `PeerStateWriter`
in a worker thread, off the core task's path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import trio

PEER_GENERATION_FILE = "peer-generation"
MAX_GENERATION = 2**32 - 1  # a u32 on the wire

log = logging.getLogger("twinbeat")


class PeerStateError(Exception):
    """The peer-generation record cannot be read or written (one line, naming the file)."""


def load_peer_generation(state_dir: str | os.PathLike[str], peer: str) -> int | None:
    """The generation recorded for `peer`; None when there is no record (or it names
    another node). Raises `PeerStateError` when the file is unreadable or not a record."""
    path = Path(state_dir) / PEER_GENERATION_FILE
    try:
        text = path.read_bytes().decode("ascii")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PeerStateError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PeerStateError(f"{path}: not a peer generation record (not text)") from None
    fields = text.split()
    if len(fields) != 2 or len(text.splitlines()) != 1 or not fields[1].isdigit():
        raise PeerStateError(f"{path}: not a peer generation record: {text[:40]!r}")
    name, generation = fields[0], int(fields[1])
    if generation > MAX_GENERATION:
        raise PeerStateError(f"{path}: generation {generation} out of range")
    return generation if name == peer else None


def save_peer_generation(state_dir: str | os.PathLike[str], peer: str, generation: int) -> None:
    """Replace the record atomically and durably. Raises `PeerStateError`."""
    directory = Path(state_dir)
    path = directory / PEER_GENERATION_FILE
    tmp = path.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{peer} {generation}\n".encode("ascii"))
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
        raise PeerStateError(f"{path}: {exc.strerror or exc}") from None


class PeerStateWriter:
    """Writes the latest generation asked for, one write at a time, in a worker thread.

    `record` never blocks (the core task calls it); if the peer restarts twice while a
    write is under way, only the newer generation is written after it.
    """

    def __init__(self, state_dir: str | os.PathLike[str], peer: str) -> None:
        self.state_dir = state_dir
        self.peer = peer
        self._pending: int | None = None
        self._wake = trio.Event()

    def record(self, generation: int) -> None:
        self._pending = generation
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            generation, self._pending = self._pending, None
            if generation is None:
                continue
            try:
                await trio.to_thread.run_sync(save_peer_generation, self.state_dir, self.peer,
                                              generation)
            except PeerStateError as exc:
                log.warning("cannot record the peer's generation: %s", exc)
