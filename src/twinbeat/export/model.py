"""The Pacemaker side of the export: a small model of the CIB that the renderers share.

`translate.py` builds one `Cluster` from the typed twinbeat `Config`; `cib.py` writes it as
XML, `crm.py` as a crmsh script and `pcs.py` as pcs commands. Keeping one model means the
three forms cannot disagree about what a haresources line became. Everything here is plain
frozen data; ids are already valid, unique XML ids (ids.py).

A `Note` is what could not be translated as it was (or not at all): it becomes a warning
line `path:line: warning: text` on stderr and a comment in the output it concerns. Never
a silent drop (issue #15).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

Pairs = tuple[tuple[str, str], ...]


class Target(enum.Enum):
    """Which output a note belongs to: corosync.conf, or the CIB (and its shell forms)."""

    COROSYNC = "corosync"
    CIB = "cib"


@dataclass(frozen=True, slots=True)
class Note:
    """One thing said about the translation, at the heartbeat file and line it comes from."""

    path: str
    line: int  # 0: about the whole file
    text: str
    target: Target

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: warning: {self.text}"


@dataclass(frozen=True, slots=True)
class Op:
    """A recurring operation (`monitor`); times in seconds, `timeout` None = Pacemaker's."""

    name: str
    interval: float
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Primitive:
    """One resource: `class:provider:type` (provider only for ocf), its parameters,
    meta-attributes and operations. `source` is what it was in heartbeat's files, and
    `comments` what the renderers write beside it."""

    id: str
    standard: str  # "ocf" | "lsb" | "systemd" | "stonith"
    provider: str | None
    type: str
    params: Pairs = ()
    meta: Pairs = ()
    ops: tuple[Op, ...] = ()
    source: str = ""
    comments: tuple[str, ...] = ()

    @property
    def agent(self) -> str:
        """`ocf:heartbeat:IPaddr2`, `lsb:apache2`, `stonith:fence_ipmilan`."""
        if self.provider is not None:
            return f"{self.standard}:{self.provider}:{self.type}"
        return f"{self.standard}:{self.type}"


@dataclass(frozen=True, slots=True)
class Group:
    """One haresources line: members start in order, on one node."""

    id: str
    members: tuple[Primitive, ...]
    primary: str
    source: str  # `path:line`
    meta: Pairs = ()


@dataclass(frozen=True, slots=True)
class Clone:
    """A primitive that runs on every node (the ping agent)."""

    id: str
    primitive: Primitive


@dataclass(frozen=True, slots=True)
class Preference:
    """`rsc` prefers `node` with `score` (haresources' first word)."""

    id: str
    rsc: str
    node: str
    score: int


@dataclass(frozen=True, slots=True)
class Connectivity:
    """`rsc` may not run where the ping agent's attribute is missing or zero."""

    id: str
    rsc: str
    attribute: str


@dataclass(frozen=True, slots=True)
class Cluster:
    """The whole CIB configuration, in the order the renderers write it."""

    nodes: tuple[tuple[int, str], ...]  # (corosync nodeid, name)
    properties: Pairs
    rsc_defaults: Pairs
    groups: tuple[Group, ...]
    clones: tuple[Clone, ...]
    fencing: tuple[Primitive, ...]
    preferences: tuple[Preference, ...]
    connectivity: tuple[Connectivity, ...]
    header: tuple[str, ...]  # comment lines at the top of each form


INFINITY = 1_000_000  # Pacemaker's score infinity


def score_text(score: int) -> str:
    """A score as the CIB writes it (`INFINITY`, `-INFINITY`, or the number)."""
    if score >= INFINITY:
        return "INFINITY"
    if score <= -INFINITY:
        return "-INFINITY"
    return str(score)


def duration(seconds: float) -> str:
    """A time as Pacemaker and crmsh read it: whole seconds as `5s`, else milliseconds."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
