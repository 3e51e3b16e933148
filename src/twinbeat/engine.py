"""The engine: the sans-IO core together with its translation to and from the wire.

Owns the glue around `core.Node` that both the daemon (daemon/root.py) and the simulator
(tests/sim) run, so the simulator tests exactly what production runs (TigerBeetle's rule: the
replica runs unchanged against simulated time and network; two copies of the glue drift):

- **In**: (link name, bytes as received) → a core event, or nothing. Verifying and parsing the
  frame is the wire's (`decode_untrusted`); turning an authentic frame into `FrameReceived`
  is here, together with the one check that needs the wire's link ids: an authentic frame
  signed for another link (a cross-link replay, or a cabling mix-up) is refused as `link`.
  Bytes that start as a heartbeat 3.0.6 message does ("###\n" on UDP, ">>>\n" from the
  serial reader) go to `hb_decode_untrusted` instead, and a verified one becomes
  `ForeignHeartbeat` (issue #14: a peer that still runs heartbeat; core/foreign.py decides);
  its refusals are counted as "heartbeat-<reason>".
  **What is refused never becomes an event**: it is counted here, per link and reason
  (`Rejections`), and `frame_event` returns None. A flood of junk then costs one codec call
  per datagram in the receiving driver and never reaches the daemon's queues or the core,
  where it used to crowd out the real heartbeats (issue #11). The counts join the core's
  own (`unknown-peer`) in `snapshot()`, so the status reads as one set of counters.
  Who the sender of an authentic frame may be (ourselves, the peer, a stranger) is
  membership policy: the core's.
- **Out**: core actions → outputs. `SendHeartbeat` becomes one signed payload per link
  (`Transmit`), each with that link's id and echo; agent calls (`StartGroup`, `StopGroup`,
  `RestartGroup`, `Announce`), the monitor's orders (`StartMonitoring`, `StopMonitoring`),
  `FencePeer`, `Log`, `StatusChanged`, `RecordPeerGeneration` and `ShutdownComplete` pass
  through unchanged.
- **Reload**: `reconfigure` swaps the keyring, the link ids and the params together with the
  core's `Reconfigured`, all or nothing; `peer_key` (the key slot the peer's latest frame
  was signed with) lets the caller refuse an authkeys that would no longer accept the peer.

Pure: no trio, no sockets, no clock, no files; time is passed in. `frame_event` touches the
rejection counters and nothing else (not the core), so a link driver may call it from its
receive callback, before anything is queued for the core; like the rest of the engine it must
be called from the one thread that owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from twinbeat.config import AutoFailback, Config
from twinbeat.core import (
    Announce,
    CoreMisuse,
    Event,
    FencePeer,
    ForeignHeartbeat,
    FrameReceived,
    GroupSpec,
    HandoffPlan,
    LinkEvent,
    LinkSnapshot,
    Log,
    Node,
    Params,
    PeerSnapshot,
    Reconfigured,
    RecordPeerGeneration,
    RestartGroup,
    SendForeign,
    SendHeartbeat,
    ShutdownComplete,
    Snapshot,
    StandbyRequested,
    StartGroup,
    StartMonitoring,
    StatusChanged,
    StopGroup,
    StopMonitoring,
    TakeoverRequested,
)
from twinbeat.engine_hb import decode_heartbeat, encode_foreign, heartbeat_event
from twinbeat.wire import (
    HB_STARTS,
    Keyring,
    WireError,
    decode_untrusted,
    encode,
)

__all__ = ["CROSS_LINK", "Engine", "Output", "Rejections", "Transmit", "heartbeat_event",
           "keyring_from_config", "params_from_config"]

# The wire's reason for an authentic frame that arrived on another link than it was sent on.
CROSS_LINK = "link"


@dataclass(frozen=True, slots=True)
class Transmit:
    """One heartbeat, signed once per link: send each payload on its link, in order."""

    payloads: tuple[tuple[str, bytes], ...]


Output = (
    Transmit | StartGroup | StopGroup | Announce | Log | StatusChanged | ShutdownComplete
    | RecordPeerGeneration | RestartGroup | StartMonitoring | StopMonitoring | FencePeer
)


class Rejections:
    """Frames refused before the core, per link and reason (`twinbeat status`'s `rejected`).

    `unattributed[link]`: the wire refused the bytes (no sender can be trusted: "mac",
    "length", "key", ...), or a stranger's authentic frame came on another link than it was
    signed for. `peer[link]`: the peer's own authentic frame on the wrong link ("link": a
    cross-link replay or swapped cables). Our own frames looping back are not counted, as the
    core does not count them either.
    """

    def __init__(self, links: tuple[str, ...]) -> None:
        self.unattributed: dict[str, dict[str, int]] = {ln: {} for ln in links}
        self.peer: dict[str, dict[str, int]] = {ln: {} for ln in links}

    def relink(self, links: tuple[str, ...]) -> None:
        """A reload's links: new ones start at zero, removed ones are forgotten."""
        self.unattributed = {ln: self.unattributed.get(ln, {}) for ln in links}
        self.peer = {ln: self.peer.get(ln, {}) for ln in links}

    @staticmethod
    def count(counts: dict[str, int], reason: str) -> None:
        counts[reason] = counts.get(reason, 0) + 1

    def merged_into(self, snapshot: Snapshot) -> Snapshot:
        """`snapshot` with these counts added to the core's own (e.g. "unknown-peer")."""
        return replace(
            snapshot,
            links=tuple(self._link(ls) for ls in snapshot.links),
            peers=tuple(self._peer(ps) for ps in snapshot.peers),
        )

    def _link(self, ls: LinkSnapshot) -> LinkSnapshot:
        return replace(ls, rejected=_added(ls.rejected, self.unattributed.get(ls.name, {})))

    def _peer(self, ps: PeerSnapshot) -> PeerSnapshot:
        links = tuple(
            replace(pl, counters=replace(
                pl.counters, rejected=_added(pl.counters.rejected, self.peer.get(pl.name, {}))))
            for pl in ps.links
        )
        return replace(ps, links=links)


