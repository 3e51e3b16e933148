"""Events (facts fed into the core) and actions (orders the core gives back).

Owns: every input and output type of `Node.feed` (docs/internals.md §3). All are small frozen
dataclasses; events are named in the past tense, actions in the imperative.
Must not import anything outside this package (and nothing doing I/O).
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Started:
    """The daemon is up; the driver now probes resources left running (leftovers)."""


@dataclass(frozen=True)
class LeftoversFound:
    """Groups whose agents report running before this node joined (a crashed daemon's)."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class Tick:
    """Time passed (the daemon woke up at `next_deadline()`)."""


@dataclass(frozen=True)
class FrameReceived:
    """A frame that passed the MAC check, sent by `peer`, on `link`.

    Every authenticated frame is fed, whatever its sender: the core ignores its own (a
    broadcast looping back) and counts an unknown sender as rejected ("unknown-peer").
    Frames the wire refuses never get here: the engine counts them (engine.py).
    """

    link: str
    peer: str
    generation: int
    sequence: int
    timestamp_ms: int
    echo_ms: int
    echo_delay_ms: int
    fingerprint: int
    node_state: int
    node_flags: int
    groups: bytes


@dataclass(frozen=True)
class GroupStarted:
    key: str


@dataclass(frozen=True)
class GroupStartFailed:
    """Start failed; the driver stopped that group's started resources in reverse order.

    `rolled_back` is False when one of those stops failed too: part of the group may still
    run here, so the group is claimed as CRITICAL (like a failed stop), never handed over.
    """

    key: str
    reason: str
    rolled_back: bool = True


@dataclass(frozen=True)
class GroupStopped:
    key: str


@dataclass(frozen=True)
class GroupStopFailed:
    key: str
    reason: str


@dataclass(frozen=True)
class StandbyRequested:
    """`twinbeat standby local|foreign|all`: hand these groups to the peer."""

    which: str


@dataclass(frozen=True)
class TakeoverRequested:
    """`twinbeat takeover local|foreign|all`: pull these groups to this node."""

    which: str


@dataclass(frozen=True)
class PingReachability:
    """Whether at least one configured ping node answers (ha.cf `ping`/`ping_group`)."""

    reachable: bool


@dataclass(frozen=True)
class ShutdownRequested:
    """Graceful stop: release everything, tell the peer, then ShutdownComplete."""


@dataclass(frozen=True)
class PeerFenced:
    """The fence driver confirmed `peer` is off (or was reset) after a `FencePeer`."""

    peer: str


@dataclass(frozen=True)
class FenceFailed:
    """The fence driver could not confirm `peer` is off: failed, refused or timed out."""

    peer: str
    reason: str


@dataclass(frozen=True)
class FenceAcknowledged:
    """`twinbeat fence-ack NODE` (root): the operator confirms `peer` is off."""

    peer: str


Event = (
    Started
    | LeftoversFound
    | Tick
    | FrameReceived
    | GroupStarted
    | GroupStartFailed
    | GroupStopped
    | GroupStopFailed
    | StandbyRequested
    | TakeoverRequested
    | PingReachability
    | ShutdownRequested
    | PeerFenced
    | FenceFailed
    | FenceAcknowledged
)

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class LinkEcho:
    """What to echo on `link`: the peer's last timestamp_ms received there and the ms since.

    0, 0 when nothing has been heard on the link (or there is no peer). The wire carries one
    echo per frame, and a twinbeat cluster is two nodes: one LinkEcho per link.
    """

    link: str
    echo_ms: int
    echo_delay_ms: int


@dataclass(frozen=True)
class SendHeartbeat:
    """Send this node's full state on every link; `echoes` has exactly one entry per link."""

    sequence: int
    node_state: int
    node_flags: int
    groups: bytes
    echoes: tuple[LinkEcho, ...]
    timestamp_ms: int


@dataclass(frozen=True)
class StartGroup:
    key: str


@dataclass(frozen=True)
class StopGroup:
    key: str


@dataclass(frozen=True)
class Announce:
    """Re-send gratuitous ARPs for the group's addresses (after split-brain healing)."""

    key: str


@dataclass(frozen=True)
class Log:
    level: str  # "debug" | "info" | "warning" | "error" | "critical"
    message: str


@dataclass(frozen=True)
class StatusChanged:
    """One-line status for sd_notify STATUS=."""

    text: str


@dataclass(frozen=True)
class ShutdownComplete:
    pass


@dataclass(frozen=True)
class RecordPeerGeneration:
    """Keep `generation` as the peer's in the state dir (daemon/peerstate.py); the next run
    gets it back as `Params.peer_generation`.

    Issued when the core accepts a generation of the peer other than the one last recorded:
    once per restart of the peer (or of its generation going backwards), never per frame.
    Losing it costs only the names given to the peer's frames after our next restart
    ("Heartbeat restart", "generation went backwards"); liveness never depends on it.
    """

    peer: str
    generation: int


@dataclass(frozen=True)
class FencePeer:
    """Run the configured fence device(s) against `peer` now (any head start already waited);
    the driver answers with exactly one `PeerFenced` or `FenceFailed`."""

    peer: str


Action = (
    SendHeartbeat | StartGroup | StopGroup | Announce | Log | StatusChanged | ShutdownComplete
    | RecordPeerGeneration | FencePeer
)

# STUB (fence-drv): the core fencing contract without its policy, so the fence driver's branch
# runs; the core never issues FencePeer here. Dropped when fence-core's implementation merges;
# tests that need the real policy skip while this is True.
FENCING_CONTRACT_STUB = True
