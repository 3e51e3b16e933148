"""The daemon's fence driver: carry out the core's `FencePeer`, report exactly one outcome.

Owns this node's fence devices (resources/fence.py), the task that runs them when the core
says `FencePeer`, the start-up check that each device answers, and what `twinbeat status`
shows of them (`fence_devices`). The core decides when to fence, waits the head start and
refuses takeover until a fence is confirmed (docs/core.md); nothing here decides any of it.

`fence(peer)` tries the devices in ha.cf order until one exits 0 (heartbeat's stonith_host
lines were tried in order too), each under `fence_timeout`, and always reports exactly one
event: `PeerFenced` or `FenceFailed` with every device's reason. It runs as its own task, so
heartbeats never wait on a fence; runs never overlap (a second `FencePeer` waits for the
first), so each gets its own answer. No exception leaves the task: one would end the
daemon's nursery.

Also `twinbeat fence-ack NODE`: `fence_ack_refusal` (why it must be refused before anything
reaches the core) and `acknowledge` (feed `FenceAcknowledged`, answer with the new state).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio

from twinbeat.config import Config
from twinbeat.config.model import FenceAction, Fencing
from twinbeat.control.statusview import fence_view
from twinbeat.core import events as ev
from twinbeat.core.snapshot import Snapshot
from twinbeat.resources.fence import CHECK, Device, FenceError

log = logging.getLogger("twinbeat")

Report = Callable[[ev.Event], Awaitable[None]]
# heartbeat's words when a node was reset (BasicSanityCheck greps "node .* now reset").
DONE_WORDS = {FenceAction.REBOOT: "now reset", FenceAction.OFF: "now off"}
# How long `fence-ack` waits for the core to take the acknowledgement in, for its reply.
ACK_WAIT = 2.0


@dataclass
class DeviceState:
    """What `twinbeat status` shows of one device: its check, and its fences so far."""

    check: str = "pending"  # pending | ok | failed
    detail: str | None = None
    checked_at: float | None = None
    fenced: int = 0
    failed: int = 0


class Fencer:
    """The fence devices of this node and the tasks that run them (module docstring)."""

    def __init__(self, peer: str | None, fencing: Fencing, devices: list[Device],
                 report: Report) -> None:
        self.peer = peer
        self.fencing = fencing
        self.devices = devices
        self.states = {device.name: DeviceState() for device in devices}
        self._report = report
        self._lock = trio.Lock()

    @classmethod
    def build(cls, config: Config, report: Report) -> Fencer:
        """Resolve this node's devices on this machine (programs, agents' metadata)."""
        devices = [Device.resolve(spec) for spec in config.fence_devices]
        return cls(config.peer, config.hacf.fencing, devices, report)

    def reconfigure(self, peer: str | None, fencing: Fencing, devices: list[Device]) -> None:
        """A reload: the new settings and devices; a device that stays (same line) keeps what
        the status shows of it. A fence under way ends with the devices it began with."""
        self.peer, self.fencing = peer, fencing
        self.states = {d.name: self.states.get(d.name) or DeviceState() for d in devices}
        self.devices = devices

    async def fence(self, peer: str) -> None:
        """Run the devices against `peer`; report PeerFenced or FenceFailed, whatever happens."""
        async with self._lock:
            try:
                event = await self._fence(peer)
            except Exception as exc:  # a bug here must not end the daemon nor lose the answer
                log.debug("fencing %s raised", peer, exc_info=True)
                event = ev.FenceFailed(peer, f"internal error: {type(exc).__name__}: {exc}")
        await self._report(event)

    async def _fence(self, peer: str) -> ev.Event:
        if peer != self.peer:
            return ev.FenceFailed(peer, f"{peer} is not this node's peer ({self.peer})")
        if not self.devices:
            return ev.FenceFailed(peer, "no fence device configured for this node")
        reasons = []
        action = self.fencing.action
        for device in self.devices:
            log.warning("Resetting node %s with [%s] (%s)", peer, device.name, action.value)
            state = self.states.setdefault(device.name, DeviceState())
            try:
                outcome = await device.run(action, peer, self.fencing.timeout)
            except FenceError as exc:
                state.failed += 1
                log.error("STONITH of node %s failed: %s", peer, exc)
                reasons.append(str(exc))
                continue
            state.fenced += 1
            log.warning("node %s %s. (%s, %.3f s)", peer, DONE_WORDS[action], device.name,
                        outcome.elapsed)
            return ev.PeerFenced(peer)
        return ev.FenceFailed(peer, "; ".join(reasons))

    async def check_devices(self) -> None:
        """The start-up check (`stonith -S`, `action=monitor`): does each device answer?
        Logged and shown in the status; a failed check changes nothing else."""
        for device in self.devices:
            state = self.states.setdefault(device.name, DeviceState())
            try:
                await device.run(CHECK, self.peer or "", self.fencing.timeout)
            except FenceError as exc:
                state.check, state.detail = "failed", str(exc)
                log.error("fence device check failed: %s; fencing %s may fail", exc, self.peer)
            except Exception as exc:  # a bug: the check is not worth the daemon
                state.check, state.detail = "failed", f"internal error: {exc}"
                log.debug("fence device check raised", exc_info=True)
            else:
                state.check, state.detail = "ok", None
                log.info("fence device %s answers", device.name)
            state.checked_at = trio.current_time()

    def view(self, now: float) -> list[dict[str, Any]]:
        """`fence_devices` in `twinbeat status --json`."""
        return [
            {"device": device.name, "program": device.program, "check": state.check,
             "detail": state.detail, "fenced": state.fenced, "failed": state.failed,
             "checked_age": None if state.checked_at is None else now - state.checked_at}
            for device in self.devices
            for state in (self.states[device.name],)
        ]


def fence_ack_refusal(node: str, peer: str | None, snapshot: Snapshot) -> str | None:
    """Why `twinbeat fence-ack NODE` must not reach the core, or None.

    Only the configured peer can be acknowledged, and only when the core has fencing (its
    snapshot then carries a `fencing` section): otherwise nothing waits for a fence."""
    if peer is None:
        return "this node has no peer"
    if node.lower() != peer:
        return f"{node} is not this node's peer ({peer})"
    if snapshot.fencing is None:
        return "no fencing configured for this node: nothing waits for a fence"
    return None


async def acknowledge(node: str, peer: str | None, snapshot: Callable[[], Snapshot],
                      send: Report, changed: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """Refuse, or feed FenceAcknowledged and reply once the core's fencing state changed
    (or after ACK_WAIT): the reply says what the acknowledgement did."""
    before = snapshot().fencing
    refusal = fence_ack_refusal(node, peer, snapshot())
    if refusal is not None:
        log.warning("fence-ack %s refused: %s", node, refusal)
        return {"ok": False, "error": f"fence-ack refused: {refusal}"}
    assert peer is not None and before is not None
    log.warning("fence-ack: the operator confirms that %s is off", peer)
    await send(ev.FenceAcknowledged(peer))
    with trio.move_on_after(ACK_WAIT):
        while snapshot().fencing == before:
            await changed()
    after = snapshot()
    fencing = after.fencing
    return {"ok": True, "node": peer,
            "fencing": None if fencing is None else fence_view(fencing, after.now)}
