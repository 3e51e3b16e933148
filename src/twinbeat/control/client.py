"""`twinbeat status|standby|takeover|clear|fence-ack`: the command-line side of the control
socket.

Plain blocking sockets: these are one-shot commands, no event loop needed. Exit codes of
`status` follow cl_status' spirit: 0 healthy, 1 degraded, 2 daemon not running.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Any

from twinbeat.control.server import SOCKET_NAME

EXIT_HEALTHY = 0
EXIT_DEGRADED = 1
EXIT_NOT_RUNNING = 2
CONNECT_RETRY = 0.01  # seconds between connects while the daemon's accept queue is full


class DaemonNotRunningError(Exception):
    pass


def _connect(path: str, timeout: float) -> socket.socket:
    """A connection to the daemon, waiting up to `timeout` for room in its accept queue.

    A Unix socket whose listen backlog is full refuses a connect with EAGAIN instead of
    waiting (a local user flooding the control socket can keep it full); the daemon drains
    it continuously, so trying again shortly gets in.
    """
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError:
            sock.close()
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path}: the daemon's control socket is too busy") from None
            time.sleep(CONNECT_RETRY)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            reason = f"twinbeat is not running ({path}: {exc.strerror})"
            raise DaemonNotRunningError(reason) from None
        except BaseException:
            sock.close()
            raise


def request(run_dir: str, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request and return the daemon's reply."""
    path = os.path.join(run_dir, SOCKET_NAME)
    sock = _connect(path, timeout)
    try:
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    if not data:
        raise DaemonNotRunningError("twinbeat closed the control connection without answering")
    reply = json.loads(data)
    if not isinstance(reply, dict):
        raise ValueError("the daemon's reply is not a JSON object")
    return reply


def _age(value: float | None) -> str:
    if value is None:
        return "never"
    return f"{value * 1000:.0f}ms ago" if value < 10 else f"{value:.0f}s ago"


def _heartbeat_lines(peer: dict[str, Any]) -> list[str]:
    """The peer's protocol when it is not twinbeat's, and where heartbeat 3.0.6 is heard."""
    hb = peer.get("heartbeat") or {}
    if not hb:
        return []
    links = ", ".join(f"{name} ({_age(link.get('last_heard_age'))})"
                      for name, link in sorted(hb.get("links", {}).items()))
    if peer.get("protocol", "twinbeat") != "twinbeat":
        mode = hb.get("mode")
        what = ("holding off: no resource group is taken over from it" if mode == "holding off"
                else "answered in its protocol; groups move by its negotiation")
        return [f"  protocol {peer['protocol']}: speaks heartbeat 3.0.6 on {links}; {what} "
                "(docs/migrating.md)"]
    if not hb.get("speaking"):
        return []
    return [f"  also speaks heartbeat 3.0.6 on {links} (ignored: its twinbeat frames win)"]


