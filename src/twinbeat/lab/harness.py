"""`Harness`: namespaces and processes under one name prefix, and a teardown that always works.

The one place where the lab (and every integration test, through it) creates namespaces,
starts processes and removes them again. The rules of DESIGN.md §8 are enforced here rather
than remembered by each caller:

- Namespaces are named `<prefix>-<suffix>`; each one created is recorded in
  `DIR/netns/<name>` with its inode, and the harness only changes (veths, links, addresses,
  neighbours) or removes namespaces it recorded — never one it did not create, even if the
  name matches. Addresses outside 198.18.0.0/15 are refused (`network.lab_address`); no route
  is ever added.
- Every process is started through `spawn` under a label and recorded in `DIR/pids/`
  (`procs.PidTable`: PID, start time, grace); it is stopped by PID with the one stop policy
  (`procs.stop_all`: SIGTERM, its grace, SIGKILL).
- `teardown()` stops every recorded process, then anything still living in one of its
  namespaces (a resource script's apache2, a daemon whose pid file was lost), then removes
  the namespaces. It works from the files alone, so it is safe after a crash, from another
  process, and twice. As a context manager the harness tears down on the way out, whatever
  happened inside.

A test picks a unique prefix (`Harness.unique`) so that it can run while other tests, or
other people's, run on the same machine.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from twinbeat.lab import network, procs
from twinbeat.lab.errors import LabError
from twinbeat.lab.network import Port


def _check_name(kind: str, text: str, limit: int) -> str:
    if not text or len(text) > limit or not all(c.isalnum() or c in "-_." for c in text):
        raise LabError(f"{kind} {text!r}: 1-{limit} characters of letters, digits, - _ .")
    return text


@dataclass
class Teardown:
    """What `Harness.teardown` did."""

    stopped: list[str] = field(default_factory=list)  # labels of recorded processes
    leftovers: dict[str, int] = field(default_factory=dict)  # namespace -> processes stopped
    removed: list[str] = field(default_factory=list)  # namespaces


class Harness:
    def __init__(self, prefix: str, directory: str | Path) -> None:
        self.prefix = _check_name("harness prefix", prefix, 32)
        self.directory = Path(directory).absolute()
        self.pids = procs.PidTable(self.directory / "pids")
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def unique(cls, directory: str | Path, stem: str = "tbh") -> Harness:
        """A harness whose prefix no other test on this machine is using."""
        return cls(stem + secrets.token_hex(3), directory)

    def __enter__(self) -> Harness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()

    # -- namespaces --------------------------------------------------------------------

    @property
    def _netns_dir(self) -> Path:
        return self.directory / "netns"

    def netns_name(self, suffix: str) -> str:
        return f"{self.prefix}-{_check_name('namespace suffix', suffix, 16)}"

    def add_netns(self, suffix: str) -> str:
        """Create `<prefix>-<suffix>` (with `lo` up) and return its name."""
        name = self.netns_name(suffix)
        network.create(name)  # refuses an existing name: it would not be ours
        self._netns_dir.mkdir(parents=True, exist_ok=True)
        (self._netns_dir / name).write_text(f"{network.ns_inode(name)}\n")
        return name

    def namespaces(self) -> list[str]:
        """The namespaces this harness created that still exist."""
        if not self._netns_dir.is_dir():
            return []
        return sorted(p.name for p in self._netns_dir.iterdir() if self.owns(p.name))

    def owns(self, name: str) -> bool:
        """Whether `name` is a namespace this harness created (the very one, by inode)."""
        try:
            recorded = int((self._netns_dir / name).read_text())
        except (OSError, ValueError):
            return False
        return network.ns_inode(name) == recorded

    def _own(self, *names: str) -> None:
        for name in names:
            if not self.owns(name):
                raise LabError(f"namespace {name} was not created by harness {self.prefix}")

    def veth(self, a: Port, b: Port) -> None:
        """A veth cable between two of this harness's namespaces (see `network.veth`)."""
        self._own(a.netns, b.netns)
        network.veth(a, b)

    def macvlan(self, lower: Port, host: Port) -> None:
        """A further host on a veth cable (see `network.macvlan`); both namespaces ours."""
        self._own(lower.netns, host.netns)
        network.macvlan(lower, host)

    def add_bridge(self, netns: str, bridge: str) -> None:
        self._own(netns)
        network.add_bridge(netns, bridge)

    def set_link(self, netns: str, ifname: str, up: bool) -> None:
        self._own(netns)
        network.set_link(netns, ifname, up)

    def set_links(self, netns: str, ifnames: Sequence[str], up: bool,
                  first: Callable[[], object] = lambda: None) -> None:
        """Several links at once, `first()` just before (see `network.set_links`)."""
        self._own(netns)
        network.set_links(netns, ifnames, up, first)

    def add_address(self, netns: str, ifname: str, cidr: str) -> None:
        self._own(netns)
        network.add_address(netns, ifname, cidr)

    def del_address(self, netns: str, ifname: str, cidr: str) -> None:
        self._own(netns)
        network.del_address(netns, ifname, cidr)

    def set_neighbour(self, netns: str, ifname: str, address: str, lladdr: str) -> None:
        self._own(netns)
        network.set_neighbour(netns, ifname, address, lladdr)

    def forget_neighbour(self, netns: str, ifname: str, address: str) -> None:
        self._own(netns)
        network.forget_neighbour(netns, ifname, address)

    # -- processes ---------------------------------------------------------------------

    def spawn(
        self,
        label: str,
        argv: Sequence[str],
        *,
        netns: str | None = None,
        log: Path | None = None,
        stdout: int | None = None,
        env: dict[str, str] | None = None,
        grace: float = procs.GRACE,
    ) -> subprocess.Popen[bytes]:
        """Start a tracked process (in one of this harness's namespaces, or none)."""
        _check_name("process label", label, 64)
        if self.pids.get(label) is not None:
            raise LabError(f"{label} is already running")
        if netns is not None:
            self._own(netns)
        self.forget(label)  # a previous holder of the label, gone: reap it
        process = procs.spawn(argv, netns=netns, log=log, stdout=stdout, env=env)
        self.pids.record(label, process.pid, grace)
        self._children[label] = process
        return process

    def pid(self, label: str) -> int | None:
        """The PID of the process recorded as `label`, if that very process still runs."""
        return self.pids.get(label)

    def signal(self, label: str, sig: int) -> int | None:
        """Send `sig` (a fault, not a stop: nothing is waited for or forgotten)."""
        pid = self.pids.get(label)
        if pid is not None:
            procs.send(pid, sig)
        return pid

    def wait(self, label: str, timeout: float) -> int | None:
        """The exit status of a process this harness object started, once it has exited
        (None if it is still running after `timeout` s, or was started by someone else)."""
        child = self._children.get(label)
        if child is None:
            return None
        try:
            return child.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def forget(self, label: str) -> None:
        self.pids.forget(label)
        child = self._children.pop(label, None)
        if child is not None:
            child.poll()  # reap it if it has exited

    def stop(self, label: str) -> int | None:
        """Stop one recorded process by the stop policy and forget it; its PID, or None."""
        pid = self.pids.get(label)
        if pid is not None:
            procs.stop([pid], self.pids.grace(label))
        self.forget(label)
        return pid

    def run(
        self, argv: Sequence[str], netns: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """A short command, waited for, output captured (stopped by the policy on timeout)."""
        if netns is not None:
            self._own(netns)
        return procs.run_in(argv, netns, timeout)

    def python(
        self, netns: str | None, code: str, *args: str, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """`python -c CODE ARGS...` with this interpreter, like `run`."""
        return self.run([sys.executable, "-c", code, *args], netns, timeout)

    # -- teardown ----------------------------------------------------------------------

    def stop_processes(self) -> list[str]:
        """Stop every recorded process at once (each with its own grace); the labels that ran."""
        running = {label: pid for label, pid in self.pids.items().items() if pid is not None}
        procs.stop_all((pid, self.pids.grace(label)) for label, pid in running.items())
        for label in self.pids.labels():
            self.forget(label)
        for label in list(self._children):
            self.forget(label)
        return sorted(running)

    def teardown(self, also: Iterable[str] = ()) -> Teardown:
        """Processes, then whatever still lives in the namespaces, then the namespaces.

        `also`: further namespace names this harness's owner knows to be its own (the lab's
        fixed names, for a run dir whose records were lost).
        """
        done = Teardown(stopped=self.stop_processes())
        names = sorted({*self.namespaces(), *(n for n in also if network.exists(n))})
        for name in names:
            leftovers = network.pids_in(name)
            if leftovers:
                procs.stop(leftovers)
                done.leftovers[name] = len(leftovers)
        failed: list[str] = []
        for name in names:  # try every one, whatever happens to the others
            try:
                if network.remove(name):
                    done.removed.append(name)
            except Exception as exc:  # reported below, after the others were tried
                failed.append(f"{name}: {exc}")
        if self._netns_dir.is_dir():
            for record in self._netns_dir.iterdir():
                if not network.exists(record.name):
                    record.unlink()
        if failed:
            raise LabError(f"could not remove namespace(s): {'; '.join(failed)}")
        return done
