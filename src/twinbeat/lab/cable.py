"""`Cable`: the null-modem cable, a socat pty pair whose two ends are symlinks at fixed paths.

`plug()` starts socat (a process of the harness) and waits until both links exist; `pull()`
stops it by the harness's stop policy and then removes both links, whatever signal ended
socat. The links must not outlive socat: a dangling `/dev/pts/N` link resolves again as soon
as the kernel hands that pty number to someone else (another test's cable, a terminal), and a
daemon reopening its serial device by path would open the wrong pty. Plugging again at the
same paths is "the cable is back": the daemons reopen their devices (DESIGN.md §9).

A pty pair ignores baud rate, parity and flow control: 64 KB cross "300 baud" in about a
millisecond. Serial timing claims need a paced relay, not this cable.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from twinbeat.lab.errors import LabError
from twinbeat.lab.harness import Harness

SOCAT = "socat"


def socat_available() -> bool:
    return shutil.which(SOCAT) is not None


class Cable:
    def __init__(
        self,
        harness: Harness,
        ends: tuple[Path, Path],
        *,
        label: str = "cable",
        netns: str | None = None,
        log: Path | None = None,
    ) -> None:
        """`ends`: the two pty symlinks. `netns`: where socat runs (it needs no network; the
        lab puts it in a namespace of its own so that a teardown finds it there even without
        its pid file)."""
        self.harness = harness
        self.ends = ends
        self.label = label
        self.netns = netns
        self.log = log

    @property
    def plugged(self) -> bool:
        return self.harness.pid(self.label) is not None

    def plug(self, timeout: float = 5.0) -> int:
        """Start socat; return its PID once both ends exist."""
        self.unlink()  # left by a socat that died without its SIGTERM
        argv = [SOCAT, "-d", "-d", *(f"pty,raw,echo=0,link={end}" for end in self.ends)]
        process = self.harness.spawn(self.label, argv, netns=self.netns, log=self.log)
        deadline = time.monotonic() + timeout
        while not all(end.exists() for end in self.ends):
            if process.poll() is not None or time.monotonic() > deadline:
                self.pull()
                raise LabError(f"socat did not create the ptys (see {self.log or 'no log'})")
            time.sleep(0.002)
        return process.pid

    def pull(self) -> None:
        """The cable is gone: socat stopped (by PID, the stop policy), both links removed."""
        self.harness.stop(self.label)
        self.unlink()

    def cut(self) -> None:
        """The cable is cut: socat stopped (SIGSTOP), no byte crosses either way, and neither
        end sees a hang-up, as with a real null-modem cable cut in the middle. (`pull` makes
        both ends read EOF: heartbeat 3.0.6's serial reader then logs in a tight loop.)"""
        self.harness.signal(self.label, signal.SIGSTOP)

    def mend(self) -> None:
        """Undo `cut`: socat runs again (what the ptys buffered meanwhile crosses first)."""
        self.harness.signal(self.label, signal.SIGCONT)

    def unlink(self) -> None:
        for end in self.ends:
            end.unlink(missing_ok=True)
