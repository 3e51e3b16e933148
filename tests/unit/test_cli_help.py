"""Every argument of every `twinbeat` subcommand says what it is in `--help` (the man pages
are generated from the same parser): an admin should not have to read the source."""

from __future__ import annotations

import argparse

from twinbeat.cli import build_parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in parser._actions
                if isinstance(a, argparse._SubParsersAction))


def test_every_argument_has_help() -> None:
    missing = [f"{name} {action.dest}"
               for name, sub in subcommands(build_parser()).items()
               for action in sub._actions
               if not isinstance(action, argparse._HelpAction) and not action.help]
    assert missing == []
