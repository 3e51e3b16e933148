"""Events (facts fed into the core) and actions (orders the core gives back).

Owns: every input and output type of `Node.feed` (docs/internals.md §3). All are small frozen
dataclasses; events are named in the past tense, actions in the imperative.
Must not import anything outside this package (and nothing doing I/O).
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import Params

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
class ForeignHeartbeat:
    """A verified message in another HA daemon's protocol, sent by `peer` on `link`.

    Today `protocol` is "heartbeat-3.0.6": the engine verified the message with the authkeys
    key as heartbeat does (docs/protocol.md §heartbeat 3.0.6 messages) and read its `t`
    (`message_type`), `st` (`status`, of a status message), `hg` (`generation`) and `seq`
    (`sequence`; None when absent or not hex). `fields` are its string fields in wire
    order, as text (binary ones, such as `srcuuid`, left out). The policy is foreign.py's,
    hbsession.py's and r1.py's.
    """

    link: str
    peer: str
    protocol: str
    message_type: str
    status: str | None
    generation: int | None
    sequence: int | None
    fields: tuple[tuple[str, str], ...] = ()


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
class ResourceFailed:
    """The monitor found resource number `resource` of group `key` failed (or its check hung
    past its timeout). `resource` is the 0-based index in the haresources line.

    `cannot_run`: the agent says this node cannot run it at all (OCF_ERR_INSTALLED,
    OCF_ERR_CONFIGURED): the group is given up here at once. The driver monitors only the
    groups the core asked it to (`StartMonitoring`), but a result may race with a stop: one
    for a group no longer held here is stale and ignored (monitoring.py).
    """

    key: str
    resource: int
    reason: str
    cannot_run: bool = False


@dataclass(frozen=True)
class GroupRestarted:
    """The `RestartGroup` succeeded: every resource of the group runs again."""

    key: str


@dataclass(frozen=True)
class GroupRestartFailed:
    """The `RestartGroup` failed.

    `rolled_back=True`: a start failed and the driver then stopped the *whole* group cleanly
    (nothing of it runs here). False: something could not be stopped (or the restart hung
    past its timeout): part of the group may run here, so it stays claimed (CRITICAL).
    """

    key: str
    reason: str
    rolled_back: bool = True


@dataclass(frozen=True)
class FailuresCleared:
    """`twinbeat clear [GROUP]`: forget the fail counts of `key` (None: of every group); a
    group given up here for failures may run here again."""

    key: str | None


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
class LinkCarrier:
    """The physical layer of `link`, as its driver sees it: a NIC's carrier and operstate,
    a serial line's modem lines (the peer's DTR is our DSR/DCD) or a hang-up/EIO.

    `up=False`: the link cannot carry frames now. The link is dead at once, and when every
    link is, so is the peer: no deadtime to wait (docs/core.md, Physical links). Only a
    frame that echoes a timestamp sent after the report proves the link again. `up=True`
    is news for the status; it proves nothing. A driver reports only what it can see: a
    link whose driver never reports keeps its timers alone.
    """

    link: str
    up: bool


@dataclass(frozen=True)
class ShutdownRequested:
    """Graceful stop: release everything, tell the peer, then ShutdownComplete."""


# Fencing (docs/core.md, Fencing; core/fencing.py). Fed only when `Params.fencing` is on and
# `peer` is `Params.peer` (anything else is `CoreMisuse`). A result for which no fence is
# outstanding (the peer came back, or an administrator confirmed it first) is logged and
# ignored.


@dataclass(frozen=True)
class PeerFenced:
    """The fence device confirmed that `peer` was powered off or reset (after `FencePeer`)."""

    peer: str


@dataclass(frozen=True)
class FenceFailed:
    """The fence device failed, refused, or did not answer within the driver's timeout."""

    peer: str
    reason: str


@dataclass(frozen=True)
class FenceAcknowledged:
    """An administrator confirmed by hand that `peer` is down (`twinbeat fence-ack NODE`,
    heartbeat's `meatclient`): treated like a confirmed fence."""

    peer: str


@dataclass(frozen=True)
class Reconfigured:
    """The configuration was reloaded (SIGHUP, `twinbeat reload`): `params` replaces the
    running ones (docs/core.md, Reload). The node, its peer and the run's own values
    (generation, timestamp origin, first sequence, peer_generation) must be the running
    ones; a reload `Node.reconfigure_refusal` refuses is `CoreMisuse`."""

    params: Params


Event = (
    Started
    | LeftoversFound
    | Tick
    | FrameReceived
    | ForeignHeartbeat
    | GroupStarted
    | GroupStartFailed
    | GroupStopped
    | GroupStopFailed
    | StandbyRequested
    | TakeoverRequested
    | PingReachability
    | LinkCarrier
    | ShutdownRequested
    | ResourceFailed
    | GroupRestarted
    | GroupRestartFailed
    | FailuresCleared
    | PeerFenced
    | FenceFailed
    | FenceAcknowledged
    | Reconfigured
)
# What the engine makes of bytes received on a link (engine.py `frame_event`).
LinkEvent = FrameReceived | ForeignHeartbeat

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
    """Send this node's full state on every link; `echoes` has exactly one entry per link.

    `fingerprint`: the configuration fingerprint the frame carries when it is not this node's
    own (`Params.fingerprint`): the peer's, whose layout `groups` then follows (a rolling
    reload, layouts.py; `node_flags` has NODE_FLAG_TRANSLATED)."""

    sequence: int
    node_state: int
    node_flags: int
    groups: bytes
    echoes: tuple[LinkEcho, ...]
    timestamp_ms: int
    fingerprint: int | None = None


@dataclass(frozen=True)
class StartGroup:
    key: str


@dataclass(frozen=True)
class StopGroup:
    key: str


@dataclass(frozen=True)
class RestartGroup:
    """Restart in place: stop resources `from_resource`.. of the group right to left, then
    start them again left to right; answer `GroupRestarted` or `GroupRestartFailed`."""

    key: str
    from_resource: int


@dataclass(frozen=True)
class StartMonitoring:
    """Monitor every resource of the group from now on (it is held here)."""

    key: str


@dataclass(frozen=True)
class StopMonitoring:
    """Stop monitoring the group (it is about to be stopped or restarted). Always issued
    before the `StopGroup`/`RestartGroup` of the same step."""

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
    """Run the fence device against `peer` (power off or reset) and report `PeerFenced` or
    `FenceFailed`. Any head-start delay has already been waited by the core (it is policy);
    emitted again for each retry, never while an attempt is outstanding."""

    peer: str


@dataclass(frozen=True)
class SendForeign:
    """Send a heartbeat 3.0.6 message on every link (hbsession.py): `fields` in order, all
    strings, control fields included; the engine encodes it for each link (netstring on
    UDP, classic text on serial) and signs it with the authkeys key."""

    fields: tuple[tuple[str, str], ...]


Action = (
    SendHeartbeat | StartGroup | StopGroup | Announce | Log | StatusChanged | ShutdownComplete
    | RecordPeerGeneration | FencePeer | RestartGroup | StartMonitoring | StopMonitoring
    | SendForeign
)
