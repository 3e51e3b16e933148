"""The engine: the sans-IO core together with its translation to and from the wire.

Owns the glue around `core.Node` that both the daemon (daemon/root.py) and the simulator
(tests/sim) run, so the simulator tests exactly what production runs (TigerBeetle's rule: the
replica runs unchanged against simulated time and network; two copies of the glue drift):

- **In**: (link name, bytes as received) → one core event. Verifying and parsing the frame is
  the wire's (`decode_untrusted`); turning its result into `FrameReceived` or `FrameRejected`
  is here, together with the one check that needs the wire's link ids: an authentic frame
  signed for another link (a cross-link replay, or a cabling mix-up) is refused as `link`.
  Who the sender may be (ourselves, the peer, a stranger) is membership policy: the core's.
- **Out**: core actions → outputs. `SendHeartbeat` becomes one signed payload per link
  (`Transmit`), each with that link's id and echo; agent calls (`StartGroup`, `StopGroup`,
  `Announce`), `Log`, `StatusChanged`, `RecordPeerGeneration` and `ShutdownComplete` pass
  through unchanged.

Pure: no trio, no sockets, no clock, no files; time is passed in. `frame_event` touches no
mutable state, so a link driver may call it from its receive callback before queueing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twinbeat.config import Config
from twinbeat.core import (
    Announce,
    Event,
    FrameReceived,
    FrameRejected,
    GroupSpec,
    HandoffPlan,
    Log,
    Node,
    Params,
    RecordPeerGeneration,
    SendHeartbeat,
    ShutdownComplete,
    Snapshot,
    StandbyRequested,
    StartGroup,
    StatusChanged,
    StopGroup,
    TakeoverRequested,
)
from twinbeat.wire import Keyring, WireError, decode_untrusted, encode

# The wire's reason for an authentic frame that arrived on another link than it was sent on.
CROSS_LINK = "link"


@dataclass(frozen=True, slots=True)
class Transmit:
    """One heartbeat, signed once per link: send each payload on its link, in order."""

    payloads: tuple[tuple[str, bytes], ...]


Output = (
    Transmit | StartGroup | StopGroup | Announce | Log | StatusChanged | ShutdownComplete
    | RecordPeerGeneration
)


def params_from_config(config: Config, generation: int, *, peer_generation: int | None = None,
                       timestamp_origin: int = 0) -> Params:
    """The core's view of the configuration: no file paths, no I/O, nothing it does not use.

    `peer_generation` and `timestamp_origin` are the run's, not the configuration's: the
    state dir's record of the peer (daemon/peerstate.py) and a random number per run."""
    hacf = config.hacf
    return Params(
        node=config.node,
        peer=config.peer,
        links=tuple(link.name for link in hacf.links),
        keepalive=hacf.keepalive,
        deadtime=hacf.deadtime,
        warntime=hacf.warntime,
        initdead=hacf.initdead,
        auto_failback=hacf.auto_failback.fails_back,
        groups=tuple(GroupSpec(key=g.key, primary=g.primary) for g in config.groups),
        fingerprint=config.fingerprint,
        generation=generation,
        ping_configured=bool(hacf.ping_nodes),
        peer_generation=peer_generation,
        timestamp_origin=timestamp_origin,
    )


def keyring_from_config(config: Config) -> Keyring:
    """authkeys as prepared MAC keys: every slot verifies, `auth N` signs."""
    keys = {index: (key.method, key.key) for index, key in config.authkeys.keys.items()}
    return Keyring(keys, config.authkeys.active)


class Engine:
    """One node's core and its wire translation. See the module docstring."""

    def __init__(
        self, params: Params, keyring: Keyring, link_ids: Mapping[str, int], now: float
    ) -> None:
        if set(link_ids) != set(params.links):
            raise ValueError(f"link ids {sorted(link_ids)} do not match links {params.links}")
        self.params = params
        self.keyring = keyring
        self.link_ids = dict(link_ids)
        self.node = Node(params, now)

    @classmethod
    def from_config(cls, config: Config, generation: int, now: float, *,
                    peer_generation: int | None = None, timestamp_origin: int = 0) -> Engine:
        return cls(
            params_from_config(config, generation, peer_generation=peer_generation,
                               timestamp_origin=timestamp_origin),
            keyring_from_config(config),
            {link.name: link.link_id for link in config.hacf.links},
            now,
        )

    # -- in ---------------------------------------------------------------------------------

    def frame_event(self, link: str, data: bytes) -> FrameReceived | FrameRejected:
        """The core event for bytes received on `link` (any sender: the core judges it)."""
        try:
            frame = decode_untrusted(data, self.keyring)
        except WireError as exc:
            return FrameRejected(link=link, reason=exc.reason, peer=None)
        if frame.link_id != self.link_ids[link]:
            return FrameRejected(link=link, reason=CROSS_LINK, peer=frame.sender)
        return FrameReceived(
            link=link,
            peer=frame.sender,
            generation=frame.generation,
            sequence=frame.sequence,
            timestamp_ms=frame.timestamp_ms,
            echo_ms=frame.echo_ms,
            echo_delay_ms=frame.echo_delay_ms,
            fingerprint=frame.fingerprint,
            node_state=frame.node_state,
            node_flags=frame.node_flags,
            groups=frame.groups,
        )

    def received(self, link: str, data: bytes, now: float) -> list[Output]:
        """`frame_event` then `feed`: for callers that need no queue in between."""
        return self.feed(self.frame_event(link, data), now)

    def feed(self, event: Event, now: float) -> list[Output]:
        """Feed one event to the core; its actions, with heartbeats signed per link."""
        outputs: list[Output] = []
        for action in self.node.feed(event, now):
            if isinstance(action, SendHeartbeat):
                outputs.append(self._transmit(action))
            else:
                outputs.append(action)
        return outputs

    # -- out --------------------------------------------------------------------------------

    def _transmit(self, heartbeat: SendHeartbeat) -> Transmit:
        echoes = {echo.link: echo for echo in heartbeat.echoes}
        payloads = []
        for link, link_id in self.link_ids.items():
            echo = echoes.get(link)
            payloads.append((link, encode(
                self.keyring,
                sender=self.params.node,
                fingerprint=self.params.fingerprint,
                generation=self.params.generation,
                sequence=heartbeat.sequence,
                timestamp_ms=heartbeat.timestamp_ms,
                echo_ms=echo.echo_ms if echo else 0,
                echo_delay_ms=echo.echo_delay_ms if echo else 0,
                link_id=link_id,
                node_state=heartbeat.node_state,
                node_flags=heartbeat.node_flags,
                groups=heartbeat.groups,
            )))
        return Transmit(tuple(payloads))

    # -- queries ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self.node.next_deadline()

    def snapshot(self) -> Snapshot:
        return self.node.snapshot()

    def handoff_plan(self, request: StandbyRequested | TakeoverRequested) -> HandoffPlan:
        return self.node.handoff_plan(request)
