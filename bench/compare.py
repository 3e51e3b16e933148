"""twinbeat against keepalived, side by side in one lab, seen by one prober (issue #17).

Not a test: it measures. One lab (`twinbeat.lab.Lab`, VIP-only group, apache2 running on both
nodes all the time) runs both cluster managers at once on both nodes:

- twinbeat, as the lab runs it (`--preset`, default `fast`: keepalive 10 ms, deadtime 40 ms,
  `realtime on`; UDP on eth1 + the serial cable), holding 198.18.1.100;
- keepalived (Debian's 2.2.7, VRRP only: `-P`), VRRPv3, `advert_int 0.01` (its floor),
  realtime like twinbeat's `realtime on` (`vrrp_rt_priority 50`, `vrrp_no_swap`; off with
  `--ka-no-realtime`), unicast adverts on the LAN (eth0, through the lab's bridge, as VRRP
  is deployed: on eth1, the crossover cable, keepalived puts the instance in FAULT state when
  the peer's power goes, and never takes over), prime MASTER priority 150, calc BACKUP 100,
  holding 198.18.1.101.

One prober in the client namespace GETs both VIPs every `--interval` (5 ms). Each trial
injects every fault once, at prime, to both managers at the same instant, and times, per
manager, the first answer from the node that should now serve:

  power-loss  prime's power goes (`Lab.power_loss`: every process, NICs, cable): calc
  failback    prime powers on: apache2 first, then both managers started together; time to
              prime's first answer from when prime's manager is up (twinbeat: its log says
              "links open"; keepalived: started, it needs no start-up to speak of), and, as
              `from start`, from the start of the processes (twinbeat's includes a Python
              start-up: its imports), and `outage`, the longest time the VIP did not answer
              at all in the handoff (what a client of the failback sees)
  sigkill     both managers' processes on prime SIGKILLed; NICs and apache2 stay up
  graceful    SIGTERM to both (keepalived sends its priority-0 advert, twinbeat LEAVING)

Prints, per fault, n, median and p90 (ms) of each, and the per-pair ratio twinbeat /
keepalived (median, p90) with how many pairs twinbeat won. Before the faults, `--idle S`
measures both managers' CPU (%, of one core) and memory over S seconds of 5 s windows, and
`--jitter S` the gaps between prime's heartbeats and adverts as calc's NICs receive them
(bench/wiregaps.py: kernel timestamps), S seconds idle and S more under `stress-ng --cpu 2`,
with the false takeovers in each window.

keepalived is a bench dependency only (never the tests'): `--install` installs Debian's
package (its service masked, nothing started). Run as root:

    .venv/bin/python bench/compare.py --install --trials 20 --idle 30 --jitter 60
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from twinbeat.lab import network
from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.node import READY_LINE
from twinbeat.lab.poller import Poller

sys.path.insert(0, str(Path(__file__).parent))
from idle import cpu_seconds, memory_mb, percentile

KA_VIP = "198.18.1.101"
VIPS = {"twinbeat": lp.VIP, "keepalived": KA_VIP}
FAULTS = ("power-loss", "failback", "failback from start", "failback outage", "sigkill",
          "graceful")
KEEPALIVED = "/usr/sbin/keepalived"
CONF = """global_defs {{
    router_id {node}
    vrrp_version 3
    enable_script_security
    {realtime}
}}
vrrp_instance tb {{
    state {state}
    interface {hb}
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    unicast_src_ip {src}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        {vip}/{prefix} dev {lan}
    }}
}}
"""


def install() -> None:
    """Debian's keepalived, its service masked: nothing may start it but this bench."""
    if shutil.which("keepalived"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    made = not policy.exists()
    if made:  # Debian's convention: 101 = no service may start during the install
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "keepalived"], check=True, env=env)
    finally:
        if made:
            policy.unlink()
    subprocess.run(["systemctl", "--root=/", "mask", "keepalived"], check=False,
                   capture_output=True)


