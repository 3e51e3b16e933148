"""Reload: SIGHUP, `twinbeat reload` and `systemctl reload` re-read /etc/ha.d in place.

Owns the reload's steps; it decides nothing itself. The daemon's composition root
(daemon/root.py) owns the parts, this module only loads, checks and hands the new
configuration to each owner (issue #16, DESIGN.md §10):

1. **Load and check**, in a worker thread (the files, and the fence programs' metadata, must
   not hold a heartbeat back): `load` plus the fencing checks a start makes
   (`load_checked`, shared with `twinbeat run`). Any error refuses the reload: every
   `path:line` error is logged and returned, and nothing changes.
2. **Classify** (config/changes.py, pure): what changes in place, what needs a restart (then
   refused, with the reason), what the admin must do on the peer (a new signing key).
3. **Ask the core** (`Engine.reconfigure_refusal`: changes nothing) whether it can take the
   new `Params` now; it may not while shutting down, while a fence is under way that the new
   files drop, or when the links that carry the peer would all go.
4. **Apply**, in one synchronous step so the core task sees before or after, never between:
   the group runners (new ones for added and redefined groups), the engine (keys, link ids,
   params, and `Reconfigured` into the core, whose actions stop removed groups and start
   nothing until they are stopped), the link drivers (daemon/linkset.py), the inbox's queues,
   the fence devices, the monitor's settings, the ping nodes.
5. **Then** the `respawn` programs (removed lines stopped, added ones started, programs that
   had been given up started again) and a check of new fence devices.

A dry run (`twinbeat check --diff`, `twinbeat reload --dry-run`) stops after step 3 and
says what a reload would do. Reloads never overlap (a lock); a reload while the daemon is
shutting down is refused by the core (step 3).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import trio

from twinbeat.config import Config, load, load_for_command
from twinbeat.config.changes import Changes, compare
from twinbeat.config.fencecheck import check_fencing
from twinbeat.config.messages import ConfigErrors
from twinbeat.core import Params
from twinbeat.daemon import notify
from twinbeat.daemon.linkset import build_drivers
from twinbeat.engine import keyring_from_config, params_from_config
from twinbeat.resources.fence import Device

if TYPE_CHECKING:
    from twinbeat.daemon.root import Daemon

log = logging.getLogger("twinbeat")


@dataclass(frozen=True)
class Loaded:
    """A configuration that passed every check a start makes, with its fence devices."""

    config: Config
    devices: list[Device]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What a reload did (or would do): the reply to `twinbeat reload`."""

    applied: bool = False
    changes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # `path:line` errors, or why the reload is refused
    dry_run: bool = False
    config_dir: str = ""

    @property
    def refused(self) -> bool:
        return bool(self.errors)

    def reply(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": not self.refused, "applied": self.applied,
                                "dry_run": self.dry_run, "changes": list(self.changes),
                                "warnings": list(self.warnings), "errors": list(self.errors),
                                "config_dir": self.config_dir}
        if self.refused:
            body["error"] = "reload refused; the running configuration is unchanged"
        return body


def load_checked(config_dir: str, node: str | None) -> Loaded | list[str]:
    """The configuration and this node's fence devices, or every error (`path:line: text`).

    Blocking (files, and fence programs asked for their metadata): run it in a thread."""
    try:
        config = load(config_dir, node=node)
    except ConfigErrors as exc:
        return [str(message) for message in exc.messages]
    fencing = check_fencing(config)
    if fencing.errors:
        return [str(message) for message in fencing.errors]
    warnings = (*config.warnings, *fencing.warnings)
    devices = [Device.resolve(spec) for spec in config.fence_devices]
    return Loaded(config, devices, tuple(str(message) for message in warnings))


def checked_for_start(config_dir: str, node: str | None) -> Config | None:
    """`twinbeat run`'s checks: the configuration, its warnings printed; None (the reasons
    printed, `path:line` each) if it cannot run. A reload makes the same (`load_checked`)."""
    config = load_for_command(config_dir, node=node)
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


