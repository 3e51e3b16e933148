"""Junk-flood benchmark (issue #11, item 4): a flood on the heartbeat port must not starve the
real heartbeats nor cause a false takeover.

Not a test: it measures. For each kind of junk it builds one lab (`twinbeat.lab.Lab`) at a
timer preset (default `fast`: keepalive 10ms, deadtime 40ms, UDP on eth1 + the serial
cable), waits until both daemons agree that prime holds the group, then adds one more host on
the heartbeat cable (`Lab.flood_host`: the `<name>-flood` namespace, 198.18.2.66) and floods
calc's heartbeat port (198.18.2.2:694) with junk for `--duration` seconds, as fast as one
sender process goes (`twinbeat.lab.flood`: sendmmsg batches) unless `--rate` caps it.
Nothing else is done to either node, so calc must never take the group over.

Junk (`--junk`, default all three, one lab each):
  none    no flood at all: the control, what this machine's own load does to the timers
  random  random bytes, never starting with the frame's magic: refused at the first byte
  forged  well-formed frames from "prime" signed with a wrong key under the lab's key index:
          refused only after a full HMAC check, the most expensive junk there is

The lab runs on one machine, so the sender, the cable and the nodes share its CPUs; two
settings keep the lab's artefacts out of the measurement: the sender runs at nice 19
(`--sender-nice`: in the field it is another machine, not a process competing with the
nodes) and the serial cable's socat relay runs SCHED_FIFO like the daemons
(`--no-cable-realtime` to turn it off: in the field a cable needs no CPU).

Printed, one table: the sender's rate; the share of it calc's daemon read and refused, by the
MAC check or before it (links/admission.py) (the rest the kernel dropped, its socket buffer
full); calc's daemon CPU (share of one core); per
link (as calc hears prime) the heartbeats prime sent and the share calc's core accepted, the
worst gap between two of them (`max_gap` since the daemon started, `*` when the run did not
exceed it), `late` (gaps over warntime) and "Link ... dead." lines; and false takeovers (calc
starting/holding the group while prime's daemon runs, by poll and by calc's ha-log) with the
times calc declared prime dead. Exit status 1 after a false takeover, 2 when the lab failed.

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

JUNK = ("none", "random", "forged")  # none: the same run without a flood (the control)
TARGET = "calc"  # the standby: the node that could take over falsely
POLL_INTERVAL = 0.5
UDP_LINK = lp.HB_IFACE
CABLE_PRIORITY = 10  # SCHED_FIFO, as the daemons' `realtime on`


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


def start_cluster(lab: Lab, args: argparse.Namespace) -> tuple[int, int]:
    """Lab up, both daemons converged with prime holding; (prime's, calc's) daemon PIDs."""
    timers = lab.plan.timers
    lab.up(daemons=True)
    wait_for(lambda: lab.converged("prime"), timers.initdead_s + timers.deadtime_s * 3 + 20,
             "both nodes to agree that prime holds the group")
    prime_pid, calc_pid = lab.node("prime").pid(), lab.node(TARGET).pid()
    cable = lab.harness.pid(lab.cable.label)
    if prime_pid is None or calc_pid is None or cable is None:
        raise LabError("a daemon or the serial cable is not running")
    if args.cable_realtime:
        # The cable is hardware in the field: its relay must not queue behind the lab's load.
        os.sched_setscheduler(cable, os.SCHED_FIFO, os.sched_param(CABLE_PRIORITY))
    return prime_pid, calc_pid


def start_sender(lab: Lab, junk: str, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """The junk sender in `<name>-flood`, niced (`--sender-nice`)."""
    netns = lab.flood_host(TARGET)
    rng = random.Random(694)
    payloads = lab.plan.run_dir / "flood.payloads"
    write_payloads(payloads, random_junk(rng) if junk == "random" else forged_junk(lab, rng))
    argv = [sys.executable, "-m", "twinbeat.lab.flood", lp.HB_ADDR[TARGET], "694",
            str(payloads), "--duration", str(args.duration), "--rate", str(args.rate)]
    sender = lab.harness.spawn("flood", argv, netns=netns, stdout=subprocess.PIPE)
    os.setpriority(os.PRIO_PROCESS, sender.pid, args.sender_nice)
    if args.sender_cpu is not None:
        # A third host has CPUs of its own: on one core here, the sender (and the kernel's
        # transmit path it drives) leaves the other cores to the nodes.
        os.sched_setaffinity(sender.pid, {args.sender_cpu})
    return sender


def flood_run(lab: Lab, junk: str, args: argparse.Namespace, say: Callable[[str], None]) -> Run:
    """Converged lab → flood calc for `args.duration` (junk "none": just wait) → the record."""
    prime_pid, calc_pid = start_cluster(lab, args)
    watch = Watch(prime_pid=prime_pid)
    before = {node: lab.status(node) or {} for node in lp.NODES}
    offsets = log_offsets(lab)
    cpu0, t0 = cpu_seconds(calc_pid), time.monotonic()
    sender = None if junk == "none" else start_sender(lab, junk, args)
    say(f"flood: {junk} junk at {lp.HB_ADDR[TARGET]}:694 for {args.duration:.0f} s")
    while (sender.poll() is None) if sender else time.monotonic() < t0 + args.duration:
        watch.poll(lab)
        time.sleep(POLL_INTERVAL)
    cpu = (cpu_seconds(calc_pid) - cpu0) / (time.monotonic() - t0)
    result: dict[str, float] = {"sent": 0, "seconds": args.duration}
    if sender is not None and sender.stdout is not None:
        result = json.loads(sender.stdout.read().decode() or "{}")
        lab.harness.forget("flood")
    time.sleep(0.2)  # the last heartbeats in flight
    watch.poll(lab)
    after = {node: lab.status(node) or {} for node in lp.NODES}
    return Run(junk, result, before, after, cpu, watch, count_log_lines(lab, offsets))


# -- printing --------------------------------------------------------------------------------

HEADER = (f"{'junk':<7} {'sent/s':>8} {'read':>6} {'CPU':>4}  {'link':<7} {'hb sent':>7} "
          f"{'accepted':>8} {'worst gap':>10} {'late':>5} {'dead':>4}  takeovers")


def delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after.get(key, 0)) - int(before.get(key, 0))


def link_cells(run: Run) -> list[str]:
    """Per link: heartbeats prime sent, accepted by calc's core, worst gap, late, dead lines."""
    sent0, sent1 = driver_sent(run.before["prime"]), driver_sent(run.after["prime"])
    got0, got1 = peer_links(run.before[TARGET]), peer_links(run.after[TARGET])
    dead = {link[1]: n for (node, link), n in run.logs.dead.items() if node == TARGET}
    cells = []
    for kind in sorted(got1):
        link, old = got1[kind], got0.get(kind, {})
        sent = sent1.get(kind, 0) - sent0.get(kind, 0)
        got = delta(link, old, "frames_ok")
        gap = float(link.get("max_gap") or 0.0)
        early = "*" if gap <= float(old.get("max_gap") or 0.0) else " "
        cells.append(
            f"{kind:<7} {sent:>7} {100 * got / max(sent, 1):>7.1f}% {gap * 1000:>7.1f}ms{early}"
            f" {delta(link, old, 'late'):>5} {dead.get(link['name'], 0):>4}"
        )
    return cells


