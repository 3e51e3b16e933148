"""`twinbeat reload [--dry-run]` and `twinbeat check --diff [OLD_DIR]`: what a reload does.

`reload` asks the running daemon to re-read its files (the control socket's `reload`, root
only: SIGHUP does the same, but only a request can answer). systemd's `ExecReload=` runs it,
so `systemctl reload twinbeat` fails, with the daemon's reasons in the journal and on the
terminal, when the daemon refuses the new files. Exit codes: 0 applied (or nothing to
change), 1 refused, 2 the daemon is not running.

`check --diff` runs after the usual `twinbeat check` of `--config-dir`:
- without a directory: the daemon's dry run (`reload --dry-run`), so it says exactly what a
  `systemctl reload` would change, or why it would be refused; the daemon reads its own
  configuration directory and the reply names it;
- with OLD_DIR: compares the two directories for the same node without any daemon
  (config/changes.py), e.g. a copy of the running files against the edited ones. Whether the
  peer would still be heard is then unknown (the daemon knows which key it signs with).
Exit codes as for reload.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twinbeat.config.changes import compare
from twinbeat.config.loader import load
from twinbeat.config.messages import ConfigErrors
from twinbeat.control.client import EXIT_NOT_RUNNING, DaemonNotRunningError, request

RELOAD_TIMEOUT = 120.0  # loading, and asking fence programs for their metadata


def reload_main(args: argparse.Namespace) -> int:
    """`twinbeat reload [--dry-run]`."""
    return _ask(args.run_dir, dry_run=args.dry_run, verb="reload")


def show_diff(args: argparse.Namespace) -> int:
    """`twinbeat check --diff [OLD_DIR]` (after the check of --config-dir passed)."""
    if not args.diff:
        return _ask(args.run_dir, dry_run=True, verb="check --diff",
                    config_dir=args.config_dir)
    try:
        old = load(args.diff, node=args.node)
    except ConfigErrors as exc:
        for message in exc.messages:
            print(message, file=sys.stderr)
        print(f"twinbeat check --diff: {args.diff} is not a valid configuration",
              file=sys.stderr)
        return 1
    new = load(args.config_dir, node=args.node)
    result = compare(old, new)
    print(f"a reload from {args.diff} to {args.config_dir} would:")
    return _print(result.changes, result.warnings, result.refusals, applied=False)


def _ask(run_dir: str, *, dry_run: bool, verb: str, config_dir: str | None = None) -> int:
    try:
        reply = request(run_dir, {"cmd": "reload", "dry_run": dry_run}, RELOAD_TIMEOUT)
    except DaemonNotRunningError as exc:
        print(f"twinbeat {verb}: {exc}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    except (OSError, ValueError) as exc:
        print(f"twinbeat {verb}: {exc}", file=sys.stderr)
        return 1
    if "changes" not in reply:  # refused before the reload: permission, busy socket
        print(f"twinbeat {verb}: {reply.get('error', 'failed')}", file=sys.stderr)
        return 1
    read = reply.get("config_dir")
    if config_dir is not None and read and read != config_dir:
        print(f"note: the daemon reads {read}, not {config_dir}", file=sys.stderr)
    if dry_run:
        print(f"a reload of {read or 'the running daemon'} would:")
    return _print(_strings(reply, "changes"), _strings(reply, "warnings"),
                  _strings(reply, "errors"), applied=bool(reply.get("applied")))


def _print(changes: Any, warnings: Any, errors: Any, *, applied: bool) -> int:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print("reload refused; the running configuration is unchanged", file=sys.stderr)
        return 1
    if not changes:
        print("  nothing: the files say what runs already")
    for change in changes:
        print(f"  {change}")
    if applied:
        print("reloaded")
    return 0


def _strings(reply: dict[str, Any], key: str) -> list[str]:
    value = reply.get(key)
    return [str(item) for item in value] if isinstance(value, list) else []
