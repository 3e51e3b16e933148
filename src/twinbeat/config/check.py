"""`twinbeat check`: validate /etc/ha.d and print a short summary, or every error.

Exit 0 with the summary on stdout (warnings on stderr as `path:line: warning: ...`), or
exit 1 with every error on stderr as `path:line: message`. Never a traceback, never a key.
This is also where each script resource is looked up on this machine (`find_agent`): a
missing one is a warning, since the other node may be the one that has it installed. OCF
resources (and heartbeat's classic names run as OCF agents) are judged from each agent's
meta-data by check_ocf.py: a missing agent or a wrong parameter is an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from twinbeat.config.agents import find_agent
from twinbeat.config.check_ocf import check_ocf_resources
from twinbeat.config.fencecheck import check_fencing
from twinbeat.config.loader import load
from twinbeat.config.messages import ConfigErrors, ConfigMessage
from twinbeat.config.model import (
    Bcast,
    Config,
    HaCf,
    Link,
    Mcast,
    Monitoring,
    ScriptResource,
    Serial,
    Ucast,
)
from twinbeat.config.values import format_seconds


def _warning(msg: ConfigMessage) -> str:
    where = f"{msg.path}:{msg.line}" if msg.line else msg.path
    return f"{where}: warning: {msg.text}"


def _link_text(hacf: HaCf, link: Link) -> str:
    match link.medium:
        case Serial():
            detail = f"serial, {hacf.baud} baud"
        case Ucast(peers=peers):
            detail = f"ucast to {', '.join(peers)}, port {hacf.udpport}"
        case Mcast(group=group, port=port, ttl=ttl):
            detail = f"mcast {group}:{port} ttl {ttl}"
        case Bcast():
            detail = f"bcast, port {hacf.udpport}"
    return f"{link.name} ({detail}; link id {link.link_id:#04x})"


def summary(config: Config) -> list[str]:
    """The lines `twinbeat check` prints for a valid configuration (no key material)."""
    hacf = config.hacf
    nodes = ", ".join(f"{n} (this node)" if n == config.node else n for n in hacf.nodes)
    lines = [
        f"{config.config_dir}: configuration OK for node {config.node}",
        f"nodes:    {nodes}",
        "links:    " + "; ".join(_link_text(hacf, link) for link in hacf.links),
        f"timers:   keepalive {format_seconds(hacf.keepalive)}, deadtime "
        f"{format_seconds(hacf.deadtime)}, warntime {format_seconds(hacf.warntime)}, "
        f"initdead {format_seconds(hacf.initdead)}",
        f"failback: auto_failback {hacf.auto_failback.value}",
        f"auth:     signing with key {config.authkeys.active} "
        f"({config.authkeys.keys[config.authkeys.active].method}), "
        f"{len(config.authkeys.keys)} key(s) accepted",
    ]
    lines.append(f"monitor:  {_monitoring_text(hacf.monitoring)}")
    if hacf.ping_nodes:
        hosts = list(hacf.ping) + [f"{g.name}({' '.join(g.hosts)})" for g in hacf.ping_groups]
        lines.append(f"ping:     {', '.join(hosts)}")
    lines += [f"respawn:  {r.text}" for r in hacf.respawn]
    if hacf.metrics:
        lines.append(f"metrics:  {', '.join(f'http://{e}/metrics' for e in hacf.metrics)}")
    if not config.groups:
        lines.append("groups:   none")
    for group in config.groups:
        texts = " ".join(r.text for r in group.resources)
        lines.append(f"group:    {group.key} (preferred node {group.primary}): {texts}")
    lines.append(f"fingerprint: {config.fingerprint:08x}")
    return lines


def _monitoring_text(monitoring: Monitoring) -> str:
    interval = monitoring.interval
    timeout = monitoring.timeout
    text = (f"every {format_seconds(interval)}" if interval is not None else "off") + (
        f", timeout {format_seconds(timeout)}" if timeout is not None
        else ", timeout from OCF meta-data or 20s")
    text += (f"; migration_threshold {monitoring.migration_threshold}, failure_timeout "
             f"{format_seconds(monitoring.failure_timeout)}")
    for o in monitoring.overrides:
        own = "off" if o.off else " ".join(
            f"{name}={format_seconds(value)}" for name, value in
            (("interval", o.interval), ("timeout", o.timeout)) if value is not None)
        text += f"; {o.resource}: {own}"
    return text


def agent_lines(config: Config) -> tuple[list[str], list[ConfigMessage]]:
    """Where each script resource will be found, and a warning for each one not found."""
    found: list[str] = []
    missing: list[ConfigMessage] = []
    seen: set[str] = set()
    for group in config.groups:
        for resource in group.resources:
            if not isinstance(resource, ScriptResource) or resource.name in seen:
                continue
            seen.add(resource.name)
            where = find_agent(config.config_dir, resource.name)
            if where is not None and where[0] == "ocf":
                continue  # a classic name run as an OCF agent: check_ocf.py reports it
            if where is None:
                missing.append(ConfigMessage(
                    group.path, group.line,
                    f"{resource.name}: not found on this machine (looked for "
                    f"{config.config_dir}/resource.d/{resource.name}, "
                    f"/etc/init.d/{resource.name}, {resource.name}.service)"))
            else:
                kind, path = where
                found.append(f"  {resource.name}: {path} ({kind})")
    return found, missing


def run(config_dir: str, node: str | None, out: TextIO, err: TextIO) -> int:
    """The whole command; returns the exit code."""
    try:
        config = load(config_dir, node)
    except ConfigErrors as exc:
        for msg in exc.warnings:
            print(_warning(msg), file=err)
        for msg in exc.messages:
            print(str(msg), file=err)
        print(f"{len(exc.messages)} error(s); twinbeat will not start with this "
              "configuration", file=err)
        return 1
    found, missing = agent_lines(config)
    ocf = check_ocf_resources(config)
    fencing = check_fencing(config)
    for msg in (*config.warnings, *missing, *ocf.warnings, *fencing.warnings):
        print(_warning(msg), file=err)
    if _errors(ocf.errors, "error(s) in OCF resources; twinbeat would fail to run them", err) \
            | _errors(fencing.errors, "error(s); twinbeat will not start with this "
                      "configuration", err):
        return 1
    lines = summary(config)
    if found:
        lines[-1:-1] = ["resource scripts:", *found]
    if ocf.found:
        lines[-1:-1] = ["OCF agents:", *ocf.found]
    lines[-1:-1] = fence_summary(config, fencing.lines)
    print("\n".join(lines), file=out)
    return 0


def _errors(errors: Sequence[ConfigMessage], what: str, err: TextIO) -> bool:
    """Print `errors` and their count, followed by `what` they mean; True if any."""
    for msg in errors:
        print(str(msg), file=err)
    if errors:
        print(f"{len(errors)} {what}", file=err)
    return bool(errors)


def fence_summary(config: Config, devices: list[str]) -> list[str]:
    """The fencing lines of the summary: the devices this node uses, in order, or none."""
    fencing = config.hacf.fencing
    if not devices:
        return ["fencing:  none" + ("" if config.peer is None else
                                    f" (node {config.node} takes over without fencing)")]
    return [f"fencing:  {fencing.action.value} the peer, each device in turn, at most "
            f"{format_seconds(fencing.timeout)} each; head start {format_seconds(fencing.delay)}",
            *devices]


def main(args: argparse.Namespace) -> int:
    """Entry point for `twinbeat check` (see cli.py); `--diff`: then what a reload would do."""
    code = run(args.config_dir, args.node, sys.stdout, sys.stderr)
    if code != 0 or getattr(args, "diff", None) is None:
        return code
    # Imported here: only --diff talks to the daemon, and the control client pulls in trio,
    # which a plain `twinbeat check` must not need (cli.py).
    from twinbeat.control.reloadclient import show_diff  # noqa: PLC0415

    return show_diff(args)
