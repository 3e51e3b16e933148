"""`Lab`: build, drive and tear down the two-node lab. The one API for the CLI, demo, tests, bench.

Faults are methods (`power_loss`, `kill_daemon`, `set_link`, `cable_stop`) so that the demo, the
tests and the benchmark inject them the same way and time them from the same instant.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from twinbeat.control.client import DaemonNotRunningError, format_status, request
from twinbeat.lab import network, procs, render
from twinbeat.lab import plan as lp
from twinbeat.lab.poller import Poller

READY_LINE = "twinbeat: links open"  # docs/internals.md §5
SOCAT = "socat"


class LabError(RuntimeError):
    """A one-line, user-facing reason the lab cannot do what was asked."""


def preflight() -> None:
    """Refuse early, with one line, when the machine cannot host a lab."""
    if os.geteuid() != 0:
        raise LabError("must run as root (it creates network namespaces)")
    if not os.access(lp.APACHE_BIN, os.X_OK):
        raise LabError(
            "apache2 not found; install Debian's apache2 package (apt-get install apache2)"
        )
    if shutil.which(SOCAT) is None:
        raise LabError("socat not found; install it (apt-get install socat)")


class Lab:
    def __init__(self, plan: lp.Plan) -> None:
        self.plan = plan
        self.pids = procs.PidTable(plan.pid_dir)

    @classmethod
    def make(
        cls, name: str = "tb", run_dir: str | os.PathLike[str] | None = None, preset: str = "lab"
    ) -> Lab:
        try:
            return cls(lp.Plan.make(name, run_dir, preset))
        except ValueError as exc:
            raise LabError(str(exc)) from None

    @property
    def name(self) -> str:
        return self.plan.name

    def netns(self, role: str) -> str:
        return self.plan.netns(role)

    def exists(self) -> bool:
        return any(network.exists(self.netns(role)) for role in lp.ROLES)

    # -- lifecycle ---------------------------------------------------------------------

    def up(
        self,
        *,
        daemons: bool = True,
        apache_in_group: bool = True,
        auto_failback: str = "on",
        say: Callable[[str], None] = lambda _text: None,
    ) -> None:
        """Network, cable, configs and (when `daemons` and the daemon exists) both daemons.

        On any failure after the first namespace exists, everything is torn down again.
        """
        preflight()
        if self.exists():
            raise LabError(f"lab {self.name} is already up (twinbeat lab down --name {self.name})")
        self.plan.run_dir.mkdir(parents=True, exist_ok=True)
        why = render.check_www_data_can_read(self.plan.run_dir)
        if why is not None:
            raise LabError(f"run dir unusable for apache2: {why}")
        try:
            network.build(self.plan)
            render.write_all(
                self.plan, apache_in_group=apache_in_group, auto_failback=auto_failback
            )
            self.cable_start()
            if daemons:
                self.start_daemons()
        except BaseException:
            self.down()
            raise

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop everything the lab started and remove its namespaces and ptys.

        Safe to run twice, after a crash, or on a half-built lab: it works from the pid files
        and from the namespaces' names, not from memory.
        """
        done: list[str] = []
        for label in self.pids.labels():
            if label.startswith("poller"):
                self.pids.stop(label, timeout=1.0)
        for node in lp.NODES:  # graceful first: the daemon releases its group
            if self.pids.stop(f"{node}-daemon", timeout=10.0) is not None:
                done.append(f"stopped {node}'s daemon")
        for node in lp.NODES:
            pid = self.apache_pid(node)
            if pid is not None:
                procs.terminate([pid], timeout=5.0)
                done.append(f"stopped {node}'s apache2")
        if self.pids.stop("cable", timeout=2.0) is not None:
            done.append("stopped the serial cable (socat)")
        for label in self.pids.labels():
            self.pids.stop(label, timeout=2.0)
        # Anything still living in a lab namespace was started there by the lab (apache
        # workers, resource scripts, a daemon whose pid file was lost): stop it by PID.
        for role in lp.ROLES:
            leftovers = network.pids_in(self.netns(role))
            if leftovers:
                procs.terminate(leftovers, timeout=2.0)
                done.append(f"stopped {len(leftovers)} leftover process(es) in {self.netns(role)}")
        removed = network.teardown(self.plan)
        if removed:
            done.append(f"removed namespaces {', '.join(removed)}")
        for node in lp.NODES:
            tty = self.plan.tty(node)
            if tty.is_symlink() or tty.exists():
                tty.unlink()
        if purge and self.plan.run_dir.exists():
            shutil.rmtree(self.plan.run_dir)
        return done

    # -- the null-modem cable --------------------------------------------------------------

    def cable_start(self, timeout: float = 5.0) -> int:
        """A socat pty pair: RUN/prime.tty <-> RUN/calc.tty (`serial` in each ha.cf)."""
        ttys = [self.plan.tty(node) for node in lp.NODES]
        for tty in ttys:  # a killed socat leaves its links behind
            if tty.is_symlink():
                tty.unlink()
        argv = [SOCAT, "-d", "-d"] + [f"pty,raw,echo=0,link={tty}" for tty in ttys]
        # socat needs no network, but running it in the lab's `lan` namespace means `down`
        # finds it by namespace like every other lab process, even if its pid file is lost.
        process = procs.spawn(argv, netns=self.netns("lan"), log=self.plan.cable_log)
        self.pids.record("cable", process.pid)
        deadline = time.monotonic() + timeout
        while not all(tty.exists() for tty in ttys):
            if process.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"socat did not create the ptys (see {self.plan.cable_log})")
            time.sleep(0.002)
        return process.pid

    def cable_stop(self, sig: int = signal.SIGKILL) -> None:
        """Pull the cable: socat dies (SIGKILL by default, like a yanked plug)."""
        pid = self.pids.signal("cable", sig)
        if pid is not None:
            procs.wait_gone([pid], 2.0)
        self.pids.forget("cable")

    # -- daemons ---------------------------------------------------------------------------

    def _log_size(self, node: str) -> int:
        try:
            return self.plan.daemon_log(node).stat().st_size
        except FileNotFoundError:
            return 0

    def daemon_argv(self, node: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "twinbeat",
            "run",
            "--config-dir",
            str(self.plan.config_dir(node)),
            "--node",
            node,
            "--state-dir",
            str(self.plan.state_dir(node)),
            "--run-dir",
            str(self.plan.daemon_run_dir(node)),
            "--foreground",
        ]

    def start_daemon(self, node: str, *, wait: bool = True, timeout: float = 15.0) -> int:
        """`twinbeat run` inside the node's namespace; log in RUN/<node>/daemon.log."""
        if self.pids.get(f"{node}-daemon") is not None:
            raise LabError(f"{node}'s daemon is already running")
        offset = self._log_size(node)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        process = procs.spawn(
            self.daemon_argv(node),
            netns=self.netns(node),
            log=self.plan.daemon_log(node),
            env=env,
        )
        self.pids.record(f"{node}-daemon", process.pid)
        if wait:
            self.wait_ready(node, offset, timeout)
        return process.pid

    def start_daemons(self, timeout: float = 15.0) -> None:
        """Both daemons at once, then wait until each says its links are open."""
        offsets = {node: self._log_size(node) for node in lp.NODES}
        for node in lp.NODES:
            self.start_daemon(node, wait=False)
        for node in lp.NODES:
            self.wait_ready(node, offsets[node], timeout)

    def wait_ready(self, node: str, offset: int = 0, timeout: float = 15.0) -> None:
        """Until the daemon's log says `twinbeat: links open` (after byte `offset`)."""
        log = self.plan.daemon_log(node)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(FileNotFoundError), open(log, "rb") as f:
                f.seek(offset)
                if READY_LINE.encode() in f.read():
                    return
            if self.pids.get(f"{node}-daemon") is None:
                raise LabError(f"{node}'s daemon exited during start-up (see {log})")
            if time.monotonic() > deadline:
                raise LabError(f"{node}'s daemon not ready after {timeout:.0f} s (see {log})")
            time.sleep(0.01)

    def daemon_pid(self, node: str) -> int | None:
        return self.pids.get(f"{node}-daemon")

    def kill_daemon(self, node: str, sig: int = signal.SIGKILL, *, wait: float = 10.0) -> None:
        """Signal the daemon; wait (up to `wait` s) until it is gone, and forget it."""
        pid = self.pids.signal(f"{node}-daemon", sig)
        if pid is not None and wait > 0:
            procs.wait_gone([pid], wait)
        self.pids.forget(f"{node}-daemon")

    def twinbeat(
        self,
        node: str,
        *args: str,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """`twinbeat ARGS --run-dir RUN/<node>/run`, run inside the node's namespace."""
        argv = [
            sys.executable,
            "-m",
            "twinbeat",
            *args,
            "--run-dir",
            str(self.plan.daemon_run_dir(node)),
        ]
        return procs.run_in(argv, self.netns(node), timeout=timeout)

    def status(self, node: str) -> dict | None:
        """The node's `twinbeat status --json`, or None when its daemon does not answer."""
        try:
            reply = request(str(self.plan.daemon_run_dir(node)), {"cmd": "status"}, timeout=10)
        except (DaemonNotRunningError, OSError, ValueError):
            return None
        return reply.get("status")

    def holder(self, node: str) -> str | None:
        """Who holds the (only) group, as `node` sees it."""
        snapshot = self.status(node)
        if not snapshot or not snapshot.get("groups"):
            return None
        return snapshot["groups"][0].get("holder")

    def wait_for(
        self, predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02
    ) -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout:.1f} s waiting for {what}")
            time.sleep(interval)

    def converged(self, holder: str) -> bool:
        """Both daemons see each other on every link and agree that `holder` holds the group."""
        for node in lp.NODES:
            snapshot = self.status(node)
            if not snapshot:
                return False
            if not all(peer.get("alive") for peer in snapshot.get("peers", [])):
                return False
            if not all(link.get("up") for link in snapshot.get("links", [])):
                return False
            groups = snapshot.get("groups", [])
            if not groups or groups[0].get("holder") != holder:
                return False
            if node == holder and groups[0].get("state") != "held":
                return False
        return True

    # -- apache2 ---------------------------------------------------------------------------

    def apache(self, node: str, action: str) -> subprocess.CompletedProcess[str]:
        """The node's resource script (start|stop|status), run in the node's namespace."""
        return procs.run_in([str(self.plan.resource_script(node)), action], self.netns(node))

    def apache_pid(self, node: str) -> int | None:
        try:
            pid = int(self.plan.apache_pidfile(node).read_text().split()[0])
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError, IndexError):
            return None
        return pid if comm == "apache2" and procs.alive(pid) else None

    # -- what the network says ------------------------------------------------------------

    def vip_on(self, node: str) -> bool:
        """Whether the VIP is configured on the node's eth0 (whoever put it there)."""
        addresses = network.links(self.plan, node)[lp.LAN_IFACE]["addresses"]
        return f"{lp.VIP}/{lp.LAN_PREFIX}" in addresses  # type: ignore[operator]

    def mac(self, role: str, ifname: str = lp.LAN_IFACE) -> str:
        with network.ipr(self.netns(role)) as route:
            link = route.get_links(route.link_lookup(ifname=ifname)[0])[0]
            return link.get("IFLA_ADDRESS")

    def client_neighbour(self, address: str = lp.VIP) -> str | None:
        """The MAC the client's ARP cache has for `address` (GARPs update it)."""
        with network.ipr(self.netns("client")) as route:
            for entry in route.get_neighbours(family=2):
                if entry.get("NDA_DST") == address:
                    return entry.get("NDA_LLADDR")
        return None

    # -- faults ----------------------------------------------------------------------------

    def set_link(self, node: str, ifname: str, up: bool) -> None:
        network.set_link(self.plan, node, ifname, up)

    def power_loss(self, node: str) -> None:
        """The node loses power: its NICs go dark, the cable goes dead, every process dies.

        What stays is what a crashed machine's disk and (here) namespace keep: the VIP on eth0
        and apache2's stale pid file, which the daemon's start-up leftover check must handle.
        """
        # The daemon dies first: a power loss stops every heartbeat at once, and each netlink
        # step below takes milliseconds that would otherwise count as failover time.
        self.pids.signal(f"{node}-daemon", signal.SIGKILL)
        for ifname in (lp.LAN_IFACE, lp.HB_IFACE):
            self.set_link(node, ifname, up=False)
        self.cable_stop()
        victims = network.pids_in(self.netns(node))
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        procs.wait_gone(victims, 5.0)
        self.pids.forget(f"{node}-daemon")

    def power_on(self, node: str, *, daemon: bool = True, wait: bool = True) -> None:
        """Power back: NICs up, a new cable at the same paths, the daemon started again."""
        for ifname in (lp.LAN_IFACE, lp.HB_IFACE):
            self.set_link(node, ifname, up=True)
        if self.pids.get("cable") is None:
            self.cable_start()
        if daemon:
            self.start_daemon(node, wait=wait)

    # -- the client ------------------------------------------------------------------------

    def poller(self, interval: float = 0.005, label: str = "poller") -> Poller:
        """Start the client's HTTP poller on the VIP (stopped by `Poller.close` or `down`)."""
        process = procs.spawn(
            [sys.executable, "-m", "twinbeat.lab.poller", lp.VIP, "--interval", str(interval)],
            netns=self.netns("client"),
            stdout=subprocess.PIPE,
        )
        self.pids.record(label, process.pid)
        return Poller(process)

    def get(self, address: str = lp.VIP, timeout: float = 2.0) -> str | None:
        """One HTTP GET from the client namespace: the body (stripped), or None."""
        script = (
            "import sys, urllib.request\n"
            "try:\n"
            f"    r = urllib.request.urlopen('http://{address}/', timeout={timeout})\n"
            "    sys.stdout.write(r.read().decode())\n"
            "except Exception as e:\n"
            "    sys.exit(1)\n"
        )
        result = procs.run_in(
            [sys.executable, "-c", script], self.netns("client"), timeout=timeout + 5
        )
        return result.stdout.strip() if result.returncode == 0 else None

    # -- status ----------------------------------------------------------------------------

    def describe(self) -> str:
        """What `twinbeat lab status` prints."""
        lines = [f"lab {self.name} (run dir {self.plan.run_dir}, preset {self.plan.preset})"]
        present = [self.netns(r) for r in lp.ROLES if network.exists(self.netns(r))]
        lines.append(f"  namespaces: {', '.join(present) if present else 'none'}")
        tracked = self.pids.items()
        for node in lp.NODES:
            apache = self.apache_pid(node)
            lines.append(f"  apache2 on {node}: " + (f"pid {apache}" if apache else "not running"))
        for label, pid in tracked.items():
            lines.append(f"  {label}: " + (f"pid {pid}" if pid else "not running (stale pid file)"))
        for node in lp.NODES:
            lines.append(f"--- {node}: twinbeat status")
            status = self.status(node)
            if status is None:
                lines.append("  daemon not running")
            else:
                lines.extend("  " + line for line in format_status(status).splitlines())
        return "\n".join(lines)
