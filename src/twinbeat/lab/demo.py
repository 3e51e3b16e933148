"""`twinbeat lab demo`: the failover story, told with the client's measured times.

lab up → both nodes up → the client sees "prime" → apache2 crashes on prime → the monitor
restarts it in place, prime serves → prime loses power → calc serves → prime comes back →
failback → `twinbeat standby` on prime → calc serves → lab down. Every time is
measured from the instant the fault (or command) was injected to the first HTTP answer from
the new node on the VIP, as seen by the poller in the client namespace.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.fencing import FenceSetup, switch_records
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller
from twinbeat.lab.service import crash_service

WIDTH = 62
# The default monitor interval (5 s), the restart, and the lazy reaping of a killed apache2
# by this machine's PID 1 (the OCF agent counts a zombie as running; docs/lab.md).
HEAL_PATIENCE = 20.0


class Story:
    """One line per step: ✓ or ✗, what happened, how long it took."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def ok(self, text: str, seconds: float, note: str = "") -> None:
        self.write(f"  ✓ {text:<{WIDTH}} {seconds * 1000:>7.0f} ms{'  ' + note if note else ''}")

    def fail(self, text: str) -> None:
        self.write(f"  ✗ {text}")


def _outage(poller: Poller, fault: float, recovered: float) -> str:
    last = poller.last_answer(fault)
    if last is None:
        return ""
    return f"(no answer for {(recovered - last.time) * 1000:.0f} ms)"


class _Demo:
    """The steps of the story; each one raises LabError or reports one ✓ line."""

    def __init__(self, lab: Lab, story: Story, fencing: FenceSetup | None = None) -> None:
        self.lab = lab
        self.story = story
        self.fencing = fencing
        timers = lab.plan.timers
        self.patience = timers.deadtime_s + timers.initdead_s + 15.0
        self.poller: Poller | None = None

    def _served(self, body: str, since: float, timeout: float, why: str) -> float:
        assert self.poller is not None
        seen = self.poller.first(body, since, timeout)
        if seen is None:
            raise LabError(why)
        return seen

    def start(self) -> None:
        t = time.monotonic()
        self.lab.up(daemons=False, fencing=self.fencing)
        self.story.ok(
            "lab up: namespaces, bridge, eth1 veth, serial cable, configs", time.monotonic() - t
        )
        t = time.monotonic()
        self.lab.start_daemons()
        self.story.ok("twinbeat run on prime and calc: links open", time.monotonic() - t)
        wait_for(lambda: self.lab.converged("prime"), self.patience, "prime to hold the group")
        self.story.ok(
            "peers alive on eth1 + serial; prime holds VIP + apache2", time.monotonic() - t
        )
        self.poller = self.lab.poller()
        t = time.monotonic()
        self._served("prime", t, 10.0, 'the client got no "prime" answer from the VIP')
        self.story.ok(f'client GET http://{lp.VIP}/ → "prime"', time.monotonic() - t)

    def heal(self) -> None:
        """A crashed service is found by the monitor and restarted where it was."""
        assert self.poller is not None
        victims = crash_service(self.lab, "prime")
        if not victims:
            raise LabError("no apache2 to crash on prime")
        fault = time.monotonic()  # every apache2 process is gone: nothing answers from here
        seen = self._served("prime", fault, HEAL_PATIENCE,
                            "apache2 was not restarted on prime after its crash")
        self.story.ok(
            "apache2 crashes on prime → monitor restarts it, prime serves",
            seen - fault,
            _outage(self.poller, fault, seen),
        )

    def power(self) -> None:
        assert self.poller is not None
        fault = self.lab.power_loss("prime")
        seen = self._served(
            "calc", fault, self.patience, "calc did not take over after prime's power loss"
        )
        self.story.ok(
            "prime loses power (daemon, apache2, NICs, cable) → calc serves",
            seen - fault,
            _outage(self.poller, fault, seen),
        )
        self._fenced(fault)
        fault = time.monotonic()
        self.lab.power_on("prime", wait=False)
        seen = self._served(
            "prime", fault, self.patience + 15.0, "no failback to prime after it came back"
        )
        self.story.ok(
            "prime powers on, cleans up, rejoins → failback, prime serves",
            seen - fault,
            _outage(self.poller, seen - 1e-6, seen),
        )

    def _fenced(self, fault: float) -> None:
        """The switch's record of calc fencing prime after `fault`, as one more line."""
        for entry in switch_records(self.lab.plan.run_dir, fault):
            if entry.get("from") == "calc" and entry.get("node") == "prime" and entry.get("ok"):
                assert self.fencing is not None
                self.story.ok(f"  calc fenced prime through the lab switch ({self.fencing.kind}, "
                              f"{entry.get('action')})", entry["t"] - fault,
                              f"(switch answered in {entry.get('took', 0) * 1000:.0f} ms)")
                return

    def standby(self) -> None:
        assert self.poller is not None
        wait_for(
            lambda: self.lab.converged("prime"), self.patience, "the cluster to settle on prime"
        )
        fault = time.monotonic()
        result = self.lab.node("prime").twinbeat("standby")
        if result.returncode != 0:
            raise LabError(f"twinbeat standby failed: {(result.stderr or result.stdout).strip()}")
        seen = self._served(
            "calc", fault, self.patience, "calc did not serve after `twinbeat standby` on prime"
        )
        self.story.ok(
            "twinbeat standby on prime → calc serves",
            seen - fault,
            _outage(self.poller, fault, seen),
        )


def run_demo(lab: Lab, write: Callable[[str], None] = print,
             fencing: FenceSetup | None = None) -> int:
    story = Story(write)
    timers = lab.plan.timers
    fenced = f", fencing: {fencing.kind}" if fencing is not None else ""
    write(
        f"twinbeat lab demo: lab {lab.name}, preset {lab.plan.preset} "
        f"(keepalive {timers.keepalive}, deadtime {timers.deadtime}, auto_failback on{fenced})"
    )
    if lab.exists():  # never tear down a lab the user built by hand
        story.fail(f"lab {lab.name} is already up (twinbeat lab down --name {lab.name})")
        return 1
    demo = _Demo(lab, story, fencing)
    ok = False
    try:
        demo.start()
        demo.heal()
        demo.power()
        demo.standby()
        ok = True
        return 0
    except LabError as exc:
        story.fail(str(exc))
        write(f"    logs: {lab.plan.run_dir}/<node>/daemon.log, ha-log")
        return 1
    finally:
        if demo.poller is not None:
            demo.poller.close()
        t = time.monotonic()
        lab.down(purge=ok)
        story.ok("lab down: processes stopped by PID, namespaces removed", time.monotonic() - t)


if __name__ == "__main__":
    sys.exit(run_demo(Lab.make()))
