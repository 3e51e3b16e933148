"""`twinbeat lab demo`: the failover story, told with the client's measured times.

lab up → both nodes up → the client sees "prime" → prime loses power → calc serves → prime
comes back → failback → `twinbeat standby` on prime → calc serves → lab down. Every time is
measured from the instant the fault (or command) was injected to the first HTTP answer from
the new node on the VIP, as seen by the poller in the client namespace.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from twinbeat.lab import plan as lp
from twinbeat.lab.lab import Lab, LabError
from twinbeat.lab.poller import Poller

WIDTH = 62


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


def run_demo(lab: Lab, write: Callable[[str], None] = print) -> int:
    story = Story(write)
    timers = lab.plan.timers
    write(
        f"twinbeat lab demo: lab {lab.name}, preset {lab.plan.preset} "
        f"(keepalive {timers.keepalive}, deadtime {timers.deadtime}, auto_failback on)"
    )
    if lab.exists():  # never tear down a lab the user built by hand
        story.fail(f"lab {lab.name} is already up (twinbeat lab down --name {lab.name})")
        return 1
    patience = timers.deadtime_s + timers.initdead_s + 15.0
    poller: Poller | None = None
    ok = False
    try:
        t = time.monotonic()
        lab.up(daemons=False)
        story.ok(
            "lab up: namespaces, bridge, eth1 veth, serial cable, configs", time.monotonic() - t
        )

        t = time.monotonic()
        lab.start_daemons()
        story.ok("twinbeat run on prime and calc: links open", time.monotonic() - t)

        lab.wait_for(lambda: lab.converged("prime"), patience, "prime to hold the group")
        story.ok("peers alive on eth1 + serial; prime holds VIP + apache2", time.monotonic() - t)

        poller = lab.poller()
        t = time.monotonic()
        if poller.first("prime", t, 10.0) is None:
            raise LabError('the client got no "prime" answer from the VIP')
        story.ok(f'client GET http://{lp.VIP}/ → "prime"', time.monotonic() - t)

        fault = time.monotonic()
        lab.power_loss("prime")
        seen = poller.first("calc", fault, patience)
        if seen is None:
            raise LabError("calc did not take over after prime's power loss")
        story.ok(
            "prime loses power (daemon, apache2, NICs, cable) → calc serves",
            seen - fault,
            _outage(poller, fault, seen),
        )

        fault = time.monotonic()
        lab.power_on("prime", wait=False)
        seen = poller.first("prime", fault, patience + 15.0)
        if seen is None:
            raise LabError("no failback to prime after it came back")
        story.ok(
            "prime powers on, cleans up, rejoins → failback, prime serves",
            seen - fault,
            _outage(poller, seen - 1e-6, seen),
        )

        lab.wait_for(lambda: lab.converged("prime"), patience, "the cluster to settle on prime")
        fault = time.monotonic()
        result = lab.twinbeat("prime", "standby")
        if result.returncode != 0:
            raise LabError(f"twinbeat standby failed: {(result.stderr or result.stdout).strip()}")
        seen = poller.first("calc", fault, patience)
        if seen is None:
            raise LabError("calc did not serve after `twinbeat standby` on prime")
        story.ok(
            "twinbeat standby on prime → calc serves", seen - fault, _outage(poller, fault, seen)
        )
        ok = True
        return 0
    except LabError as exc:
        story.fail(str(exc))
        write(f"    logs: {lab.plan.run_dir}/<node>/daemon.log, ha-log")
        return 1
    finally:
        if poller is not None:
            poller.close()
        t = time.monotonic()
        lab.down(purge=ok)
        story.ok("lab down: processes stopped by PID, namespaces removed", time.monotonic() - t)


if __name__ == "__main__":
    sys.exit(run_demo(Lab.make()))
