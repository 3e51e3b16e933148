"""`twinbeat run`: the composition root.

One trio nursery owns everything for the daemon's lifetime: the links (UDP, serial), the control
socket (supervised by `ControlServer.run`: nothing a local client does reaches the core), the
signal handler, the watchdog pings and the resource operations. A single task feeds the sans-IO
core (core/) from the inbox (daemon/inbox.py: one bounded queue per link, one never-dropped
queue for everything else), sleeps until the core's next deadline, and carries out the actions
it returns. Nothing here decides anything: policy lives in the core, I/O in the drivers, and
this module only wires them together.

The links' receive callback (`_deliver`) turns bytes into a core event through the engine, which
counts and drops what the wire refuses there and then: junk never reaches a queue. The core task
(`Inbox.serve`) feeds everything queued in batches bounded by count and time, and fires the
core's timers between batches, so a burst of frames cannot hold a heartbeat back. Heartbeats
are sent synchronously from the core task (a non-blocking send per link), and resource
operations run as their own tasks, so a slow or stuck agent never delays a heartbeat.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import math
import secrets
import signal
import sys
from typing import Any

import trio

from twinbeat.config import Bcast, Config, Mcast, Serial, Ucast, load_for_command
from twinbeat.config.fencecheck import check_fencing
from twinbeat.control.server import (
    ControlServer,
    ControlSocketError,
    ensure_not_running,
    open_control_listener,
)
from twinbeat.control.statusview import status_view
from twinbeat.core import events as ev
from twinbeat.daemon import notify
from twinbeat.daemon.agents import GroupOps
from twinbeat.daemon.fencer import Fencer, acknowledge
from twinbeat.daemon.generation import GenerationError, bump_generation
from twinbeat.daemon.inbox import Inbox
from twinbeat.daemon.logsetup import LogTargets, setup_logging
from twinbeat.daemon.monitor import Monitor
from twinbeat.daemon.peerstate import PeerStateError, PeerStateWriter, load_peer_generation
from twinbeat.daemon.realtime import WatchdogDevice, enter_realtime
from twinbeat.engine import Engine, Transmit
from twinbeat.links import LinkDriver
from twinbeat.links.pinger import Pinger
from twinbeat.links.serial import SerialLink
from twinbeat.links.udp import UdpLink

log = logging.getLogger("twinbeat")

# Ping nodes are probed every keepalive, but not more often than this.
PING_INTERVAL_MIN = 0.2


class Daemon:
    """Owns the running node: the core, its links and agents, and the control socket."""

    def __init__(self, config: Config, generation: int, run_dir: str, *,
                 state_dir: str | None = None, peer_generation: int | None = None) -> None:
        self.config = config
        self.run_dir = run_dir
        self.generation = generation
        self.peer_generation = peer_generation
        self.peer_state = (
            PeerStateWriter(state_dir, config.peer)
            if state_dir is not None and config.peer is not None else None
        )
        self.links: dict[str, LinkDriver] = {}
        for link in config.hacf.links:
            match link.medium:
                case Serial():
                    self.links[link.name] = SerialLink(link, config.hacf.baud)
                case Bcast() | Ucast() | Mcast():
                    self.links[link.name] = UdpLink(link, config.hacf.udpport)
        self.events_in = Inbox(self.links)
        self.ops = GroupOps({}, self.events_in.send)  # the agents are built in `run`
        self.monitor = Monitor({}, self.events_in.send)  # ...and their checks
        self.fencer = Fencer.build(config, self.events_in.send)
        self.engine: Engine | None = None
        self._fed_at = -math.inf  # the core's time only moves forward
        self._core_changed = trio.Event()
        self.watchdog: WatchdogDevice | None = None
        self.done = False
        self.exit_code = 0
        self._nursery: trio.Nursery | None = None

    # -- lifetime -------------------------------------------------------------------------------

    async def run(self) -> None:
        listener = await open_control_listener(self.run_dir)
        watchdog = self.config.hacf.watchdog
        if watchdog:
            try:
                self.watchdog = WatchdogDevice(watchdog)
            except OSError as exc:
                log.warning("watchdog %s: cannot open: %s", watchdog, exc.strerror)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.ops = GroupOps.build(self.config, nursery, self.events_in.send)
            self.monitor = Monitor.for_groups(self.config, self.ops.runners, self.events_in.send)
            await nursery.start(self.monitor.run)
            # A random timestamp origin per run: no echo in an earlier run's capture can pass
            # for one of this run's, even after a reboot restarted the clock (docs/core.md).
            self.engine = Engine.from_config(
                self.config, self.generation, trio.current_time(),
                peer_generation=self.peer_generation, timestamp_origin=secrets.randbits(32),
                fencing=bool(self.fencer.devices), fence_delay=self.config.hacf.fencing.delay)
            nursery.start_soon(self._handle_signals)
            if self.peer_state is not None:
                nursery.start_soon(self.peer_state.run)
            self._feed(ev.Started())
            # A crashed daemon's leftovers (VIP, service) are found before joining, so the core
            # can stop them first: otherwise the VIP would be held twice after a restart.
            self._feed(ev.LeftoversFound(await self.ops.probe_leftovers()))
            for link in self.links.values():
                await nursery.start(functools.partial(link.run, carrier=self._carrier),
                                    self._deliver)
            log.info("twinbeat: links open (%s)", ", ".join(self.links) or "none")
            notify.notify("READY=1")
            # Start-up's objects (modules, config, the core) live as long as the daemon: out
            # of the collector's reach, so that no collection scans them on the heartbeat path.
            gc.freeze()
            # Supervised: whatever a client does to it, or however it fails, stays in there.
            nursery.start_soon(ControlServer(self.status, self.handoff, clear=self.clear,
                                             fence_ack=self.fence_ack).run,
                               listener, self.run_dir)
            if self.fencer.devices:
                nursery.start_soon(self.fencer.check_devices)
            if self.config.hacf.ping_nodes:
                await nursery.start(self._pinger().run)
            interval = notify.watchdog_interval()
            if interval:
                nursery.start_soon(self._watchdog_pings, interval)
            await self._core_loop()
            nursery.cancel_scope.cancel()
        if self.watchdog is not None:
            self.watchdog.close()

    async def _core_loop(self) -> None:
        """The one core task: feeds the inbox's events and the core's timers (inbox.serve)."""
        assert self.engine is not None
        await self.events_in.serve(self.engine.next_deadline, self._feed, lambda: self.done)

    def _pinger(self) -> Pinger:
        def report(reachable: bool) -> None:
            self.events_in.send_nowait(ev.PingReachability(reachable))  # never blocks nor drops

        hacf = self.config.hacf
        interval = max(hacf.keepalive, PING_INTERVAL_MIN)
        # heartbeat's deadping defaults to deadtime
        return Pinger(hacf.ping_nodes, interval, hacf.deadtime, report)

    async def _handle_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            received = 0
            async for signum in signals:
                if signum == signal.SIGHUP:
                    # heartbeat re-reads its files on SIGHUP; twinbeat's config is immutable for
                    # the daemon's life, so say so instead of dying with the groups held.
                    log.warning("SIGHUP: configuration reload is not supported; "
                                "run `twinbeat check` and restart twinbeat to apply changes")
                    continue
                received += 1
                if received == 1:
                    name = signal.Signals(signum).name
                    log.info("%s received: releasing resources and leaving the cluster", name)
                    notify.notify("STOPPING=1")
                    await self.events_in.send(ev.ShutdownRequested())
                else:
                    log.warning("second signal: exiting now without waiting for the handoff")
                    self.exit_code = 1
                    self.done = True
                    assert self._nursery is not None
                    self._nursery.cancel_scope.cancel()

    async def _watchdog_pings(self, interval: float) -> None:
        # Sent from the event loop itself: if the loop hangs, pings stop and systemd restarts us.
        while True:
            notify.notify("WATCHDOG=1")
            await trio.sleep(interval / 3)

    # -- events in ------------------------------------------------------------------------------

    def _deliver(self, link_name: str, data: bytes) -> None:
        """Called by a link for every datagram or serial frame; must not block.

        What the wire refuses is counted by the engine and goes no further; an authentic frame
        is queued on its link's own queue with the time it arrived.
        """
        assert self.engine is not None
        event = self.engine.frame_event(link_name, data)
        if event is not None:
            self.events_in.put_frame(link_name, event, trio.current_time())

    def _carrier(self, link_name: str, up: bool) -> None:
        """Called by a link when its physical layer changes (carrier, modem lines, hang-up):
        the core decides what it means (docs/core.md, Physical links)."""
        self.events_in.send_nowait(ev.LinkCarrier(link_name, up))

    def _feed(self, event: ev.Event, at: float | None = None) -> None:
        """Feed one event at `at` (when a frame arrived) or now; the core's time never goes
        back, so a frame that waited behind a later event is fed at that event's time."""
        assert self.engine is not None
        now = trio.current_time() if at is None else at
        self._fed_at = max(self._fed_at, now)
        for output in self.engine.feed(event, self._fed_at):
            self._execute(output)
        # Wake whoever waits for the core's state to change (handoffs), then re-arm.
        self._core_changed.set()
        self._core_changed = trio.Event()

    # -- actions out ----------------------------------------------------------------------------

    def _execute(self, output: ev.Action | Transmit) -> None:
        assert self._nursery is not None
        match output:
            case Transmit(payloads=payloads):
                self._transmit(payloads)
            case (ev.StartGroup() | ev.StopGroup() | ev.RestartGroup() | ev.Announce()
                  | ev.StartMonitoring() | ev.StopMonitoring()):
                self._resource_action(output)
            case ev.Log(level=level, message=message):
                log.log(logging.getLevelName(level.upper()), message)
            case ev.StatusChanged(text=text):
                notify.notify(f"STATUS={text}")
            case ev.FencePeer(peer=peer):
                # Its own task: heartbeats never wait on a fence device.
                self._nursery.start_soon(self.fencer.fence, peer)
            case ev.RecordPeerGeneration(generation=generation):
                self._record_peer_generation(generation)
            case ev.ShutdownComplete():
                log.info("twinbeat shutdown complete")
                self.done = True
            case _:
                raise TypeError(f"unknown output {output!r}")

    def _resource_action(self, action: ev.Action) -> None:
        """The groups' operations run as their own tasks (GroupOps); checks are the monitor
        driver's, which the core arms and disarms per group. A group being stopped or
        restarted is never checked meanwhile, whatever the order of the core's orders: a
        service stopped on purpose must not come back as a failure (the core re-arms it)."""
        assert self._nursery is not None
        match action:
            case ev.StartGroup(key=key):
                self._nursery.start_soon(self.ops.run, key, True)
            case ev.StopGroup(key=key):
                self.monitor.stop(key)
                self._nursery.start_soon(self.ops.run, key, False)
            case ev.RestartGroup(key=key, from_resource=index):
                self.monitor.stop(key)
                self._nursery.start_soon(self.ops.restart, key, index)
            case ev.Announce(key=key):
                self._nursery.start_soon(self.ops.announce, key)
            case ev.StartMonitoring(key=key):
                self.monitor.start(key)
            case ev.StopMonitoring(key=key):
                self.monitor.stop(key)

    def _transmit(self, payloads: tuple[tuple[str, bytes], ...]) -> None:
        for name, payload in payloads:
            self.links[name].send(payload)
        if self.watchdog is not None:
            self.watchdog.feed()  # heartbeat tickles the watchdog on each local status

    def _record_peer_generation(self, generation: int) -> None:
        """The core accepted another generation of the peer: keep it for our next run."""
        if self.peer_state is not None:
            self.peer_state.record(generation)

    # -- control socket -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        assert self.engine is not None
        view = status_view(self.engine.snapshot(), self.monitor.view(trio.current_time()))
        # The drivers' own counters: what the core never sees (send failures, line noise
        # between serial frames, reopens of a vanished interface or pty).
        dropped = self.events_in.dropped
        view["drivers"] = {
            name: {"open": link.up, **link.counters(), "queue_full_dropped": dropped[name]}
            for name, link in self.links.items()
        }
        view["frames_dropped_queue_full"] = sum(dropped.values())
        if self.fencer.devices:
            view["fence_devices"] = self.fencer.view(trio.current_time())
        return view

    async def fence_ack(self, node: str) -> dict[str, Any]:
        """`twinbeat fence-ack NODE` (root): checked, fed, answered (daemon/fencer.py)."""
        assert self.engine is not None
        # A lambda: `_core_changed` is a new Event after every feed, so look it up each time.
        return await acknowledge(node, self.config.peer, self.engine.snapshot,
                                 self.events_in.send,
                                 lambda: self._core_changed.wait())  # noqa: PLW0108

    async def handoff(self, cmd: str, which: str, timeout: float) -> dict[str, Any]:
        """Run `standby`/`takeover` and wait until the core says the affected groups moved.

        The core plans the request (which groups, from where to where, or why it is refused);
        this only feeds it and re-reads the snapshot each time the core has processed events.
        """
        assert self.engine is not None
        request = ev.StandbyRequested(which) if cmd == "standby" else ev.TakeoverRequested(which)
        plan = self.engine.handoff_plan(request)
        if plan.refusal is not None:
            log.warning("%s request [%s] refused: %s", cmd.capitalize(), which, plan.refusal)
            return {"ok": False, "error": f"{cmd} refused: {plan.refusal}"}
        await self.events_in.send(request)
        with trio.move_on_after(timeout):
            while not plan.complete(self.engine.snapshot()):
                await self._core_changed.wait()
            moved = [{"key": key, "from": plan.source, "to": plan.target} for key in plan.keys]
            return {"ok": True, "moved": moved}
        holders = {g.key: g.holder for g in self.engine.snapshot().groups}
        stuck = [f"{key} held by {holders.get(key) or 'nobody'}" for key in plan.keys
                 if holders.get(key) != plan.target]
        return {"ok": False, "error": f"{cmd} timed out after {timeout:g}s: {'; '.join(stuck)}"}

    async def clear(self, key: str | None) -> dict[str, Any]:
        """`twinbeat clear [GROUP]`: the core forgets those groups' resource failures."""
        keys = [group.key for group in self.config.groups]
        if key is not None and key not in keys:
            return {"ok": False, "error": f"clear: no group {key!r} (a group is named by its "
                                          "first resource, as in haresources)"}
        log.info("failures cleared for %s by twinbeat clear", key or "every group")
        await self.events_in.send(ev.FailuresCleared(key))
        return {"ok": True, "cleared": keys if key is None else [key]}


