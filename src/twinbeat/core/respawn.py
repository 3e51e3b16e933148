"""heartbeat's respawn rule for one `respawn` program: restart it, pause first, or give up.

Owns the decision the driver (daemon/respawn.py) asks for each time a program exits, and
nothing else: which programs run is ha.cf's, running them is the driver's. Sans-IO: the run's
length and exit status are passed in, the answer is a plain `Decision`.

The rule is heartbeat 3.0.6's (heartbeat.c, `ManagedChildDied` and `start_a_child_client`):

- A program that exits with code 100 asked not to be restarted: it is not (`DONE`).
- Any other exit, or death by a signal, restarts it. A run shorter than SHORT_RUN (30 s)
  counts as short; a longer one resets the count. After a short run the restart waits PAUSE
  (heartbeat's child slept 1 s before its exec), so a program that cannot start costs one
  start a second, not a busy loop.
- More than MAX_SHORT_RUNS (10) short runs in a row: "respawning too fast", and it is not
  restarted any more (`GIVEN_UP`), as heartbeat did. heartbeat then needed a restart of the
  whole daemon; twinbeat starts it again on the next reload (`reloaded`), which is the
  admin's way to say "I fixed it".
- While the daemon shuts down, or after a reload removed its line, nothing is restarted: the
  driver stopped it on purpose (`STOPPED`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

SHORT_RUN = 30.0  # s: heartbeat's `minticks`
MAX_SHORT_RUNS = 10  # heartbeat: `shortrcount > 10` gives up
NO_RESPAWN_EXIT = 100  # heartbeat: "If they exit 100 we won't restart them"
PAUSE = 1.0  # s before a restart that follows a short run


class Outcome(enum.Enum):
    RESTART = "restart"
    DONE = "done"  # exited 100: not restarted
    GIVEN_UP = "given_up"  # respawning too fast
    STOPPED = "stopped"  # stopped by the daemon (shutdown, reload)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    delay: float  # before the restart (RESTART only)
    level: str  # of the log line: "info" | "warning" | "error"
    message: str


def exit_text(code: int | None, signal: int | None) -> str:
    if signal is not None:
        return f"killed by signal {signal}"
    return f"exited with code {code}"


class RespawnPolicy:
    """One program's restart record (see the module docstring)."""

    def __init__(self, text: str, *, pause: float = PAUSE) -> None:
        self.text = text
        self.pause = pause
        self.short_runs = 0
        self.respawns = 0
        self.given_up = False

    def exited(self, ran_for: float, code: int | None, signal: int | None, *,
               stopping: bool = False) -> Decision:
        """The program exited after `ran_for` seconds, with `code` or killed by `signal`."""
        how = exit_text(code, signal)
        if stopping:
            return Decision(Outcome.STOPPED, 0.0, "info", f"respawn: {self.text}: stopped ({how})")
        if signal is None and code == NO_RESPAWN_EXIT:
            return Decision(Outcome.DONE, 0.0, "warning",
                            f"respawn: {self.text}: {how}: not restarted (it asked not to be)")
        self.respawns += 1
        self.short_runs = self.short_runs + 1 if ran_for < SHORT_RUN else 0
        if self.short_runs > MAX_SHORT_RUNS:
            self.short_runs = 0
            self.given_up = True
            return Decision(Outcome.GIVEN_UP, 0.0, "error",
                            f"respawn: {self.text}: {how}: respawning too fast, not restarted "
                            "(a reload starts it again)")
        delay = self.pause if self.short_runs else 0.0
        return Decision(Outcome.RESTART, delay, "error",
                        f"respawn: {self.text}: {how} after {ran_for:.1f}s: respawning it"
                        + (f" in {delay:g}s" if delay else ""))

    def reloaded(self) -> bool:
        """A reload that keeps this program: True if it had been given up (start it again)."""
        if not self.given_up:
            return False
        self.given_up = False
        self.short_runs = 0
        return True
