"""Control requests: one line of bytes from any local user -> a typed request.

The format is one flat JSON object per line (docs/internals.md §4):
`{"cmd": "status"}`, `{"cmd": "standby"|"takeover", "which": "local"|"foreign"|"all",
"timeout": seconds}`, `{"cmd": "clear", "group": KEY or null}` (forget a group's resource
failures; null or absent: every group), `{"cmd": "fence-ack", "node": NAME}` or
`{"cmd": "reload", "dry_run": false}` (re-read /etc/ha.d; dry_run: only say what it would
do). The socket is mode 0666 and this runs before SO_PEERCRED decides anything, so
`parse_request_untrusted` is a parser of hostile input in the sense of DESIGN.md §2: it
returns a request or raises `BadRequestError`, nothing else, whatever the bytes (a fuzz test
holds it to that).

Limits, and why:
- `MAX_REQUEST` bytes per line: the longest real request is under 100 bytes; 4 KiB leaves
  room for growth and keeps every later step (the scan, json, the error reply) cheap.
- `MAX_NESTING` levels of `[`/`{`, counted by a linear scan *before* json sees the line.
  Python's json decoder recurses once per level and raises RecursionError, not ValueError,
  at about a thousand: `b"[" * 2000` ended the daemon (issue #11). A request is one level;
  four leave room for a future list of objects without any recursion worth the name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_REQUEST = 4096
MAX_NESTING = 4
WHICH = ("local", "foreign", "all")
HANDOFF_COMMANDS = ("standby", "takeover")
DEFAULT_HANDOFF_TIMEOUT = 60.0
MAX_HANDOFF_TIMEOUT = 3600.0
MAX_GROUP_KEY = 1024  # characters; a key is a resource's text, far shorter in practice
FENCE_ACK = "fence-ack"
MAX_NODE_NAME = 64  # the wire's limit (config/limits.py); a longer name is no node

_STRUCTURE = re.compile(rb'[][{}"]')
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)  # after the opening quote


class BadRequestError(ValueError):
    """The line is not a request this daemon serves; `str(exc)` is the reason for the reply."""


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """`{"cmd": "status"}`: anyone may ask."""


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """`standby` or `takeover` (root only): which groups, and how long to wait for them."""

    cmd: str
    which: str
    timeout: float


@dataclass(frozen=True, slots=True)
class ClearRequest:
    """`clear` (root only): forget the resource failures of `group` (None: every group)."""

    group: str | None


@dataclass(frozen=True, slots=True)
class FenceAckRequest:
    """`fence-ack` (root only): the operator confirms `node` is off (docs/fencing.md)."""

    node: str


@dataclass(frozen=True, slots=True)
class ReloadRequest:
    """`reload` (root only): re-read the configuration files; `dry_run`: only tell."""

    dry_run: bool = False


Request = StatusRequest | HandoffRequest | ClearRequest | FenceAckRequest | ReloadRequest


def parse_request_untrusted(line: bytes) -> Request:
    """The request on `line` (without its newline); BadRequestError for anything else."""
    if len(line) > MAX_REQUEST:
        raise BadRequestError(f"request too long (over {MAX_REQUEST} bytes)")
    if nesting_exceeds(line, MAX_NESTING):
        raise BadRequestError(f"request nested deeper than {MAX_NESTING} levels")
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: unreachable after the scan
        raise BadRequestError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequestError("request is not a JSON object")
    return _request_from(value)


def nesting_exceeds(line: bytes, limit: int) -> bool:
    """True if `[`/`{` outside JSON strings nest deeper than `limit` anywhere in `line`.

    Linear and recursion-free: it jumps from one bracket or quote to the next, and over each
    string in one anchored match. It need not validate (json does that next), only never
    under-count a nesting json would follow.
    """
    if line.count(b"[") + line.count(b"{") <= limit:
        return False  # every real request: nothing to scan
    depth = 0
    position = 0
    while (found := _STRUCTURE.search(line, position)) is not None:
        position = found.end()
        token = found.group()
        if token == b'"':
            rest = _STRING_REST.match(line, position)
            position = rest.end() if rest else len(line)  # unterminated: json will refuse it
        elif token in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _request_from(value: dict[str, Any]) -> Request:
    cmd = value.get("cmd")
    if cmd == "status":
        return StatusRequest()
    if cmd == "clear":
        return _clear_from(value)
    if cmd == FENCE_ACK:
        return _fence_ack_from(value)
    if cmd == "reload":
        dry_run = value.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise BadRequestError("reload: dry_run must be true or false")
        return ReloadRequest(dry_run)
    if not (isinstance(cmd, str) and cmd in HANDOFF_COMMANDS):
        raise BadRequestError(f"unknown command {_shown(cmd)}")
    return _handoff_from(cmd, value)


def _clear_from(value: dict[str, Any]) -> ClearRequest:
    """The group is a key as written in haresources: printable text, bounded; whether such
    a group exists is the daemon's to say."""
    group = value.get("group")
    if group is None:
        return ClearRequest(None)
    if not isinstance(group, str) or not 0 < len(group) <= MAX_GROUP_KEY \
            or not group.isprintable():
        raise BadRequestError(f"clear: group must be a group key (1-{MAX_GROUP_KEY} printable "
                              "characters) or null")
    return ClearRequest(group)


def _handoff_from(cmd: str, value: dict[str, Any]) -> HandoffRequest:
    which = value.get("which", "all")
    if not (isinstance(which, str) and which in WHICH):
        raise BadRequestError(f"{cmd}: which must be one of {', '.join(WHICH)}")
    timeout = value.get("timeout", DEFAULT_HANDOFF_TIMEOUT)
    # bool is an int to Python, NaN fails every comparison, and a huge int is refused by the
    # range check before float() could overflow on it.
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
            or not 0 < timeout <= MAX_HANDOFF_TIMEOUT:
        raise BadRequestError(f"{cmd}: timeout must be 0 < seconds <= {MAX_HANDOFF_TIMEOUT:g}")
    return HandoffRequest(cmd, which, float(timeout))


def _fence_ack_from(value: dict[str, Any]) -> FenceAckRequest:
    """A node name as the wire carries them: 1-64 printable ASCII characters, no spaces.
    Whether it is the peer is the daemon's question (it knows the configuration)."""
    node = value.get("node")
    if not (isinstance(node, str) and 0 < len(node) <= MAX_NODE_NAME and node.isascii()
            and node.isprintable() and " " not in node):
        raise BadRequestError(f"{FENCE_ACK}: node must be a node name")
    return FenceAckRequest(node)


def _shown(value: object) -> str:
    """A client's value for an error reply: its repr, cut short (the reply is not an echo)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
