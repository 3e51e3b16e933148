"""Junk-flood benchmark (issue #11, item 4): a flood on the heartbeat port must not starve the
real heartbeats nor cause a false takeover.

Not a test: it measures. For each kind of junk it builds one lab (`twinbeat.lab.Lab`) at a
timer preset (default `fast`: keepalive 10ms, deadtime 40ms, UDP on eth1 + the serial
cable), waits until both daemons agree that prime holds the group, then adds one more host on
the heartbeat cable (`Lab.flood_host`: the `<name>-flood` namespace, 198.18.2.66) and floods
calc's heartbeat port (198.18.2.2:694) with junk for `--duration` seconds, as fast as one
sender process goes (`twinbeat.lab.flood`: sendmmsg batches) unless `--rate` caps it.
Nothing else is done to either node, so calc must never take the group over.

Junk (`--junk`):
  random  random bytes, never starting with the frame's magic: refused at the first byte
  forged  well-formed frames from "prime" signed with a wrong key under the lab's key index:
          refused only after a full HMAC check, the most expensive junk there is

Printed per run: the sender's rate; how much of it calc's UDP driver read (the rest the
kernel dropped with its socket buffer full) and rejected; per link (as calc hears prime) the
heartbeats prime sent and calc's core accepted, the worst gap between two of them (`max_gap`
since the daemon started, marked `*` when it was already that before the flood), `late`
(gaps over warntime) and "Link ... dead." lines; calc's daemon CPU (share of one core); and
false takeovers (calc starting/holding the group while prime's daemon runs, by poll and by
calc's ha-log) with the times calc declared prime dead.

Run as root:  .venv/bin/python bench/flood.py --duration 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soak import LogCounts, Watch, count_log_lines, log_offsets  # bench/soak.py, beside this

from twinbeat import wire
from twinbeat.config import load
from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.flood import write_payloads
from twinbeat.lab.lab import Lab

JUNK = ("random", "forged")
TARGET = "calc"  # the standby: the node that could take over falsely
POLL_INTERVAL = 0.5
UDP_LINK = lp.HB_IFACE


# -- junk ------------------------------------------------------------------------------------


def random_junk(rng: random.Random) -> list[bytes]:
    """Datagrams of 40-120 random bytes whose first byte is not the magic's."""
    junk = []
    for _ in range(64):
        data = bytearray(rng.randbytes(rng.randrange(40, 121)))
        if data[0] == ord("T"):
            data[0] = 0
        junk.append(bytes(data))
    return junk


def forged_junk(lab: Lab, rng: random.Random) -> list[bytes]:
    """Frames as prime would send them on eth1, under the lab's key index with another key."""
    config = load(str(lab.plan.files(TARGET).config_dir), node=TARGET)
    index = config.authkeys.active
    keyring = wire.Keyring({index: ("sha256", rng.randbytes(32))}, index)
    return [
        wire.encode(keyring, sender=lp.peer_of(TARGET), fingerprint=config.fingerprint,
                    generation=1, sequence=n, timestamp_ms=n, echo_ms=0, echo_delay_ms=0,
                    link_id=0, node_state=2, node_flags=0, groups=b"\x02")
        for n in range(1, 65)
    ]


# -- what is measured ------------------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, in seconds (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peer_links(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The status's links to the peer by kind: "eth1" and "serial"."""
    return {
        (UDP_LINK if link["name"] == UDP_LINK else "serial"): link
        for link in status.get("links", [])
    }


def driver_sent(status: dict[str, Any]) -> dict[str, int]:
    """Frames each of the node's drivers sent, by kind."""
    return {
        (UDP_LINK if name == UDP_LINK else "serial"): int(d.get("sent", 0))
        for name, d in status.get("drivers", {}).items()
    }


@dataclass
class Run:
    junk: str
    sender: dict[str, float]
    before: dict[str, dict[str, Any]]  # node -> status at the start of the flood
    after: dict[str, dict[str, Any]]  # node -> status at its end
    cpu: float  # calc's daemon, share of one core
    watch: Watch
    logs: LogCounts


def flood_run(lab: Lab, junk: str, args: argparse.Namespace, say: Callable[[str], None]) -> Run:
    """Converged lab → flood calc for `args.duration` → what happened."""
    timers = lab.plan.timers
    lab.up(daemons=True)
    wait_for(lambda: lab.converged("prime"), timers.initdead_s + timers.deadtime_s * 3 + 20,
             "both nodes to agree that prime holds the group")
    prime_pid, calc_pid = lab.node("prime").pid(), lab.node(TARGET).pid()
    if prime_pid is None or calc_pid is None:
        raise LabError("a daemon is not running")
    netns = lab.flood_host(TARGET)
    rng = random.Random(694)
    payloads = lab.plan.run_dir / "flood.payloads"
    write_payloads(payloads, random_junk(rng) if junk == "random" else forged_junk(lab, rng))
    watch = Watch(prime_pid=prime_pid)
    before = {node: lab.status(node) or {} for node in lp.NODES}
    offsets = log_offsets(lab)
    cpu0, t0 = cpu_seconds(calc_pid), time.monotonic()
    argv = [sys.executable, "-m", "twinbeat.lab.flood", lp.HB_ADDR[TARGET], "694",
            str(payloads), "--duration", str(args.duration), "--rate", str(args.rate)]
    sender = lab.harness.spawn("flood", argv, netns=netns, stdout=subprocess.PIPE)
    if os.environ.get("XNICE"):
        os.setpriority(os.PRIO_PROCESS, sender.pid, int(os.environ["XNICE"]))
    if os.environ.get("XCABLE"):
        os.sched_setscheduler(lab.harness.pid("cable"), os.SCHED_FIFO, os.sched_param(10))
    for node in lp.NODES:
        pid = lab.node(node).pid()
        say(f"{node} daemon sched policy {os.sched_getscheduler(pid)}")
    say(f"flood: {junk} junk at {lp.HB_ADDR[TARGET]}:694 for {args.duration:.0f} s")
    while sender.poll() is None:
        watch.poll(lab)
        time.sleep(POLL_INTERVAL)
    cpu = (cpu_seconds(calc_pid) - cpu0) / (time.monotonic() - t0)
    assert sender.stdout is not None
    result = json.loads(sender.stdout.read().decode() or "{}")
    lab.harness.forget("flood")
    time.sleep(0.2)  # the last heartbeats in flight
    watch.poll(lab)
    after = {node: lab.status(node) or {} for node in lp.NODES}
    return Run(junk, result, before, after, cpu, watch, count_log_lines(lab, offsets))