def format_status(status: dict[str, Any]) -> str:
    """A readable table of nodes, links and groups."""
    lines = [
        f"node {status['node']}: {status['state']} (generation {status['generation']}), "
        f"cluster {'healthy' if status.get('healthy') else 'DEGRADED'}"
    ]
    for peer in status.get("peers", []):
        alive = "alive" if peer.get("alive") else "DEAD"
        lines.append(
            f"peer {peer['name']}: {alive}, state {peer.get('state')}, "
            f"generation {peer.get('generation')}, last heard {_age(peer.get('last_heard_age'))}"
        )
        lines += _heartbeat_lines(peer)
    links = status.get("links", [])
    if links:
        lines.append("")
        header = ("LINK", "STATE", "HEARD", "RTT", "OK", "BAD", "REPLAY", "MAXGAP", "MARGIN")
        rows: list[tuple[str, ...]] = [header]
        for link in links:
            bad = sum(link.get("rejected", {}).values())
            rtt = link.get("rtt_ms")
            rows.append(
                (
                    f"{link['peer']}:{link['name']}",
                    "up" if link.get("up") else
                    "DEAD, no carrier" if link.get("carrier") is False else "DEAD",
                    _age(link.get("last_heard_age")),
                    "-" if rtt is None else f"{rtt:.2f}ms",
                    str(link.get("frames_ok", 0)),
                    str(bad),
                    str(link.get("replayed", 0)),
                    f"{link.get('max_gap', 0) * 1000:.0f}ms",
                    f"{link.get('margin', 0) * 1000:.0f}ms",
                )
            )
        lines.extend(_table(rows))
    unattributed = status.get("rejected_unattributed") or {}
    if unattributed:
        # Frames that failed before a sender could be trusted: wrong key, bad MAC, line noise.
        lines.append("")
        for name, reasons in sorted(unattributed.items()):
            counts = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
            lines.append(f"rejected on {name} (sender unknown): {counts}")
    refused = _control_refusals(status.get("control") or {})
    if refused:
        lines += ["", f"control socket: {refused}"]
    lines += _fence_lines(status)
    groups = status.get("groups", [])
    if groups:
        lines.append("")
        group_rows: list[tuple[str, ...]] = [("GROUP", "PRIMARY", "HOLDER", "STATE")]
        group_rows += [
            (g["key"], g["primary"], g.get("holder") or "-",
             g.get("state", "?") + (" (failed here)" if g.get("failed_here") else ""))
            for g in groups
        ]
        lines.extend(_table(group_rows))
        lines.extend(_resource_table(groups))
    return "\n".join(lines)


LAST_FAILURE_WIDTH = 60


def _resource_table(groups: list[dict[str, Any]]) -> list[str]:
    """Per resource: its last check (result, when), its failures here (count, last reason)."""
    rows: list[tuple[str, ...]] = [("RESOURCE", "CHECK", "CHECKED", "FAILS", "LAST FAILURE")]
    for group in groups:
        for r in group.get("resources") or []:
            # off: never checked (`monitor ... off`); -: no check yet (not held, or too soon)
            check = r.get("check") or ("off" if r.get("interval") is None else "-")
            failure = r.get("last_failure") or "-"
            if len(failure) > LAST_FAILURE_WIDTH:
                failure = failure[:LAST_FAILURE_WIDTH - 3] + "..."
            rows.append((str(r.get("text")), check,
                         _age(r.get("check_age")) if r.get("check_age") is not None else "-",
                         str(r.get("fail_count", 0)), failure))
    return ["", *_table(rows)] if len(rows) > 1 else []


def _fence_lines(status: dict[str, Any]) -> list[str]:
    """The core's fencing of the peer, and this node's fence devices, when configured."""
    fencing = status.get("fencing")
    devices = status.get("fence_devices") or []
    if not fencing and not devices:
        return []
    lines = [""]
    if fencing:
        peer = fencing.get("peer")
        history = fencing.get("history") or [{}]
        why = history[-1].get("reason") or fencing.get("last_result")
        lines.append(f"fencing {peer}: {fencing.get('state')}, {fencing.get('attempts', 0)} "
                     f"attempt(s), since {_age(fencing.get('since_age'))}"
                     + (f": {why}" if why else ""))
        if fencing.get("degraded"):
            lines.append(f"  DEGRADED: {fencing.get('reason') or 'a fence is not confirmed'}")
            lines.append(f"  once {peer} is confirmed off (powered down, or cut from shared "
                         f"storage and the network): twinbeat fence-ack {peer}")
    for device in devices:
        detail = f" ({device['detail']})" if device.get("detail") else ""
        lines.append(f"fence device {device.get('device')}: check {device.get('check')}"
                     f"{detail}, {device.get('fenced', 0)} fenced, "
                     f"{device.get('failed', 0)} failed")
    return lines


