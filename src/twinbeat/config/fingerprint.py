"""The configuration fingerprint carried in every frame (docs/internals.md §1).

Two nodes may hand groups to each other only when they agree on who the nodes are and
what the groups are. The fingerprint is the first 4 bytes (big-endian) of SHA-256 over a
canonical text: the sorted node names, then one line per group with its preferred node
and its resource texts. Comments, blank lines, continuations and spacing in the files do
not change it; the order of groups and of resources within a group does, because it
changes start and stop order.
"""

from __future__ import annotations

import hashlib

from twinbeat.config.model import Group


def canonical_text(nodes: tuple[str, ...], groups: tuple[Group, ...]) -> str:
    """The exact text that is hashed (shown by tests; stable across versions)."""
    lines = ["twinbeat-fingerprint-1", "nodes " + " ".join(sorted(nodes))]
    lines += [
        "group " + g.primary + " " + " ".join(r.text for r in g.resources) for g in groups
    ]
    return "\n".join(lines) + "\n"


def fingerprint(nodes: tuple[str, ...], groups: tuple[Group, ...]) -> int:
    """u32 over `canonical_text`."""
    digest = hashlib.sha256(
        canonical_text(nodes, groups).encode("utf-8", "surrogateescape")
    ).digest()
    return int.from_bytes(digest[:4], "big")
