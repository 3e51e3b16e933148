"""A real systemd as PID 1 of namespaces of its own, to test twinbeat.service for real.

PID 1 of this machine is not systemd. A systemd can still run as PID 1 of a private PID
namespace, but booted on the host's file system it runs sysinit (systemd-tmpfiles once emptied
the host's /tmp) and starts every enabled unit (DESIGN.md §9). So `BootedSystemd` runs it
inside a network namespace the test made, in new PID, mount, UTS and cgroup namespaces, on a
root file system that keeps everything off the host (nsroots.py: the host's own, made
private, or a Debian tree of the test's), booting a target of its own.

Everything is stopped by PID: SIGKILL to that PID 1 from outside ends every process of its
PID namespace, then the boot's cgroup directories are removed. If the test process itself
dies, PR_SET_PDEATHSIG kills `unshare`, whose --kill-child kills PID 1.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from nsroots import SYSTEMD, Files, HostRoot, Root

from twinbeat.lab import network

PR_SET_PDEATHSIG = 1


class BootError(RuntimeError):
    """The namespace's systemd did not come up (the message carries its console log)."""


def cannot_boot_reason() -> str | None:
    """Why a systemd cannot be booted here, or None: the test is skipped with this reason."""
    if os.geteuid() != 0:
        return "needs root (namespaces, mounts)"
    missing = [t for t in (SYSTEMD, "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/systemctl")
               if not os.access(t, os.X_OK)]
    if missing:
        return f"{', '.join(missing)} not found (apt-get install systemd util-linux)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "no overlay file system in this kernel"
    if cgroup2_root() is None:
        return "no cgroup2 hierarchy mounted (/sys/fs/cgroup or /sys/fs/cgroup/unified)"
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount", "--uts", "--cgroup", "--mount-proc", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot create PID/mount/cgroup namespaces: {probe.stderr.strip()}"
    return None


def cgroup2_root() -> Path | None:
    """Where the host mounts its cgroup2 hierarchy (pure v2, or hybrid's `unified`)."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class BootedSystemd:
    """systemd as PID 1 in netns `netns`, on `root` (default: the host's, made private);
    `files` (path -> (text, mode)) and `units` (name -> text) are put where `root` says."""

    def __init__(
        self,
        work: Path,
        netns: str,
        *,
        hostname: str,
        units: Mapping[str, str],
        files: Files,
        root: Root | None = None,
    ) -> None:
        self.work = work
        self.netns = netns
        self.hostname = hostname
        self.units = dict(units)
        self.files = dict(files)
        self.root: Root = root if root is not None else HostRoot()
        self.console = work / "console.log"
        self.cgroup: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.pid1: int | None = None  # systemd's PID as the host sees it

    # -- boot ------------------------------------------------------------------------------

    def boot(self, timeout: float = 60.0) -> None:
        """Start it and wait until `systemctl is-system-running` says running/degraded."""
        self.root.stage(self.work, self.units, self.files, self.hostname)
        self.console.touch()
        setup = self.work / "setup.sh"
        setup.write_text(self.root.script(self.work, self.hostname))
        hierarchy = cgroup2_root()
        assert hierarchy is not None
        self.cgroup = hierarchy / f"twinbeat-test-{secrets.token_hex(4)}"
        self.cgroup.mkdir()
        procs_file = str(self.cgroup / "cgroup.procs")

        def enter() -> None:  # in the child, before exec: this boot's cgroup, and no orphans
            with open(procs_file, "w") as f:
                f.write("0")
            _die_with_parent()

        argv = [
            # Into the test's network namespace by its /run/netns file (no `ip netns exec`:
            # the lab does its own namespace work, docs/lab.md).
            *("nsenter", f"--net={network.NETNS_DIR / self.netns}"),
            *("unshare", "--pid", "--fork", "--mount", "--uts", "--cgroup", "--mount-proc"),
            *("--kill-child=SIGKILL", "sh", str(setup)),
        ]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=open(self.work / "setup.log", "wb"),  # noqa: SIM115 - the child keeps it
            stderr=subprocess.STDOUT,
            preexec_fn=enter,  # noqa: PLW1509 - single-threaded test process
        )
        deadline = time.monotonic() + timeout
        while self.pid1 is None:
            self.pid1 = self._child_of(self.process.pid)
            self._check_alive(deadline, "unshare did not fork PID 1")
            time.sleep(0.02)
        state = ""
        while state not in ("running", "degraded"):
            self._check_alive(deadline, f"not up (is-system-running: {state or 'no answer'})")
            time.sleep(0.1)
            state = self.systemctl("is-system-running", check=False).stdout.strip()

    @staticmethod
    def _child_of(pid: int) -> int | None:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def _check_alive(self, deadline: float, what: str) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise BootError(f"systemd exited ({self.process.returncode}):\n{self.logs()}")
        if time.monotonic() > deadline:
            raise BootError(f"systemd {what}:\n{self.logs()}")

    def logs(self, lines: int = 60) -> str:
        out = []
        for path in (self.work / "setup.log", self.console):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(out)

    # -- inside ----------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A command in systemd's namespaces (mount, PID, network, UTS, cgroup), on its root."""
        assert self.pid1 is not None
        result = subprocess.run(
            [
                *("nsenter", "--target", str(self.pid1)),
                *("--mount", "--pid", "--net", "--uts", "--cgroup", "--", *argv),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER": "cat", **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
            )
        return result

    def systemctl(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", "--no-pager", *args], check=check, timeout=timeout)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.systemctl("show", unit, "--property=" + ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str, lines: int = 80) -> str:
        return self.run(
            ["journalctl", "--no-pager", "-o", "short-monotonic", "-n", str(lines), "-u", unit],
            check=False,
        ).stdout

    def path(self, inside: str) -> Path:
        """A path of the namespace's file system, as the host can open it."""
        assert self.pid1 is not None
        return Path(f"/proc/{self.pid1}/root") / inside.lstrip("/")

    # -- stop ------------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL PID 1 (the kernel ends its whole PID namespace), reap `unshare`, remove the
        cgroups. Safe to call twice and after a failed boot."""
        if self.pid1 is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid1, signal.SIGKILL)
        if self.process is not None:
            if self.process.poll() is None and self.pid1 is None:
                self.process.kill()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.cgroup is not None:
            _remove_cgroup_tree(self.cgroup)
            self.cgroup = None


def _remove_cgroup_tree(top: Path, timeout: float = 10.0) -> None:
    """rmdir every cgroup under `top`, deepest first, once their processes are gone."""
    deadline = time.monotonic() + timeout
    while top.exists():
        dirs = sorted((Path(d) for d, _, _ in os.walk(top)), key=lambda p: -len(p.parts))
        busy = False
        for d in dirs:
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                busy = True
        if busy and time.monotonic() > deadline:
            raise RuntimeError(f"cgroup {top} still has processes after {timeout} s")
        if busy:
            time.sleep(0.05)


@contextlib.contextmanager
def booted(systemd: BootedSystemd, timeout: float = 60.0) -> Iterator[BootedSystemd]:
    """Boot it; always kill it (even when the boot or the test fails)."""
    try:
        systemd.boot(timeout)
        yield systemd
    finally:
        systemd.kill()