def _checked_config(args: argparse.Namespace) -> Config | None:
    """The configuration, its warnings printed; None (reasons printed) if it cannot run."""
    config = load_for_command(args.config_dir, node=args.node)
    if config is None:
        print("twinbeat: not started: configuration error", file=sys.stderr)
        return None
    for message in config.warnings:
        print(message, file=sys.stderr)
    fencing = check_fencing(config)  # a node that cannot fence would wait for ever
    for message in (*fencing.warnings, *fencing.errors):
        print(message, file=sys.stderr)
    if fencing.errors:
        print("twinbeat: not started: fencing configuration error", file=sys.stderr)
        return None
    return config


def main(args: argparse.Namespace) -> int:
    """Load and check the config, then run until a signal's graceful shutdown completes."""
    config = _checked_config(args)
    if config is None:
        return 1
    try:
        # A second daemon must not bump the running one's generation nor write to its log.
        ensure_not_running(args.run_dir)
    except ControlSocketError as exc:
        print(f"twinbeat: not started: {exc}", file=sys.stderr)
        return 1
    setup_logging(
        LogTargets(
            node=config.node,
            logfile=config.hacf.logfile,
            debugfile=config.hacf.debugfile,
            logfacility=config.hacf.logfacility,
            stderr=args.foreground,
        )
    )
    try:
        # The peer's record first: a refused start must not have used up a generation.
        peer_generation = (
            None if config.peer is None else load_peer_generation(args.state_dir, config.peer)
        )
        generation = bump_generation(args.state_dir)
    except (GenerationError, PeerStateError) as exc:
        print(f"twinbeat: not started: {exc}", file=sys.stderr)
        return 1
    if config.hacf.realtime:
        for problem in enter_realtime():
            log.warning("%s; continuing without it", problem)
    log.info("twinbeat starting: node %s, generation %d, config %s",
             config.node, generation, config.config_dir)
    daemon = Daemon(config, generation, args.run_dir, state_dir=args.state_dir,
                    peer_generation=peer_generation)
    try:
        trio.run(daemon.run)
    except ControlSocketError as exc:
        print(f"twinbeat: not started: {exc}", file=sys.stderr)
        return 1
    except Exception:
        log.critical("twinbeat: unexpected error, exiting", exc_info=True)
        return 1
    return daemon.exit_code