def _control_refusals(control: dict[str, int]) -> str:
    """What the control socket refused or survived, when anything (a hostile local user)."""
    words = (("connections_refused", "connections refused (busy)"),
             ("bad_requests", "bad requests"),
             ("state_changes_refused", "state changes refused (not root)"),
             ("errors", "errors"), ("restarts", "restarts"))
    return ", ".join(f"{control[key]} {text}" for key, text in words if control.get(key))


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def status_main(args: argparse.Namespace) -> int:
    try:
        reply = request(args.run_dir, {"cmd": "status"}, timeout=5.0)
    except DaemonNotRunningError as exc:
        if args.json:
            print(json.dumps({"running": False, "error": str(exc)}))
        else:
            print(exc, file=sys.stderr)
        return EXIT_NOT_RUNNING
    except (OSError, ValueError) as exc:
        print(f"twinbeat status: {exc}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    if not reply.get("ok"):  # e.g. the control socket is busy
        print(f"twinbeat status: {reply.get('error', 'failed')}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    status = reply.get("status", {})
    if args.json:
        print(json.dumps(status, indent=1, sort_keys=True))
    else:
        print(format_status(status))
    return EXIT_HEALTHY if status.get("healthy") else EXIT_DEGRADED


def _ask(cmd: str, args: argparse.Namespace, message: dict[str, Any],
         timeout: float) -> dict[str, Any] | int:
    """The daemon's successful reply to `message`, or the exit code once the failure is
    printed (daemon not running, socket trouble, a refusal)."""
    try:
        reply = request(args.run_dir, message, timeout=timeout)
    except DaemonNotRunningError as exc:
        print(exc, file=sys.stderr)
        return EXIT_NOT_RUNNING
    except (OSError, ValueError) as exc:
        print(f"twinbeat {cmd}: {exc}", file=sys.stderr)
        return 1
    if not reply.get("ok"):
        print(f"twinbeat {cmd}: {reply.get('error', 'failed')}", file=sys.stderr)
        return 1
    return reply


def _handoff_main(cmd: str, args: argparse.Namespace) -> int:
    message = {"cmd": cmd, "which": args.which, "timeout": args.timeout}
    reply = _ask(cmd, args, message, args.timeout + 5.0)
    if isinstance(reply, int):
        return reply
    moved = reply.get("moved", [])
    for change in moved:
        print(f"{change['key']}: {change['from'] or '-'} -> {change['to'] or '-'}")
    if not moved:
        print(f"twinbeat {cmd} {args.which}: nothing to move")
    return 0


def standby_main(args: argparse.Namespace) -> int:
    return _handoff_main("standby", args)


def takeover_main(args: argparse.Namespace) -> int:
    return _handoff_main("takeover", args)


# meatclient's warning (cluster-glue's meatware plugin, heartbeat's manual fence): the
# operator is about to let this node start what the peer may still be running.
FENCE_ACK_WARNING = (
    "WARNING! If node {node} has not been powered off or cut from all shared storage and\n"
    "networks, data on shared disks may become corrupted and its services may run twice.\n"
    "Acknowledge that {node} is off? [yN] "
)


def fence_ack_main(args: argparse.Namespace) -> int:
    """`twinbeat fence-ack NODE`: confirm by hand that the peer is off (docs/fencing.md)."""
    node = args.node.lower()
    if not args.yes:
        if not sys.stdin.isatty():
            print("twinbeat fence-ack: not a terminal; pass --yes to confirm", file=sys.stderr)
            return 1
        if input(FENCE_ACK_WARNING.format(node=node)).strip().lower() not in ("y", "yes"):
            print("twinbeat fence-ack: not acknowledged", file=sys.stderr)
            return 1
    reply = _ask("fence-ack", args, {"cmd": "fence-ack", "node": node}, 10.0)
    if isinstance(reply, int):
        return reply
    fencing = reply.get("fencing") or {}
    print(f"twinbeat fence-ack: {node} acknowledged as off"
          + (f"; fencing now {fencing['state']}" if fencing.get("state") else ""))
    return 0


def clear_main(args: argparse.Namespace) -> int:
    """`twinbeat clear [GROUP]`: forget resource failures, so a group may come back here."""
    reply = _ask("clear", args, {"cmd": "clear", "group": args.group}, 10.0)
    if isinstance(reply, int):
        return reply
    for key in reply.get("cleared", []):
        print(f"{key}: failures cleared")
    return 0
