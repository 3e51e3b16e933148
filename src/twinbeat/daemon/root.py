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

import gc
import logging
import math
import secrets
import signal
from typing import Any

import trio

from twinbeat.config import Config
from twinbeat.control.server import (
    ControlServer,
    open_control_listener,
)
from twinbeat.control.statusview import status_view
from twinbeat.core import events as ev
from twinbeat.daemon import notify
from twinbeat.daemon.agents import GroupOps
from twinbeat.daemon.fencer import Fencer, acknowledge
from twinbeat.daemon.generation import wall_clock_offset
from twinbeat.daemon.inbox import Inbox
from twinbeat.daemon.linkset import LinkSet, build_drivers, drivers_view
from twinbeat.daemon.monitor import Monitor
from twinbeat.daemon.peerstate import PeerStateWriter
from twinbeat.daemon.realtime import WatchdogDevice
from twinbeat.daemon.reload import Reloader
from twinbeat.daemon.respawn import Respawner
from twinbeat.engine import Engine, Output, Transmit
from twinbeat.links import LinkDriver
from twinbeat.links.pinger import Pinger

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
        self.links: dict[str, LinkDriver] = build_drivers(config)
        self.linkset = LinkSet(self.links, self._deliver, self._carrier)  # each in its scope
        self.events_in = Inbox(self.links)
        self.ops = GroupOps({}, self.events_in.send)  # the agents are built in `run`
        self.monitor = Monitor({}, self.events_in.send)  # ...and their checks
        self.fencer = Fencer.build(config, self.events_in.send)
        self.respawner = Respawner()
        self.reloader = Reloader(self)
        self.engine: Engine | None = None
        self._fed_at = -math.inf  # the core's time only moves forward
        self._core_changed = trio.Event()
        self.watchdog: WatchdogDevice | None = None
        self.done = False
        self.exit_code = 0
        self._nursery: trio.Nursery | None = None
        self._pinger_scope: trio.CancelScope | None = None
        self.links_open = False  # until then a reload is refused (the drivers are starting)

    @property
    def nursery(self) -> trio.Nursery | None:
        return self._nursery

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
            await nursery.start(self.respawner.run)
            # A random timestamp origin per run: no echo of an earlier run's passes (core.md).
            self.engine = Engine.from_config(
                self.config, self.generation, trio.current_time(),
                peer_generation=self.peer_generation, timestamp_origin=secrets.randbits(32),
                fencing=bool(self.fencer.devices), fence_delay=self.config.hacf.fencing.delay,
                wall_clock_offset=wall_clock_offset(trio.current_time()))
            nursery.start_soon(self._handle_signals)
            if self.peer_state is not None:
                nursery.start_soon(self.peer_state.run)
            self._feed(ev.Started())
            # A crashed daemon's leftovers (VIP, service) are found before joining, so the core
            # can stop them first: otherwise the VIP would be held twice after a restart.
            self._feed(ev.LeftoversFound(await self.ops.probe_leftovers()))
            self.linkset.drivers = self.links
            await self.linkset.start_all(nursery)
            log.info("twinbeat: links open (%s)", ", ".join(self.links) or "none")
            self.links_open = True
            notify.notify("READY=1")
            # Start-up's objects (modules, config, the core) live as long as the daemon: out
            # of the collector's reach, so that no collection scans them on the heartbeat path.
            gc.freeze()
            # Supervised: whatever a client does to it, or however it fails, stays in there.
            nursery.start_soon(ControlServer(self.status, self.handoff, clear=self.clear,
                                             fence_ack=self.fence_ack, reload=self.reload).run,
                               listener, self.run_dir)
            if self.fencer.devices:
                nursery.start_soon(self.fencer.check_devices)
            self.restart_pinger()
            self.respawner.start(self.config.hacf.respawn)
            if self.config.hacf.metrics:  # read-only; supervised like the control socket
                # Imported only here: prometheus_client brings http.server, email, html...
                # about 1.5 MB of a daemon that has no endpoint (issue #17, RSS).
                from twinbeat.daemon.metrics import DaemonMetrics  # noqa: PLC0415
                await nursery.start(DaemonMetrics.of(self).run)
            interval = notify.watchdog_interval()
            if interval:
                nursery.start_soon(self._watchdog_pings, interval)
            await self._core_loop()
            await self.respawner.stop()  # heartbeat: the clients after the resources
            nursery.cancel_scope.cancel()
        if self.watchdog is not None:
            self.watchdog.close()

    async def _core_loop(self) -> None:
        """The one core task: feeds the inbox's events and the core's timers (inbox.serve)."""
        assert self.engine is not None
        await self.events_in.serve(self.engine.next_deadline, self._feed, lambda: self.done)

    def restart_pinger(self) -> None:
        """(Re)start pinging ha.cf's ping nodes, if any (at start-up, and after a reload)."""
        assert self._nursery is not None
        if self._pinger_scope is not None:
            self._pinger_scope.cancel()
            self._pinger_scope = None
        if self.config.hacf.ping_nodes:
            self._pinger_scope = trio.CancelScope()
            self._nursery.start_soon(self._run_pinger, self._pinger_scope)

    async def _run_pinger(self, scope: trio.CancelScope) -> None:
        def report(reachable: bool) -> None:
            self.events_in.send_nowait(ev.PingReachability(reachable))  # never blocks nor drops

        hacf = self.config.hacf
        interval = max(hacf.keepalive, PING_INTERVAL_MIN)
        with scope:
            # heartbeat's deadping defaults to deadtime
            await Pinger(hacf.ping_nodes, interval, hacf.deadtime, report).run()

    async def _handle_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            received = 0
            async for signum in signals:
                if signum == signal.SIGHUP:  # heartbeat re-reads its files (daemon/reload.py)
                    assert self._nursery is not None
                    self._nursery.start_soon(self.reloader.reload)
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

    def _deliver(self, link_name: str, data: bytes) -> bool:
        """Called by a link for every datagram or serial frame; must not block.

        What the wire refuses is counted by the engine and goes no further; an authentic frame
        is queued on its link's own queue with the time it arrived. True if it was authentic.
        """
        assert self.engine is not None
        event = self.engine.frame_event(link_name, data)
        if event is None:
            return False
        self.events_in.put_frame(link_name, event, trio.current_time())
        return True

    def _carrier(self, link_name: str, up: bool) -> None:
        """Called by a link when its physical layer changes (carrier, modem lines, hang-up):
        the core decides what it means (docs/core.md, Physical links)."""
        self.events_in.send_nowait(ev.LinkCarrier(link_name, up))

    def _feed(self, event: ev.Event, at: float | None = None) -> None:
        """Feed one event at `at` (when a frame arrived) or now; the core's time never goes
        back, so a frame that waited behind a later event is fed at that event's time."""
        assert self.engine is not None
        self.carry_out(self.engine.feed(event, self.core_now(at)))

    def core_now(self, at: float | None = None) -> float:
        """The core's time for what is fed now (or `at`): it never goes back."""
        self._fed_at = max(self._fed_at, trio.current_time() if at is None else at)
        return self._fed_at

    def carry_out(self, outputs: list[Output]) -> None:
        """The core's actions, in order; then wake whoever waits for the core's state to
        change (handoffs), and re-arm."""
        for output in outputs:
            self._execute(output)
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
        view["drivers"] = drivers_view(self.links, self.events_in.dropped)
        view["frames_dropped_queue_full"] = sum(self.events_in.dropped.values())
        if self.fencer.devices:
            view["fence_devices"] = self.fencer.view(trio.current_time())
        if self.respawner.children:
            view["respawn"] = self.respawner.view(trio.current_time())
        return view

    async def reload(self, dry_run: bool) -> dict[str, Any]:
        """`twinbeat reload [--dry-run]` (root): daemon/reload.py."""
        return (await self.reloader.reload(dry_run)).reply()

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
