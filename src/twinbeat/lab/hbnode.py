"""`HeartbeatNode`: Debian's heartbeat 3.0.6 as one node of the lab (issue #14's mixed cluster).

heartbeat is a machine-wide daemon: it reads `/etc/ha.d`, keeps its generation, UUID and
FIFO in `/var/lib/heartbeat`, its pid file, API sockets and serial locks under `/run`, and
takes its node name from `uname -n`. Two of them (or one beside the host) on one machine
need a machine each. So the node runs heartbeat in the lab node's *network* namespace plus
a UTS namespace of its own (hostname = the node's name) and a private mount namespace in
which its own directories, under the node's home (`RUN/<node>/heartbeat/`), are mounted on
those paths:

- `etc-ha.d/` on `/etc/ha.d`: the package's files (harc, rc.d/, shellfuncs, resource.d/)
  with the lab's ha.cf, authkeys, haresources and resource.d scripts over them;
- `var-lib/` on `/var/lib/heartbeat`: the package's (empty) tree;
- `run/` on `/run`: empty but for `heartbeat/`, `lock/` and a bind of the lab's run dir at
  its own path (when that is under /run), so the node still sees its scripts and the cable.

The mount namespace is private (`unshare --propagation private`): nothing mounted there is
seen by the host, and it goes away with its last process. The host's /etc/ha.d, /run and
/var/lib/heartbeat are never written. heartbeat runs in the foreground (`-f`) as the process
the harness spawned (unshare and sh exec it), so it is stopped by that PID: SIGTERM is
heartbeat's graceful shutdown (it gives its groups up); `kill` is SIGKILL to the master and
its children (found by PID: the processes in its mount namespace named heartbeat).

Commands an admin runs on that machine (`hb_standby`, `hb_takeover`, `cl_status`) run in the
same namespaces through `nsenter` (`run`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from signal import SIGKILL

from twinbeat.lab import procs
from twinbeat.lab.errors import LabError
from twinbeat.lab.files import NodeFiles
from twinbeat.lab.harness import Harness
from twinbeat.lab.node import DaemonLog

HEARTBEAT = Path("/usr/libexec/heartbeat/heartbeat")
PACKAGE_ETC = Path("/etc/ha.d")
PACKAGE_LIB = Path("/var/lib/heartbeat")
SHARE = Path("/usr/share/heartbeat")  # hb_standby, hb_takeover, ResourceManager
HOST_RUN = Path("/run")
# heartbeat's line once its configuration is read and its media are open (heartbeat.c).
READY_LINE = "Configuration validated. Starting heartbeat 3.0.6"
# Grace for a graceful stop: heartbeat gives every group up first (`ResourceManager givegroup`).
STOP_GRACE = 60.0

# Run by `unshare --mount --uts --propagation private` in the node's network namespace.
# $1 node name, $2 the node's heartbeat dir, $3 the lab's run dir, $4 its path under /run
# ("" when it is not under /run), $5 heartbeat's program, $6 the node's /var/lib/heartbeat.
SETUP = """set -e
hostname "$1"
mount --bind "$2/etc-ha.d" /etc/ha.d
mount --bind "$6" /var/lib/heartbeat
if [ -n "$4" ]; then mount --bind "$3" "$2/run/$4"; fi
mount --rbind "$2/run" /run
exec "$5" -f
"""


def heartbeat_available() -> str | None:
    """Why heartbeat 3.0.6 cannot run here, or None."""
    if not os.access(HEARTBEAT, os.X_OK):
        return "heartbeat is not installed (apt-get install heartbeat; scripts/install-deps)"
    for tool in ("unshare", "nsenter", "hostname", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not found (util-linux)"
    return None


def _under_run(path: Path) -> str:
    """`path` relative to /run, or "" when it is elsewhere."""
    try:
        return str(path.resolve().relative_to(HOST_RUN))
    except ValueError:
        return ""


class HeartbeatNode:
    """heartbeat 3.0.6 for one lab node, a process of `harness` in namespace `netns`.

    `files` is the node's NodeFiles (its ha.d is the configuration heartbeat gets, its
    ha-log the log, since the lab's ha.cf says `logfile` there); `lab_dir` is the directory
    that must stay visible in the node's private /run (the lab's run dir).
    """

    def __init__(self, harness: Harness, files: NodeFiles, netns: str, lab_dir: Path) -> None:
        self.harness = harness
        self.files = files
        self.netns = netns
        self.lab_dir = lab_dir
        self.root = files.home / "heartbeat"
        self.label = f"{files.name}-heartbeat"
        self.log = DaemonLog(files.ha_log)

    @property
    def name(self) -> str:
        return self.files.name

    # -- its machine -------------------------------------------------------------------

    def prepare(self) -> None:
        """The node's /etc/ha.d, /var/lib/heartbeat and /run (see the module docstring).

        Written afresh at each call except var-lib/, which keeps heartbeat's generation
        (`hb_generation`) and UUID across restarts, as a machine's disk does.
        """
        etc = self.root / "etc-ha.d"
        shutil.rmtree(etc, ignore_errors=True)
        shutil.copytree(PACKAGE_ETC, etc, symlinks=True)
        for path in self.files.config_dir.rglob("*"):
            target = etc / path.relative_to(self.files.config_dir)
            if path.is_dir():
                target.mkdir(exist_ok=True)
            else:
                shutil.copy2(path, target)  # modes too: authkeys stays 0600
        lib = self.files.heartbeat_state_dir
        if not lib.exists():
            shutil.copytree(PACKAGE_LIB, lib, symlinks=True)
        run = self.root / "run"
        shutil.rmtree(run, ignore_errors=True)
        for sub in ("heartbeat/rsctmp", "lock", "resource-agents"):
            (run / sub).mkdir(parents=True)
        rel = _under_run(self.lab_dir)
        if rel:
            (run / rel).mkdir(parents=True)
        for directory in (self.root, run):
            os.chmod(directory, 0o755)

    def argv(self) -> list[str]:
        rel = _under_run(self.lab_dir)
        return ["unshare", "--mount", "--uts", "--propagation", "private", "--",
                "/bin/sh", "-c", SETUP, "hb-node", self.name, str(self.root),
                str(self.lab_dir), rel, str(HEARTBEAT), str(self.files.heartbeat_state_dir)]

    # -- the process -------------------------------------------------------------------

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> int:
        """Start heartbeat (stdout/stderr to `heartbeat.out` in its dir); with `wait`, until
        its log says its configuration is validated and it is starting."""
        why = heartbeat_available()
        if why is not None:
            raise LabError(why)
        self.prepare()
        since = self.log.mark()
        process = self.harness.spawn(self.label, self.argv(), netns=self.netns,
                                     log=self.root / "heartbeat.out", grace=STOP_GRACE)
        if wait:
            self.wait_ready(since, timeout)
        return process.pid

    def wait_ready(self, since: int = 0, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.log.read(since):
            if self.pid() is None:
                raise LabError(f"{self.name}'s heartbeat exited during start-up (see "
                               f"{self.log.path} and {self.root / 'heartbeat.out'})")
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}'s heartbeat not ready after {timeout:.0f} s "
                               f"(see {self.log.path})")
            time.sleep(0.02)

    def pid(self) -> int | None:
        return self.harness.pid(self.label)

    def running(self) -> bool:
        return self.pid() is not None

    def processes(self) -> list[int]:
        """The master and its children: processes named heartbeat in its mount namespace."""
        master = self.pid()
        if master is None:
            return []
        try:
            mnt = os.readlink(f"/proc/{master}/ns/mnt")
        except OSError:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                same = os.readlink(entry / "ns" / "mnt") == mnt
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if same and name == "heartbeat":
                found.append(int(entry.name))
        return found

    def kill(self, *, wait: float = 10.0) -> bool:
        """The fault "heartbeat dies": SIGKILL to the master and its children at once; its
        resources stay as they are (VIP, apache2). Whether all are gone."""
        victims = self.processes()
        for pid in victims:
            procs.send(pid, SIGKILL)
        gone = procs.wait_gone(victims, wait)
        if gone:
            self.harness.forget(self.label)
        return gone

    def stop(self) -> int | None:
        """A graceful stop (`systemctl stop heartbeat`): SIGTERM, then wait for heartbeat to
        give its groups up and exit (SIGKILL after STOP_GRACE)."""
        return self.harness.stop(self.label)

    def exit_status(self, timeout: float = 0.0) -> int | None:
        return self.harness.wait(self.label, timeout)

    # -- commands on its machine -------------------------------------------------------

    def run(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """`argv` in heartbeat's namespaces (network, UTS, mount), output captured."""
        master = self.pid()
        if master is None:
            raise LabError(f"{self.name}'s heartbeat is not running")
        return self.harness.run(["nsenter", "-t", str(master), "-m", "-u", "-n", "--",
                                 *argv], None, timeout)

    def standby(self, which: str = "all") -> subprocess.CompletedProcess[str]:
        """`hb_standby [all|local|foreign]` on this node."""
        return self.run(str(SHARE / "hb_standby"), which)

    def takeover(self, which: str = "all") -> subprocess.CompletedProcess[str]:
        """`hb_takeover [all|local|foreign]` on this node."""
        return self.run(str(SHARE / "hb_takeover"), which)
