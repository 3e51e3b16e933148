"""What a resource's check found: `Check(health, detail)`.

Every agent's `monitor()` answers with one of these, and the monitor driver
(daemon/monitor.py) reports the failing ones to the core as `ResourceFailed`. The kinds are
the distinctions the core acts on, and the ones an admin reads in `twinbeat status`:

- OK: running as it should.
- NOT_RUNNING: cleanly stopped (OCF 7, LSB status 3, "stopped" from a resource.d script,
  an address not configured): it crashed or someone stopped it; a restart should help.
- FAILED: running badly or in an unknown state (OCF 1, LSB 1/2/4, a unit in `failed`, an
  interface down or without carrier, a check that hung past its timeout).
- CANNOT_RUN: this node cannot run it (OCF 4/5/6: no permission, not installed, not
  configured; a script that vanished): restarting here is pointless, the peer may do better
  (`ResourceFailed(cannot_run=True)`).
- UNSUPPORTED: the agent cannot be checked (an OCF agent without `monitor`, OCF 3). Not a
  failure: the driver stops checking that resource and says so once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Health(enum.Enum):
    OK = "ok"
    NOT_RUNNING = "not-running"
    FAILED = "failed"
    CANNOT_RUN = "cannot-run"
    UNSUPPORTED = "unsupported"


FAILURES = frozenset({Health.NOT_RUNNING, Health.FAILED, Health.CANNOT_RUN})


@dataclass(frozen=True, slots=True)
class Check:
    """One check's answer; `detail` says why, for the log and the status table."""

    health: Health
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.health in FAILURES

    def reason(self, text: str) -> str:
        """`text: detail` (or the health's name), the line the core keeps as last_failure."""
        return f"{text}: {self.detail or self.health.value}"


OK = Check(Health.OK)