class Keepalived:
    """keepalived on each lab node: its config, its two processes, started and stopped by PID."""

    def __init__(self, lab: Lab, advert: float, realtime: bool) -> None:
        self.lab = lab
        self.dir = lab.plan.run_dir / "keepalived"
        self.dir.mkdir(exist_ok=True)
        for node in lp.NODES:
            peer = next(n for n in lp.NODES if n != node)
            (self.dir / f"{node}.conf").write_text(CONF.format(
                node=node, state="MASTER" if node == "prime" else "BACKUP",
                priority=150 if node == "prime" else 100, advert=advert, hb=lp.LAN_IFACE,
                src=lp.LAN_ADDR[node], peer=lp.LAN_ADDR[peer], vip=KA_VIP,
                prefix=lp.LAN_PREFIX, lan=lp.LAN_IFACE,
                realtime="vrrp_rt_priority 50\n    vrrp_no_swap" if realtime else ""))

    def start(self, node: str) -> None:
        d = self.dir
        for stale in (f"{node}.pid", f"{node}-vrrp.pid", f"{node}-check.pid"):
            (d / stale).unlink(missing_ok=True)  # a killed keepalived's: it would refuse
        argv = [KEEPALIVED, "--dont-fork", "--log-console", "--vrrp", "--no_bfd",
                "--no-syslog", f"--use-file={d}/{node}.conf", f"--pid={d}/{node}.pid",
                f"--vrrp_pid={d}/{node}-vrrp.pid", f"--checkers_pid={d}/{node}-check.pid"]
        self.lab.harness.spawn(f"{node}-keepalived", argv, netns=self.lab.netns(node),
                               log=d / f"{node}.log")

    def pids(self, node: str) -> list[int]:
        """The parent (by the harness's record) and its VRRP child (by its pid file)."""
        parent = self.lab.harness.pid(f"{node}-keepalived")
        if parent is None:
            return []
        pids = [parent]
        try:
            child = int((self.dir / f"{node}-vrrp.pid").read_text().split()[0])
            if Path(f"/proc/{child}").exists() and child != parent:
                pids.append(child)
        except (OSError, ValueError, IndexError):
            pass
        return pids

    def kill(self, node: str, sig: int) -> None:
        targets = self.pids(node) if sig == signal.SIGKILL else self.pids(node)[:1]
        for pid in targets:
            os.kill(pid, sig)

    def stopped(self, node: str) -> bool:
        return not self.pids(node)

    def holds(self, node: str) -> bool:
        cidrs = [a.cidr for a in network.addresses(self.lab.netns(node), lp.LAN_IFACE)]
        return f"{KA_VIP}/{lp.LAN_PREFIX}" in cidrs


def settled(lab: Lab, ka: Keepalived, poller: Poller, timeout: float) -> None:
    wait_for(lambda: lab.converged("prime") and ka.holds("prime") and not ka.holds("calc"),
             timeout, "both managers to settle on prime")
    now = time.monotonic()
    for vip in VIPS.values():
        if poller.first(f"prime@{vip}", now, 10) is None:
            raise LabError(f"prime does not answer on {vip}")


def measure(poller: Poller, body: str, t0: float, patience: float) -> dict[str, float]:
    out = {}
    for name, vip in VIPS.items():
        seen = poller.first(f"{body}@{vip}", t0, patience)
        if seen is None:
            raise LabError(f"{name}: no answer from {body} on {vip} within {patience:.0f} s")
        out[name] = seen - t0
    return out


class ReadyWatch:
    """When prime's daemon logs that its links are open (polled every ms in a thread)."""

    def __init__(self, lab: Lab) -> None:
        self.log = lab.node("prime").log
        self.mark = self.log.mark()
        self.at: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if READY_LINE in self.log.read(self.mark):
                self.at = time.monotonic()
                return
            time.sleep(0.001)

    def wait(self) -> float:
        self._thread.join(65)
        if self.at is None:
            raise LabError("prime's daemon never logged its links open")
        return self.at


def outage(poller: Poller, vip: str, start: float, end: float) -> float:
    """The longest time without any answer on `vip` between `start` and `end`."""
    times = [start] + [a.time for a in poller.answers if a.body and a.body.endswith(f"@{vip}")
                       and start <= a.time <= end] + [end]
    return max(b - a for a, b in itertools.pairwise(times))


def failback(lab: Lab, ka: Keepalived, poller: Poller, patience: float) -> dict[str, dict[
        str, float]]:
    # A real power cycle forgets the addresses; the lab's namespace keeps them (to test the
    # daemon's leftover clean-up): both VIPs go first, or prime would answer on them before
    # either manager even runs.
    for vip in VIPS.values():
        if f"{vip}/{lp.LAN_PREFIX}" in [a.cidr for a in network.addresses(
                lab.netns("prime"), lp.LAN_IFACE)]:
            lab.harness.del_address(lab.netns("prime"), lp.LAN_IFACE, f"{vip}/{lp.LAN_PREFIX}")
    lab.power_on("prime", daemon=False)
    if lab.apache("prime", "start").returncode != 0:
        raise LabError("apache2 did not start on prime")
    ready = ReadyWatch(lab)
    t1 = time.monotonic()
    lab.node("prime").start(wait=False)
    ka.start("prime")
    since_start = measure(poller, "prime", t1, patience + 15)
    up = {"twinbeat": ready.wait(), "keepalived": t1}
    time.sleep(0.3)
    return {
        "failback": {m: t1 + since_start[m] - up[m] for m in VIPS},
        "failback from start": since_start,
        "failback outage": {m: outage(poller, vip, t1, t1 + since_start[m] + 0.2)
                            for m, vip in VIPS.items()},
    }


