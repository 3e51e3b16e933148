"""The `twinbeat` command line: argument parsing and dispatch only.

Each subcommand lives in the module that owns its work and is imported lazily, so that
`twinbeat check` does not pull in trio or pyroute2 and a broken optional part cannot stop
the others from running. Every handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

DEFAULT_CONFIG_DIR = "/etc/ha.d"
DEFAULT_STATE_DIR = "/var/lib/twinbeat"
DEFAULT_HEARTBEAT_STATE_DIR = "/var/lib/heartbeat"  # heartbeat 3.0.6, if it ran here
DEFAULT_RUN_DIR = "/run/twinbeat"
WHICH_CHOICES = ("local", "foreign", "all")

# subcommand -> "module:function"; the function takes the parsed argparse.Namespace.
HANDLERS: dict[str, str] = {
    "check": "twinbeat.config.check:main",
    "run": "twinbeat.daemon.lean:main",
    "status": "twinbeat.control.client:status_main",
    "standby": "twinbeat.control.client:standby_main",
    "takeover": "twinbeat.control.client:takeover_main",
    "clear": "twinbeat.control.client:clear_main",
    "fence-ack": "twinbeat.control.client:fence_ack_main",
    "reload": "twinbeat.control.reloadclient:reload_main",
    "keygen": "twinbeat.config.keygen:main",
    "cleanup": "twinbeat.resources.cleanup:main",
    "lab": "twinbeat.lab.cli:main",
    "export": "twinbeat.export.command:main",
}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-dir",
        default=DEFAULT_CONFIG_DIR,
        help=f"heartbeat configuration directory (default {DEFAULT_CONFIG_DIR})",
    )
    parser.add_argument("--node", help="this node's name (default: the host name, lower-cased)")


def _add_socket_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-dir",
        default=DEFAULT_RUN_DIR,
        help=f"directory of the control socket (default {DEFAULT_RUN_DIR})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, so `--help` shows every subcommand even when a part is missing."""
    parser = argparse.ArgumentParser(
        prog="twinbeat",
        description="Two-node high availability with heartbeat's /etc/ha.d files.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser("check", help="validate ha.cf, authkeys and haresources")
    _add_config_options(check)
    check.add_argument(
        "--diff", nargs="?", const="", default=None, metavar="OLD_DIR",
        help="also say what a reload would change: against the running daemon (its dry run), "
        "or against the configuration in OLD_DIR",
    )
    _add_socket_option(check)

    _add_daemon_commands(sub)
    _add_operator_commands(sub)
    _add_tool_commands(sub)
    return parser


def _add_daemon_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`run` and `cleanup`: what systemd starts (ExecStart, ExecStopPost)."""
    run = sub.add_parser("run", help="run the daemon")
    _add_config_options(run)
    _add_socket_option(run)
    run.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help=f"where the generation counter is kept (default {DEFAULT_STATE_DIR})",
    )
    run.add_argument(
        "--heartbeat-state-dir",
        default=DEFAULT_HEARTBEAT_STATE_DIR,
        help="heartbeat 3.0.6's state dir on this machine, if it ran here: its generation "
        f"counter is where ours starts (default {DEFAULT_HEARTBEAT_STATE_DIR})",
    )
    run.add_argument(
        "--foreground", action="store_true", help="log to stderr as well (systemd does not need it)"
    )

    cleanup = sub.add_parser(
        "cleanup", help="stop every haresources resource still running here (daemon stopped)"
    )
    _add_config_options(cleanup)
    _add_socket_option(cleanup)


def _add_operator_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`status`, `standby`, `takeover`, `clear`, `reload`, `fence-ack`: what an admin types
    against a running daemon."""
    status = sub.add_parser("status", help="show nodes, links and resource groups")
    _add_socket_option(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    for name, verb in (("standby", "hand groups to the peer"), ("takeover", "pull groups here")):
        cmd = sub.add_parser(name, help=f"{verb} (heartbeat's hb_{name})")
        _add_socket_option(cmd)
        cmd.add_argument(
            "which", nargs="?", default="all", choices=WHICH_CHOICES,
            help="which groups, as heartbeat's hb_standby/hb_takeover take them: local (those "
                 "whose primary is this node), foreign (the peer's), all (default)")
        cmd.add_argument(
            "--timeout", type=float, default=60.0, help="seconds to wait for the handoff"
        )
    clear = sub.add_parser(
        "clear", help="forget resource failures (root), so a group may run here again"
    )
    _add_socket_option(clear)
    clear.add_argument("group", nargs="?", default=None,
                       help="the group's key (its first resource); default: every group")

    reload = sub.add_parser(
        "reload", help="re-read ha.cf, authkeys and haresources in the running daemon (root)"
    )
    _add_socket_option(reload)
    reload.add_argument("--dry-run", action="store_true",
                        help="only say what the reload would change, or why it is refused")

    ack = sub.add_parser(
        "fence-ack", help="confirm the peer is off when its fence device cannot (root)"
    )
    _add_socket_option(ack)
    ack.add_argument("node", help="the peer, as named in ha.cf")
    ack.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`keygen` and `lab`: tools that need no running daemon."""
    keygen = sub.add_parser("keygen", help="write an authkeys file with a fresh sha256 key")
    keygen.add_argument(
        "path", nargs="?", default=f"{DEFAULT_CONFIG_DIR}/authkeys", help="file to write"
    )
    keygen.add_argument("--force", action="store_true", help="overwrite an existing file")

    _add_export_command(sub)

    lab = sub.add_parser("lab", help="a two-node cluster on this machine (root)")
    lab.add_argument(
        "action", choices=("up", "demo", "status", "down"), help="what to do with the lab"
    )
    lab.add_argument(
        "--name", default="tb", help="prefix for namespaces and links (default tb)"
    )
    lab.add_argument("--run-dir", default=None, help="lab state directory")
    lab.add_argument(
        "--preset",
        default="lab",
        choices=("lab", "howto", "1s-3s", "fast", "ocf"),
        help="timer preset: lab (100ms/1s, default), howto (2s/10s), 1s-3s, fast (10ms/40ms); "
        "ocf: lab's timers, apache2 run by the OCF agent ocf:heartbeat:apache",
    )
    lab.add_argument(
        "--fencing",
        default="agent",
        choices=("agent", "stonith", "none"),
        help="how the nodes fence each other through the lab's power switch: a fence agent "
        "(default), heartbeat's stonith_host line, or no fencing",
    )


def _add_export_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`export pacemaker`: corosync.conf and a CIB from /etc/ha.d (docs/pacemaker.md)."""
    export = sub.add_parser("export", help="write an equivalent Corosync + Pacemaker "
                            "configuration (docs/pacemaker.md)")
    export.add_argument("target", choices=("pacemaker",), help="what to export to")
    _add_config_options(export)
    export.add_argument("--output", default="pacemaker",
                        help="directory for corosync.conf, cib.xml, ... (default ./pacemaker)")
    export.add_argument("--format", default="cib", choices=("cib", "crm", "pcs"),
                        help="besides cib.xml, also crmsh's (cib.crm) or pcs's (cib-pcs.sh) form")
    export.add_argument("--address", action="append", metavar="NODE=ADDR[,ADDR...]",
                        help="a node's corosync address on each UDP link, in ha.cf order "
                        "(default: this node's from its interfaces, the peer's from ucast)")


def _resolve(spec: str) -> Callable[[argparse.Namespace], int]:
    module_name, _, func_name = spec.partition(":")
    module = importlib.import_module(module_name)
    handler: Callable[[argparse.Namespace], int] = getattr(module, func_name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _resolve(HANDLERS[args.command])
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
