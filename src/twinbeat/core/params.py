"""The core's configuration: `Params` and `GroupSpec`.

Owns: the plain values the core needs, built by the daemon from a `twinbeat.config.Config`
(docs/internals.md §3). Must not import twinbeat.config (the core stays independent of the
parsers) nor anything doing I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import CoreMisuse
from .states import U32


@dataclass(frozen=True)
class GroupSpec:
    """One haresources line: its key (first resource), its preferred node, and the texts of
    its resources as written there (for log lines and the status; () when unknown)."""

    key: str
    primary: str
    resources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params:
    """Everything the core is told about the cluster (ha.cf + haresources + generation).

    `peer` is the other node of the pair, or None when ha.cf names only this node (heartbeat
    accepts that: the node then holds every group alone). Two nodes is the product: the wire
    carries one echo per frame, so the core models exactly one peer.

    `peer_generation` is the peer's generation as the previous run last accepted it (the
    daemon keeps it in the state dir: `RecordPeerGeneration`), None when unknown. It names
    what the peer's frames are (a replay, a restart, a generation gone backwards); it is
    never what makes the peer alive — only a fresh echo does (docs/core.md, Freshness).
    `timestamp_origin` is added to every timestamp we send (the daemon draws it at random
    per run); `first_sequence` is the first sequence number we send: 1 in production, near
    2^32 in the simulator so that every run may cross the wrap.

    Monitoring (monitoring.py, docs/core.md §Monitoring): a group whose resources failed
    `migration_threshold` times here within `failure_timeout` seconds is given up here
    (Pacemaker's migration-threshold and failure-timeout); failures older than that are
    forgotten, and 0 means never.
    """

    node: str
    peer: str | None
    links: tuple[str, ...]
    keepalive: float
    deadtime: float
    warntime: float
    initdead: float
    auto_failback: bool
    groups: tuple[GroupSpec, ...]
    fingerprint: int
    generation: int
    ping_configured: bool = False
    peer_generation: int | None = None
    timestamp_origin: int = 0
    first_sequence: int = 1
    migration_threshold: int = 3
    failure_timeout: float = 600.0
    fencing: bool = False
    fence_delay: float = 0.0

    def validate(self) -> None:
        """Raise `CoreMisuse` for values the core cannot work with."""
        if self.peer is not None and self.peer in ("", self.node):
            raise CoreMisuse("the peer must be named and must not be the local node")
        if not self.links or len(set(self.links)) != len(self.links):
            raise CoreMisuse("links must be non-empty and distinct")
        if not 0 < self.keepalive < self.deadtime:
            raise CoreMisuse("need 0 < keepalive < deadtime")
        if self.warntime <= 0 or self.initdead <= 0:
            raise CoreMisuse("warntime and initdead must be positive")
        if not 0 <= self.fence_delay < float("inf"):
            raise CoreMisuse("fence_delay must be a finite number of seconds >= 0")
        keys = [g.key for g in self.groups]
        if len(set(keys)) != len(keys):
            raise CoreMisuse("group keys must be unique")
        nodes = {self.node} if self.peer is None else {self.node, self.peer}
        for g in self.groups:
            if g.primary not in nodes:
                raise CoreMisuse(f"group {g.key}: primary {g.primary} is not a node")
        if len(self.groups) > 255:
            raise CoreMisuse("at most 255 groups")
        self._validate_counters()

    def _validate_counters(self) -> None:
        if not 0 <= self.generation <= U32:
            raise CoreMisuse("generation must be a u32")
        if self.peer_generation is not None and not 0 <= self.peer_generation <= U32:
            raise CoreMisuse("peer_generation must be a u32")
        if not 0 <= self.timestamp_origin <= U32:
            raise CoreMisuse("timestamp_origin must be a u32")
        if not 1 <= self.first_sequence <= U32:
            raise CoreMisuse("first_sequence must be 1 .. 2^32 - 1 (0 is never sent)")
        if type(self.migration_threshold) is not int or self.migration_threshold < 1:
            raise CoreMisuse("migration_threshold must be an integer >= 1")
        if not 0 <= self.failure_timeout < math.inf:
            raise CoreMisuse("failure_timeout must be >= 0 seconds (0: never forgotten)")