@dataclass
class Reloader:
    """The daemon's reloads; see the module docstring."""

    daemon: Daemon
    _lock: trio.Lock = field(default_factory=trio.Lock)

    async def reload(self, dry_run: bool = False) -> Outcome:
        """One reload (or a dry run); logged, and answered as an `Outcome`."""
        async with self._lock:
            outcome = replace(await self._reload(dry_run), config_dir=self.daemon.config.config_dir)
        _report(outcome)
        return outcome

    async def _reload(self, dry_run: bool) -> Outcome:
        d = self.daemon
        if d.engine is None or not d.links_open:
            return Outcome(errors=("starting up: reload once the links are open",),
                           dry_run=dry_run)
        log.info("reload: reading %s", d.config.config_dir)
        loaded = await trio.to_thread.run_sync(load_checked, d.config.config_dir, d.config.node)
        if isinstance(loaded, list):
            return Outcome(errors=tuple(loaded), dry_run=dry_run)
        changes = compare(d.config, loaded.config, peer_key=d.engine.peer_key)
        result = Outcome(changes=changes.changes, warnings=changes.warnings,
                         errors=changes.refusals, dry_run=dry_run)
        if changes.refused or changes.nothing:
            if not dry_run and changes.nothing:
                d.respawner.reloaded()  # the admin's way to retry a program given up
            return result
        new = loaded.config
        params = params_from_config(
            new, d.generation, peer_generation=d.peer_generation,
            timestamp_origin=d.engine.params.timestamp_origin,
            fencing=bool(loaded.devices), fence_delay=new.hacf.fencing.delay)
        link_ids = {link.name: link.link_id for link in new.hacf.links}
        refusal = d.engine.reconfigure_refusal(params, link_ids)
        if refusal is not None:
            return Outcome(changes=changes.changes, errors=(refusal,), dry_run=dry_run)
        if dry_run:
            return result
        # systemd shows "reloading" until READY=1 (sd_notify(3); MONOTONIC_USEC for
        # Type=notify-reload units).
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        notify.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")
        try:
            self._apply(loaded, changes, params, link_ids)
            await self._after(loaded, changes)
        finally:
            notify.notify("READY=1")
        return Outcome(applied=True, changes=changes.changes, warnings=changes.warnings)

    def _apply(self, loaded: Loaded, changes: Changes, params: Params,
               link_ids: dict[str, int]) -> None:
        """Step 4: synchronous, so the core task sees all of it or none of it."""
        d = self.daemon
        assert d.engine is not None and d.nursery is not None
        new = loaded.config
        d.ops.reconfigure(new, changes.groups.kept, d.nursery)
        outputs = d.engine.reconfigure(params, keyring_from_config(new), link_ids, d.core_now())
        drivers = build_drivers(new, {name: d.links[name] for name in changes.links.kept})
        d.links = drivers
        d.linkset.replace(drivers, d.nursery)
        d.events_in.relink(drivers)
        d.fencer.reconfigure(new.peer, new.hacf.fencing, loaded.devices)
        ping_changed = new.hacf.ping_nodes != d.config.hacf.ping_nodes
        d.config = new
        d.carry_out(outputs)
        d.monitor.reconfigure(new, d.ops.runners)
        if ping_changed:
            d.restart_pinger()

    async def _after(self, loaded: Loaded, changes: Changes) -> None:
        """Step 5: the respawn programs, and a check of the fence devices if they changed."""
        d = self.daemon
        await d.respawner.stop(changes.respawn_removed)
        d.respawner.start(changes.respawn_added)
        d.respawner.reloaded()
        if any(line.startswith("fencing") for line in changes.changes) and loaded.devices:
            assert d.nursery is not None
            d.nursery.start_soon(d.fencer.check_devices)


def _report(outcome: Outcome) -> None:
    """The log lines of a reload: an admin who sent SIGHUP reads nothing else."""
    what = "reload (dry run)" if outcome.dry_run else "reload"
    for error in outcome.errors:
        log.error("%s: %s", what, error)
    if outcome.refused:
        log.error("%s refused: the running configuration is unchanged", what)
        return
    for warning in outcome.warnings:
        log.warning("%s: %s", what, warning)
    if not outcome.changes:
        log.info("%s: the files say what runs already: nothing to change", what)
        return
    verb = "applied" if outcome.applied else "would apply"
    log.info("%s %s: %s", what, verb, "; ".join(outcome.changes))