def run_rows(run: Run, duration: float) -> list[str]:
    """The run's lines of the table: the flood and calc's side first, then one per link."""
    sent, seconds = int(run.sender.get("sent", 0)), float(run.sender.get("seconds") or duration)
    drv0 = run.before[TARGET].get("drivers", {}).get(UDP_LINK, {})
    drv1 = run.after[TARGET].get("drivers", {}).get(UDP_LINK, {})
    refused = [sum(s.get("rejected_unattributed", {}).get(UDP_LINK, {}).values())
               for s in (run.before[TARGET], run.after[TARGET])]
    # Junk from an unproven source over its budget is read and dropped before the MAC check
    # (links/admission.py): read all the same.
    unchecked = delta(drv1, drv0, "unproven_dropped")
    read = f"{100 * (refused[1] - refused[0] + unchecked) / sent:.0f}%" if sent else "-"
    false = max(run.watch.takeovers, run.logs.acquired)
    verdict = f"{false} (prime declared dead {run.logs.prime_dead})"
    if run.watch.prime_died:
        verdict += ", prime's daemon died: proves nothing"
    first = f"{run.junk:<7} {sent / seconds:>8,.0f} {read:>6} {100 * run.cpu:>3.0f}%"
    rows = []
    for n, cell in enumerate(link_cells(run)):
        lead = first if n == 0 else " " * len(first)
        rows.append(f"{lead}  {cell}" + (f"  {verdict}" if n == 0 else ""))
    drops = delta(drv1, drv0, "queue_full_dropped")
    if drops:
        rows.append(f"{'':<7} queue-full drops on {UDP_LINK}: {drops}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--preset", default="fast", choices=list(lp.PRESETS))
    parser.add_argument("--junk", default=",".join(JUNK), help=f"from {', '.join(JUNK)}")
    parser.add_argument("--rate", type=float, default=0.0, help="datagrams/s (0: max)")
    parser.add_argument("--sender-nice", type=int, default=19, help="default 19")
    parser.add_argument("--sender-cpu", type=int, default=None,
                        help="pin the sender to this CPU (default: anywhere)")
    parser.add_argument("--no-cable-realtime", dest="cable_realtime", action="store_false")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    kinds = args.junk.split(",")
    if any(k not in JUNK for k in kinds) or args.duration <= 0:
        parser.error(f"--junk from {', '.join(JUNK)}; --duration > 0")
    say = (lambda _t: None) if args.quiet else (lambda t: print(t, file=sys.stderr))
    rows, failed = [], False
    for kind in kinds:
        lab = Lab.make("tbf" + secrets.token_hex(2), preset=args.preset)
        keep = True
        try:
            run = flood_run(lab, kind, args, say)
            rows += run_rows(run, args.duration)
            failed = failed or max(run.watch.takeovers, run.logs.acquired) > 0
            keep = failed or run.logs.prime_dead > 0 or run.watch.prime_died
        except LabError as exc:
            print(f"twinbeat flood: {kind}: {exc}", file=sys.stderr)
            return 2
        finally:
            lab.down(purge=not keep)
            if keep:
                say(f"flood: logs kept in {lab.plan.run_dir}/<node>/ha-log")
    timers = lp.PRESETS[args.preset]
    pinned = "" if args.sender_cpu is None else f", on CPU {args.sender_cpu}"
    print(f"flood bench: preset {args.preset} (keepalive {timers.keepalive}, deadtime "
          f"{timers.deadtime}), {args.duration:.0f} s per run, junk at calc's {UDP_LINK} from "
          f"{lp.FLOOD_ADDR} (one sendmmsg process, nice {args.sender_nice}{pinned}), cable relay "
          + ("realtime" if args.cable_realtime else "normal priority"))
    print(HEADER)
    print("\n".join(rows))
    print("(sent/s: the sender's rate; read: junk calc's daemon read and refused, the rest the "
          "kernel dropped; CPU: calc's daemon, share of one core; hb sent: heartbeats prime "
          "sent; accepted: by calc's core; worst gap: max_gap, * = not exceeded during the "
          "run; late: gaps over warntime; dead: \"Link ... dead.\" lines; takeovers: false)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