def _added(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    total = dict(a)
    for reason, n in b.items():
        total[reason] = total.get(reason, 0) + n
    return total


def params_from_config(config: Config, generation: int, *, peer_generation: int | None = None,
                       timestamp_origin: int = 0, fencing: bool | None = None,
                       fence_delay: float | None = None,
                       wall_clock_offset: float = 0.0) -> Params:
    """The core's view of the configuration: no file paths, no I/O, nothing it does not use.

    `peer_generation` and `timestamp_origin` are the run's, not the configuration's: the
    state dir's record of the peer (daemon/peerstate.py) and a random number per run.
    Each group carries its resources' texts (the core counts failures per resource) and
    ha.cf's migration_threshold and failure_timeout (config/monitoring.py) go as they are.
    `fencing` and `fence_delay` default to the configuration's: whether this node has a fence
    device, and `fence_delay` (a caller such as the simulator may say otherwise)."""
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
        groups=tuple(
            GroupSpec(key=g.key, primary=g.primary, resources=tuple(r.text for r in g.resources))
            for g in config.groups
        ),
        fingerprint=config.fingerprint,
        generation=generation,
        ping_configured=bool(hacf.ping_nodes),
        peer_generation=peer_generation,
        timestamp_origin=timestamp_origin,
        migration_threshold=hacf.monitoring.migration_threshold,
        failure_timeout=hacf.monitoring.failure_timeout,
        # Only the devices this node can use count: heartbeat reads a stonith_host line on
        # its HOSTFROM alone, so a node whose lines are all the peer's fences nothing.
        fencing=bool(config.fence_devices) if fencing is None else fencing,
        fence_delay=hacf.fencing.delay if fence_delay is None else fence_delay,
        peer_protocol=hacf.peer_protocol,
        legacy_failback=hacf.auto_failback is AutoFailback.LEGACY,
        wall_clock_offset=wall_clock_offset,
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
        self.rejections = Rejections(params.links)
        self.peer_key: int | None = None  # the key slot of the peer's latest authentic frame

    @classmethod
    def from_config(cls, config: Config, generation: int, now: float, *,
                    peer_generation: int | None = None, timestamp_origin: int = 0,
                    fencing: bool | None = None, fence_delay: float | None = None,
                    wall_clock_offset: float = 0.0) -> Engine:
        return cls(
            params_from_config(config, generation, peer_generation=peer_generation,
                               timestamp_origin=timestamp_origin, fencing=fencing,
                               fence_delay=fence_delay, wall_clock_offset=wall_clock_offset),
            keyring_from_config(config),
            {link.name: link.link_id for link in config.hacf.links},
            now,
        )

    # -- in ---------------------------------------------------------------------------------

    def frame_event(self, link: str, data: bytes) -> LinkEvent | None:
        """The core event for bytes received on `link`, or None when refused (and counted).

        Any authentic frame becomes an event whatever its sender: the core judges senders.
        Raises CoreMisuse for a link the configuration does not have (a caller's bug).
        """
        link_id = self.link_ids.get(link)
        if link_id is None:
            raise CoreMisuse(f"unknown link {link!r}")
        if data[:4] in HB_STARTS:
            return self._heartbeat_event(link, data)
        try:
            frame = decode_untrusted(data, self.keyring)
        except WireError as exc:
            Rejections.count(self.rejections.unattributed[link], exc.reason)
            return None
        if frame.link_id != link_id:
            self._count_cross_link(link, frame.sender)
            return None
        if frame.sender == self.params.peer:
            self.peer_key = frame.key_index  # a reload must keep accepting it (changes.py)
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

    def _heartbeat_event(self, link: str, data: bytes) -> ForeignHeartbeat | None:
        """A heartbeat 3.0.6 message (engine_hb.py), or None: refused, and counted."""
        event = decode_heartbeat(link, data, self.keyring)
        if isinstance(event, str):
            Rejections.count(self.rejections.unattributed[link], event)
            return None
        return event

    def _count_cross_link(self, link: str, sender: str) -> None:
        """An authentic frame signed for another link: on the peer's link counters if it is
        the peer's, ignored if it is ours (our broadcast looping back), else unattributed."""
        if sender == self.params.node:
            return
        if sender == self.params.peer:
            Rejections.count(self.rejections.peer[link], CROSS_LINK)
        else:
            Rejections.count(self.rejections.unattributed[link], CROSS_LINK)

    def received(self, link: str, data: bytes, now: float) -> list[Output]:
        """`frame_event` then `feed`: for callers that need no queue in between."""
        event = self.frame_event(link, data)
        return [] if event is None else self.feed(event, now)

    def feed(self, event: Event, now: float) -> list[Output]:
        """Feed one event to the core; its actions, with heartbeats signed per link."""
        outputs: list[Output] = []
        for action in self.node.feed(event, now):
            if isinstance(action, SendHeartbeat):
                outputs.append(self._transmit(action))
            elif isinstance(action, SendForeign):
                outputs.append(self._transmit_foreign(action))
            else:
                outputs.append(action)
        return outputs

    # -- reload -----------------------------------------------------------------------------

    def reconfigure_refusal(self, params: Params, link_ids: Mapping[str, int]) -> str | None:
        """Why `reconfigure` would refuse these, or None; asking changes nothing."""
        if set(link_ids) != set(params.links):
            return f"link ids {sorted(link_ids)} do not match links {params.links}"
        return self.node.reconfigure_refusal(params)

    def reconfigure(self, params: Params, keyring: Keyring, link_ids: Mapping[str, int],
                    now: float) -> list[Output]:
        """A reload: the new keys, links and params together, then `Reconfigured` to the core.

        All or nothing: if the core refuses (`CoreMisuse`, see `reconfigure_refusal`) the
        engine is left as it was. From the next call on, frames are verified with the new
        keyring and signed for the new links (the heartbeat the core sends at once too)."""
        if set(link_ids) != set(params.links):
            raise CoreMisuse(f"link ids {sorted(link_ids)} do not match links {params.links}")
        before = self.params, self.keyring, self.link_ids
        self.params, self.keyring, self.link_ids = params, keyring, dict(link_ids)
        try:
            outputs = self.feed(Reconfigured(params), now)
        except CoreMisuse:
            self.params, self.keyring, self.link_ids = before
            raise
        self.rejections.relink(params.links)
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
                fingerprint=(self.params.fingerprint if heartbeat.fingerprint is None
                             else heartbeat.fingerprint),
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

    def _transmit_foreign(self, message: SendForeign) -> Transmit | Log:
        """A heartbeat 3.0.6 message, encoded for each link (engine_hb.py)."""
        payloads = encode_foreign(message, self.keyring, self.link_ids)
        return payloads if isinstance(payloads, Log) else Transmit(payloads)

    # -- queries ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self.node.next_deadline()

    def snapshot(self) -> Snapshot:
        """The core's snapshot with the rejections counted here added in."""
        return self.rejections.merged_into(self.node.snapshot())

    def handoff_plan(self, request: StandbyRequested | TakeoverRequested) -> HandoffPlan:
        return self.node.handoff_plan(request)
