"""twinbeat.core: the sans-IO heartbeat machine (docs/internals.md §3, docs/core.md).

Events in, actions out, time passed in. Nothing here imports trio, socket, os, time,
subprocess, logging or twinbeat.config.
"""

from .errors import CoreMisuse
from .events import (
    Action,
    Announce,
    Event,
    FailuresCleared,
    FenceAcknowledged,
    FenceFailed,
    FencePeer,
    ForeignHeartbeat,
    FrameReceived,
    GroupRestarted,
    GroupRestartFailed,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    LinkCarrier,
    LinkEcho,
    LinkEvent,
    Log,
    PeerFenced,
    PingReachability,
    Reconfigured,
    RecordPeerGeneration,
    ResourceFailed,
    RestartGroup,
    SendForeign,
    SendHeartbeat,
    ShutdownComplete,
    ShutdownRequested,
    StandbyRequested,
    Started,
    StartGroup,
    StartMonitoring,
    StatusChanged,
    StopGroup,
    StopMonitoring,
    TakeoverRequested,
    Tick,
)
from .foreign import PROTOCOL_HEARTBEAT
from .handoff import HandoffPlan
from .node import Node
from .params import GroupSpec, Params
from .snapshot import (
    FenceRecord,
    FenceSnapshot,
    ForeignLinkSnapshot,
    ForeignSnapshot,
    GroupSnapshot,
    LinkCounters,
    LinkSnapshot,
    PeerLinkSnapshot,
    PeerSnapshot,
    ResourceSnapshot,
    Snapshot,
)
from .states import (
    GROUP_FLAG_WANT,
    GROUP_FLAG_YIELD,
    NODE_FLAG_PING_CONFIGURED,
    NODE_FLAG_PING_OK,
    NODE_FLAG_TRANSLATED,
    WireGroupState,
    WireNodeState,
)

__all__ = [
    "GROUP_FLAG_WANT", "GROUP_FLAG_YIELD", "NODE_FLAG_PING_CONFIGURED", "NODE_FLAG_PING_OK",
    "NODE_FLAG_TRANSLATED", "PROTOCOL_HEARTBEAT", "Action", "Announce", "CoreMisuse", "Event",
    "FailuresCleared", "FenceAcknowledged", "FenceFailed", "FencePeer", "FenceRecord",
    "FenceSnapshot", "ForeignHeartbeat", "ForeignLinkSnapshot", "ForeignSnapshot",
    "FrameReceived", "GroupRestartFailed", "GroupRestarted", "GroupSnapshot", "GroupSpec",
    "GroupStartFailed", "GroupStarted", "GroupStopFailed", "GroupStopped", "HandoffPlan",
    "LeftoversFound", "LinkCarrier", "LinkCounters", "LinkEcho", "LinkEvent", "LinkSnapshot",
    "Log", "Node", "Params", "PeerFenced", "PeerLinkSnapshot", "PeerSnapshot",
    "PingReachability", "Reconfigured", "RecordPeerGeneration", "ResourceFailed",
    "ResourceSnapshot", "RestartGroup", "SendForeign", "SendHeartbeat", "ShutdownComplete",
    "ShutdownRequested", "Snapshot", "StandbyRequested", "StartGroup", "StartMonitoring",
    "Started", "StatusChanged", "StopGroup", "StopMonitoring", "TakeoverRequested", "Tick",
    "WireGroupState", "WireNodeState",
]
