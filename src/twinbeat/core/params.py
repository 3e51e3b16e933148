"""The core's configuration: `Params` and `GroupSpec`.

Owns: the plain values the core needs, built by the daemon from a `twinbeat.config.Config`
(docs/internals.md §3). Must not import twinbeat.config (the core stays independent of the
parsers) nor anything doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CoreMisuse


@dataclass(frozen=True)
class GroupSpec:
    """One haresources line: its key (first resource) and its preferred node."""

    key: str
    primary: str


@dataclass(frozen=True)
class Params:
    """Everything the core is told about the cluster (ha.cf + haresources + generation)."""

    node: str
    peers: tuple[str, ...]
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

    def validate(self) -> None:
        """Raise `CoreMisuse` for values the core cannot work with."""
        if self.node in self.peers or len(set(self.peers)) != len(self.peers):
            raise CoreMisuse("peers must be distinct and must not include the local node")
        if not self.links or len(set(self.links)) != len(self.links):
            raise CoreMisuse("links must be non-empty and distinct")
        if not 0 < self.keepalive < self.deadtime:
            raise CoreMisuse("need 0 < keepalive < deadtime")
        if self.warntime <= 0 or self.initdead <= 0:
            raise CoreMisuse("warntime and initdead must be positive")
        keys = [g.key for g in self.groups]
        if len(set(keys)) != len(keys):
            raise CoreMisuse("group keys must be unique")
        nodes = {self.node, *self.peers}
        for g in self.groups:
            if g.primary not in nodes:
                raise CoreMisuse(f"group {g.key}: primary {g.primary} is not a node")
        if len(self.groups) > 255:
            raise CoreMisuse("at most 255 groups")