def restart_prime(lab: Lab, ka: Keepalived) -> float:
    """Start both managers on prime together (after a kill or a stop); returns when."""
    wait_for(lambda: not lab.node("prime").running() and ka.stopped("prime"), 15,
             "prime's managers to be gone")
    t = time.monotonic()
    lab.node("prime").start(wait=False)
    ka.start("prime")
    return t


def one_trial(lab: Lab, ka: Keepalived, poller: Poller, patience: float
              ) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    t0 = lab.power_loss("prime")
    results["power-loss"] = measure(poller, "calc", t0, patience)
    results.update(failback(lab, ka, poller, patience))
    settled(lab, ka, poller, patience + 15)
    for fault, sig in (("sigkill", signal.SIGKILL), ("graceful", signal.SIGTERM)):
        t0 = time.monotonic()
        lab.node("prime").signal(sig)
        ka.kill("prime", sig)
        results[fault] = measure(poller, "calc", t0, patience)
        restart_prime(lab, ka)
        settled(lab, ka, poller, patience + 15)
    return results


def idle_costs(lab: Lab, ka: Keepalived, seconds: float, window: float = 5.0
               ) -> dict[str, list[float]]:
    """CPU % per window of each manager on each node (keepalived: parent + VRRP child)."""
    pids = {f"twinbeat {n}": [lab.node(n).pid() or 0] for n in lp.NODES}
    pids.update({f"keepalived {n}": ka.pids(n) for n in lp.NODES})
    samples: dict[str, list[float]] = {k: [] for k in pids}
    for _ in range(max(1, int(seconds / window))):
        start = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
        t0 = time.monotonic()
        time.sleep(window)
        took = time.monotonic() - t0
        for k, v in pids.items():
            samples[k].append(100 * (sum(cpu_seconds(p) for p in v) - start[k]) / took)
    for k, v in pids.items():
        rss = sum(memory_mb(p)[0] for p in v)
        pss = sum(memory_mb(p)[1] for p in v)
        samples[k + " rss"], samples[k + " pss"] = [rss], [pss]
    return samples


def jitter_window(lab: Lab, seconds: float, load: bool) -> dict[str, object]:
    """Wire gaps of prime's heartbeats and adverts as calc's NICs see them (bench/wiregaps.py),
    with or without `stress-ng --cpu 2`, and the false takeovers meanwhile: calc taking
    either VIP while prime runs (twinbeat: "acquiring" in calc's log; keepalived: calc
    "Entering MASTER STATE")."""
    ka_log, tb_log = lab.plan.run_dir / "keepalived" / "calc.log", lab.node("calc").log
    ka_mark, tb_mark = len(ka_log.read_text()), tb_log.mark()
    sources = f"{lp.HB_ADDR['prime']}@{lp.HB_IFACE},{lp.LAN_ADDR['prime']}@{lp.LAN_IFACE}"
    probe = lab.harness.spawn("wiregaps", [sys.executable, str(Path(__file__).parent /
                                                                "wiregaps.py"),
                                           sources, str(seconds)],
                              netns=lab.netns("calc"), stdout=subprocess.PIPE)
    if load:
        lab.harness.spawn("stress", ["stress-ng", "--cpu", "2", "--timeout", f"{seconds:g}s",
                                     "--quiet"])
    out, _ = probe.communicate(timeout=seconds + 30)
    lab.harness.forget("wiregaps")
    if load:
        lab.harness.stop("stress")
    gaps = json.loads(out)
    return {
        "gaps": gaps,
        "takeovers": {
            "twinbeat": tb_log.read(tb_mark).count("acquiring resource group"),
            "keepalived": ka_log.read_text()[ka_mark:].count("Entering MASTER STATE"),
        },
    }


def report_jitter(windows: dict[str, dict[str, object]]) -> None:
    print("\n| window | manager | sent | gap median ms | p99 | max | false takeovers |\n"
          "|---|---|---|---|---|---|---|")
    for name, w in windows.items():
        gaps: dict[str, list[float]] = w["gaps"]  # type: ignore[assignment]
        takeovers: dict[str, int] = w["takeovers"]  # type: ignore[assignment]
        for manager in VIPS:
            g = gaps[manager] or [0.0]
            print(f"| {name} | {manager} | {len(gaps[manager]) + 1} | "
                  f"{statistics.median(g):.2f} | {percentile(g, 99):.2f} | {max(g):.2f} | "
                  f"{takeovers[manager]} |")