# -- printing --------------------------------------------------------------------------------


def delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after.get(key, 0)) - int(before.get(key, 0))


def link_rows(run: Run) -> list[str]:
    """One line per link: prime sent, calc's core accepted, worst gap, late, dead lines."""
    sent0, sent1 = driver_sent(run.before["prime"]), driver_sent(run.after["prime"])
    got0, got1 = peer_links(run.before[TARGET]), peer_links(run.after[TARGET])
    dead = {link[1]: n for (node, link), n in run.logs.dead.items() if node == TARGET}
    rows = []
    for kind, link in got1.items():
        old = got0.get(kind, {})
        sent = sent1.get(kind, 0) - sent0.get(kind, 0)
        got = delta(link, old, "frames_ok")
        gap = float(link.get("max_gap") or 0.0)
        early = "*" if gap <= float(old.get("max_gap") or 0.0) else " "
        rows.append(
            f"{kind:<7} {sent:>8} {got:>8} {100 * got / max(sent, 1):>6.1f}% "
            f"{gap * 1000:>7.1f}ms{early} {delta(link, old, 'late'):>5} "
            f"{dead.get(link['name'], 0):>5}"
        )
    return rows


def print_run(run: Run, duration: float) -> None:
    sent, seconds = int(run.sender.get("sent", 0)), float(run.sender.get("seconds") or duration)
    drv0 = run.before[TARGET].get("drivers", {}).get(UDP_LINK, {})
    drv1 = run.after[TARGET].get("drivers", {}).get(UDP_LINK, {})
    read = delta(drv1, drv0, "received")
    refused0 = sum(run.before[TARGET].get("rejected_unattributed", {}).get(UDP_LINK, {}).values())
    refused1 = sum(run.after[TARGET].get("rejected_unattributed", {}).get(UDP_LINK, {}).values())
    false = max(run.watch.takeovers, run.logs.acquired)
    print(f"junk {run.junk}: sender {sent} datagrams in {seconds:.1f} s = {sent / seconds:,.0f}/s; "
          f"calc's UDP driver read {read} ({100 * read / max(sent, 1):.1f}%), "
          f"rejected {refused1 - refused0}, queue-full drops "
          f"{delta(drv1, drv0, 'queue_full_dropped')}; calc's daemon CPU {100 * run.cpu:.0f}%")
    print(f"{'link':<7} {'sent':>8} {'accepted':>8} {'':>7} {'worst gap':>10} {'late':>5} "
          f"{'dead':>5}   (prime → calc's core, during the flood)")
    for row in link_rows(run):
        print(row)
    print(f"false takeovers: {false} (poll {run.watch.takeovers}, calc's log "
          f"{run.logs.acquired}); calc declared prime dead: {run.logs.prime_dead}"
          + ("; prime's daemon died: the run proves nothing" if run.watch.prime_died else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--preset", default="fast", choices=list(lp.PRESETS))
    parser.add_argument("--junk", default=",".join(JUNK), help=f"from {', '.join(JUNK)}")
    parser.add_argument("--rate", type=float, default=0.0, help="datagrams/s (0: max)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    kinds = args.junk.split(",")
    if any(k not in JUNK for k in kinds) or args.duration <= 0:
        parser.error(f"--junk from {', '.join(JUNK)}; --duration > 0")
    say = (lambda _t: None) if args.quiet else (lambda t: print(t, file=sys.stderr))
    timers = lp.PRESETS[args.preset]
    print(f"twinbeat flood bench: preset {args.preset} (keepalive {timers.keepalive}, "
          f"deadtime {timers.deadtime}), {args.duration:.0f} s per run, junk at calc's "
          f"{UDP_LINK} from {lp.FLOOD_ADDR} (one sender process)")
    failed = False
    for kind in kinds:
        lab = Lab.make("tbf" + secrets.token_hex(2), preset=args.preset)
        keep = True
        try:
            run = flood_run(lab, kind, args, say)
            print_run(run, args.duration)
            false = max(run.watch.takeovers, run.logs.acquired) > 0
            failed = failed or false
            keep = false or run.logs.prime_dead > 0 or run.watch.prime_died
        except LabError as exc:
            print(f"twinbeat flood: {kind}: {exc}", file=sys.stderr)
            return 2
        finally:
            lab.down(purge=not keep)
            if keep:
                say(f"flood: logs kept in {lab.plan.run_dir}/<node>/ha-log")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
