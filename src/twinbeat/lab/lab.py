"""`Lab`: heartbeat's classic two-node setup, built on a `Harness`. For the CLI, demo, tests, bench.

The lab is a fixed topology (plan.py) made of the harness's general parts: namespaces and
veths (`Harness`), the null-modem cable (`Cable`), and one `NodeDaemon` per node. Faults are
methods (`power_loss`, `set_link`, `cable.pull`, `node(n).kill`) so that the demo, the tests
and the benchmark inject them the same way and time them from the same instant.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinbeat.control.client import format_status
from twinbeat.lab import network, procs, render
from twinbeat.lab import plan as lp
from twinbeat.lab.cable import Cable, socat_available
from twinbeat.lab.errors import LabError
from twinbeat.lab.fencing import POWER_OFF, POWER_ON, FenceSetup, prepare, set_power, start_switch
from twinbeat.lab.harness import Harness
from twinbeat.lab.hbnode import HeartbeatNode
from twinbeat.lab.network import Port
from twinbeat.lab.node import NodeDaemon
from twinbeat.lab.poller import Poller

__all__ = ["Lab", "LabError", "preflight"]

STOPPED = {"cable": "the serial cable (socat)", "poller": "the client's poller",
           "switch": "the power switch"} | {
    f"{node}-daemon": f"{node}'s daemon" for node in lp.NODES
} | {f"{node}-squatter": f"{node}'s port-80 squatter (lab/service.py)" for node in lp.NODES}


def preflight() -> None:
    """Refuse early, with one line, when the machine cannot host a lab."""
    if os.geteuid() != 0:
        raise LabError("must run as root (it creates network namespaces)")
    if not os.access(lp.APACHE_BIN, os.X_OK):
        raise LabError(
            "apache2 not found; install Debian's apache2 package (apt-get install apache2)"
        )
    if not socat_available():
        raise LabError("socat not found; install it (apt-get install socat)")


class Lab:
    def __init__(self, plan: lp.Plan) -> None:
        self.plan = plan
        self.harness = Harness(plan.name, plan.run_dir)
        self.cable = Cable(
            self.harness,
            (plan.tty(lp.NODES[0]), plan.tty(lp.NODES[1])),
            # socat needs no network; in the lab's `lan` namespace a teardown finds it by
            # namespace like every other lab process, even if its pid file is lost.
            netns=plan.netns("lan"),
            log=plan.cable_log,
        )
        self.nodes = {n: NodeDaemon(self.harness, plan.files(n), plan.netns(n),
                                    plan.machine_env(n)) for n in lp.NODES}

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

    def node(self, name: str) -> NodeDaemon:
        try:
            return self.nodes[name]
        except KeyError:
            raise LabError(f"unknown lab node {name!r}") from None

    def exists(self) -> bool:
        return any(network.exists(self.netns(role)) for role in lp.ROLES)

    # -- lifecycle ---------------------------------------------------------------------

    def up(
        self,
        *,
        daemons: bool = True,
        apache_in_group: bool = True,
        auto_failback: str = "on",
        fencing: FenceSetup | None = None,
        auth: str = "sha256",
        say: Callable[[str], None] = lambda _text: None,
    ) -> None:
        """Network, cable, configs and (with `daemons`) both daemons, ready. With `fencing`,
        the power switch too, and ha.cf's fencing lines for it (lab/fencing.py). `auth`:
        the authkeys method (md5 or sha1 where a node runs heartbeat 3.0.6: `heartbeat`).

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
            self._build_network()
            say("namespaces, bridge and veths in place")
            lines = ""
            if fencing is not None:
                password = prepare(self.plan.run_dir, self.harness, fencing)
                lines = fencing.hacf_lines(self.plan.run_dir, password)
                start_switch(self.plan.run_dir, self.name, self.harness)
                say(f"power switch up; the nodes fence through it ({fencing.kind})")
            render.write_all(self.plan, apache_in_group=apache_in_group,
                             auto_failback=auto_failback, fencing=lines, auth=auth)
            self.cable.plug()
            say(f"serial cable: {self.cable.ends[0]} <-> {self.cable.ends[1]}")
            if daemons:
                self.start_daemons()
                say("twinbeat run on prime and calc: links open")
        except BaseException:
            self.down()
            raise

    def _build_network(self) -> None:
        """The layout of docs/lab.md: a bridge in `lan`, eth0 of each role on it, eth1 between
        the nodes. Every veth is made inside a lab namespace: nothing in the host's."""
        names = {role: self.harness.add_netns(role) for role in lp.ROLES}
        lan = names["lan"]
        self.harness.add_bridge(lan, lp.BRIDGE)
        for role, address in lp.LAN_ADDR.items():
            # The bridge port keeps the role's name; the other end is the role's eth0.
            self.harness.veth(
                Port(lan, role, master=lp.BRIDGE),
                Port(names[role], lp.LAN_IFACE, f"{address}/{lp.LAN_PREFIX}"),
            )
        prime, calc = lp.NODES
        self.harness.veth(
            Port(names[prime], lp.HB_IFACE, f"{lp.HB_ADDR[prime]}/{lp.HB_PREFIX}",
                 ifindex=lp.HB_INDEX),
            Port(names[calc], lp.HB_IFACE, f"{lp.HB_ADDR[calc]}/{lp.HB_PREFIX}"),
        )

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop everything the lab started and remove its namespaces and ptys.

        Safe to run twice, after a crash, or on a half-built lab: it works from the pid files
        and from the namespaces' names, not from memory.
        """
        done = [f"stopped {STOPPED.get(label, label)}" for label in self.harness.stop_processes()]
        for node in lp.NODES:  # its daemon normally stops it; not after a SIGKILL
            pid = self.apache_pid(node)
            if pid is not None:
                procs.stop([pid])
                done.append(f"stopped {node}'s apache2")
        # Anything still living in a lab namespace was started there by the lab (apache
        # workers, resource scripts, a process whose pid file was lost): stopped by PID.
        roles = (*lp.ROLES, lp.FLOOD_ROLE)
        teardown = self.harness.teardown(also=[self.netns(role) for role in roles])
        done += [
            f"stopped {n} leftover process(es) in {ns}" for ns, n in teardown.leftovers.items()
        ]
        if teardown.removed:
            done.append(f"removed namespaces {', '.join(teardown.removed)}")
        self.cable.unlink()
        if purge and self.plan.run_dir.exists():
            shutil.rmtree(self.plan.run_dir)
        return done

    # -- daemons ---------------------------------------------------------------------------

    def start_daemons(self, timeout: float = 15.0) -> None:
        """Both daemons at once, then wait until each says its links are open."""
        marks = {name: node.log.mark() for name, node in self.nodes.items()}
        for node in self.nodes.values():
            node.start(wait=False)
        for name, node in self.nodes.items():
            node.wait_ready(marks[name], timeout)

    def heartbeat(self, node: str) -> HeartbeatNode:
        """Debian's heartbeat 3.0.6 as `node` (instead of its twinbeat daemon; start one of
        the two): same ha.d, namespace, cable end and apache2 (lab/hbnode.py)."""
        return HeartbeatNode(self.harness, self.plan.files(node), self.netns(node),
                             self.plan.run_dir)

    def status(self, node: str) -> dict[str, Any] | None:
        """The node's `twinbeat status --json`, or None when its daemon does not answer."""
        return self.node(node).status()

    def holder(self, node: str) -> str | None:
        """Who holds the (only) group, as `node` sees it."""
        snapshot = self.status(node)
        if not snapshot or not snapshot.get("groups"):
            return None
        holder = snapshot["groups"][0].get("holder")
        return None if holder is None else str(holder)

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

    def flood_host(self, target: str) -> str:
        """`<name>-flood`: one more host on the heartbeat cable, able to reach `target`.

        A macvlan of the *other* node's eth1 (a macvlan cannot reach its own parent), with
        FLOOD_ADDR; what it sends crosses the cable into `target`'s eth1 like the peer's own
        frames. Removed with the lab. Returns the namespace's name.
        """
        netns = self.harness.add_netns(lp.FLOOD_ROLE)
        self.harness.macvlan(
            Port(self.netns(lp.peer_of(target)), lp.HB_IFACE),
            Port(netns, lp.FLOOD_IFACE, f"{lp.FLOOD_ADDR}/{lp.HB_PREFIX}"),
        )
        return netns

    # -- apache2 ---------------------------------------------------------------------------

    def apache(self, node: str, action: str) -> subprocess.CompletedProcess[str]:
        """The node's resource script (start|stop|status), run in the node's namespace."""
        return self.harness.run([str(self.plan.resource_script(node)), action], self.netns(node))

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
        cidrs = [a.cidr for a in network.addresses(self.netns(node), lp.LAN_IFACE)]
        return f"{lp.VIP}/{lp.LAN_PREFIX}" in cidrs

    def mac(self, role: str, ifname: str = lp.LAN_IFACE) -> str:
        return network.mac(self.netns(role), ifname)

    def client_neighbour(self, address: str = lp.VIP) -> str | None:
        """The MAC the client's ARP cache has for `address` (GARPs update it)."""
        return network.neighbour(self.netns("client"), address)

    # -- faults ----------------------------------------------------------------------------

    def set_link(self, node: str, ifname: str, up: bool) -> None:
        self.harness.set_link(self.netns(node), ifname, up)

    def power_loss(self, node: str) -> float:
        """The node loses power: its NICs go dark, the cable goes dead, every process dies.
        Returns when the power went (`time.monotonic()`): the fault's instant.

        What stays is what a crashed machine's disk and (here) namespace keep: the VIP on eth0
        and apache2's stale pid file, which the daemon's start-up leftover check must handle.
        """
        # All at once, as on a real machine: the namespace's netlink handle is opened first
        # (~20 ms that are not part of the fault); then the daemon dies, socat is told to go
        # (the cable), and both NICs go dark, within a few milliseconds (eth1 first).
        daemon = self.node(node)
        went: list[float] = []

        def cut() -> None:
            went.append(time.monotonic())
            daemon.signal(signal.SIGKILL)
            self.harness.signal(self.cable.label, signal.SIGTERM)

        self.harness.set_links(self.netns(node), (lp.HB_IFACE, lp.LAN_IFACE), up=False,
                               first=cut)
        self.cable.pull()  # gone by the stop policy, its pty links removed
        victims = network.pids_in(self.netns(node))
        for pid in victims:
            procs.send(pid, signal.SIGKILL)
        procs.wait_gone(victims, 5.0)
        self.harness.forget(daemon.label)
        set_power(self.plan.run_dir, node, POWER_OFF)
        return went[0]

    def power_on(self, node: str, *, daemon: bool = True, wait: bool = True) -> None:
        """Power back: NICs up, a new cable at the same paths, the daemon started again."""
        set_power(self.plan.run_dir, node, POWER_ON)
        for ifname in (lp.LAN_IFACE, lp.HB_IFACE):
            self.set_link(node, ifname, up=True)
        if not self.cable.plugged:
            self.cable.plug()
        if daemon:
            self.node(node).start(wait=wait)

    def freeze(self, node: str, sig: int = signal.SIGSTOP) -> list[int]:
        """A hung node: every process in its namespace stopped (SIGSTOP), NICs and cable
        left as they are; `thaw` (SIGCONT) lets them all run again. Their PIDs."""
        victims = network.pids_in(self.netns(node))
        for pid in victims:
            procs.send(pid, sig)
        return victims

    def thaw(self, node: str) -> list[int]:
        return self.freeze(node, signal.SIGCONT)

    # -- the client ------------------------------------------------------------------------

    def poller(self, interval: float = 0.005, label: str = "poller",
               addresses: tuple[str, ...] = (lp.VIP,)) -> Poller:
        """Start the client's HTTP poller on the VIP (stopped by `Poller.close` or `down`).
        With several `addresses`, one prober GETs each of them every `interval`, and an
        answer's body is tagged `BODY@ADDRESS` (bench/compare.py)."""
        argv = [sys.executable, "-m", "twinbeat.lab.poller", *addresses,
                "--interval", str(interval)]
        process = self.harness.spawn(
            label, argv, netns=self.netns("client"), stdout=subprocess.PIPE
        )
        return Poller(process, stop=lambda: self.harness.stop(label))

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
        result = self.harness.python(self.netns("client"), script, timeout=timeout + 5)
        return result.stdout.strip() if result.returncode == 0 else None

    # -- status ----------------------------------------------------------------------------

    def describe(self) -> str:
        """What `twinbeat lab status` prints."""
        lines = [f"lab {self.name} (run dir {self.plan.run_dir}, preset {self.plan.preset})"]
        present = [self.netns(r) for r in lp.ROLES if network.exists(self.netns(r))]
        lines.append(f"  namespaces: {', '.join(present) if present else 'none'}")
        for node in lp.NODES:
            apache = self.apache_pid(node)
            lines.append(f"  apache2 on {node}: " + (f"pid {apache}" if apache else "not running"))
        for label, pid in self.harness.pids.items().items():
            lines.append(f"  {label}: " + (f"pid {pid}" if pid else "not running (stale pid file)"))
        for node in lp.NODES:
            lines.append(f"--- {node}: twinbeat status")
            status = self.status(node)
            if status is None:
                lines.append("  daemon not running")
            else:
                lines.extend("  " + line for line in format_status(status).splitlines())
        return "\n".join(lines)