def report(samples: dict[str, dict[str, list[float]]], idle: dict[str, list[float]],
           args: argparse.Namespace) -> None:
    print(f"twinbeat preset {args.preset} vs keepalived 2.2.7 VRRPv3 advert_int {args.advert:g}"
          f"; {args.trials} trials; one prober, both VIPs every {args.interval * 1000:g} ms")
    print("| fault | n | keepalived median | p90 | twinbeat median | p90 | ratio median "
          "| ratio p90 | ratio p99 | pairs won |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fault in FAULTS:
        ka = [1000 * v for v in samples["keepalived"][fault]]
        tb = [1000 * v for v in samples["twinbeat"][fault]]
        if not ka:
            continue
        ratios = [t / k for t, k in zip(tb, ka, strict=True)]
        won = sum(1 for t, k in zip(tb, ka, strict=True) if t < k)
        print(f"| {fault} | {len(ka)} | {statistics.median(ka):.1f} | {percentile(ka, 90):.1f} "
              f"| {statistics.median(tb):.1f} | {percentile(tb, 90):.1f} "
              f"| {statistics.median(ratios):.2f} | {percentile(ratios, 90):.2f} "
              f"| {percentile(ratios, 99):.2f} | {won} of {len(ka)} |")
    if idle:
        print("\n| idle | cpu median | cpu p99 | rss MB | pss MB |\n|---|---|---|---|---|")
        for name in (f"{m} {n}" for m in VIPS for n in lp.NODES):
            cpu = idle[name]
            print(f"| {name} | {statistics.median(cpu):.2f} % | {percentile(cpu, 99):.2f} % "
                  f"| {idle[name + ' rss'][0]:.1f} | {idle[name + ' pss'][0]:.1f} |")


def windows(lab: Lab, ka: Keepalived, args: argparse.Namespace
            ) -> tuple[dict[str, list[float]], dict[str, dict[str, object]]]:
    """The idle-cost and jitter windows, before any fault."""
    idle = idle_costs(lab, ka, args.idle) if args.idle else {}
    jitter = {}
    if args.jitter:
        jitter = {"idle": jitter_window(lab, args.jitter, load=False),
                  "stress-ng --cpu 2": jitter_window(lab, args.jitter, load=True)}
    return idle, jitter


def run(args: argparse.Namespace) -> int:
    lab = Lab.make("tbk" + secrets.token_hex(2), preset=args.preset)
    samples: dict[str, dict[str, list[float]]] = {m: {f: [] for f in FAULTS} for m in VIPS}
    idle: dict[str, list[float]] = {}
    jitter: dict[str, dict[str, object]] = {}
    poller = None
    try:
        lab.up(apache_in_group=False)
        for node in lp.NODES:
            if lab.apache(node, "start").returncode != 0:
                raise LabError(f"apache2 did not start on {node}")
        ka = Keepalived(lab, args.advert, not args.ka_no_realtime)
        ka.start("prime")
        wait_for(lambda: ka.holds("prime"), 10, "keepalived to take its VIP on prime")
        ka.start("calc")
        poller = lab.poller(interval=args.interval, addresses=tuple(VIPS.values()))
        patience = lab.plan.timers.deadtime_s * 3 + 10
        settled(lab, ka, poller, 60)
        idle, jitter = windows(lab, ka, args)
        for trial in range(args.trials):
            for fault, by in one_trial(lab, ka, poller, patience).items():
                for manager, value in by.items():
                    samples[manager][fault].append(value)
            print(f"  trial {trial + 1}/{args.trials} done", file=sys.stderr)
    except LabError as exc:
        print(f"twinbeat bench: {exc} (RUN dir kept: {lab.plan.run_dir})", file=sys.stderr)
        if poller is not None:
            poller.close()
        lab.down(purge=False)
        return 1
    if poller is not None:
        poller.close()
    lab.down(purge=True)
    report(samples, idle, args)
    if jitter:
        report_jitter(jitter)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--preset", default="fast", choices=list(lp.PRESETS))
    parser.add_argument("--advert", type=float, default=0.01, help="keepalived advert_int")
    parser.add_argument("--interval", type=float, default=0.005, help="prober, s per VIP")
    parser.add_argument("--idle", type=float, default=0.0, help="seconds of idle CPU first")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="seconds of wire gaps idle, then as long under stress-ng")
    parser.add_argument("--install", action="store_true", help="apt-get install keepalived")
    parser.add_argument("--ka-no-realtime", action="store_true",
                        help="keepalived without vrrp_rt_priority/vrrp_no_swap (twinbeat's "
                        "presets have `realtime on`: SCHED_FIFO and mlockall)")
    args = parser.parse_args(argv)
    if args.install:
        install()
    if not shutil.which("keepalived"):
        parser.error("keepalived is not installed: apt-get install keepalived, or --install")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
