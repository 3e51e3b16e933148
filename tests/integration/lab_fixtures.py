"""Shared helpers for the lab tests: a lab with a unique name, always torn down.

Set TWINBEAT_LAB_KEEP=1 to keep the run dir (logs) of each lab after its test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

from twinbeat.lab.lab import Lab
from twinbeat.lab.procs import run_in


def unique_name() -> str:
    return "tbl" + secrets.token_hex(2)


@contextlib.contextmanager
def running_lab(
    preset: str = "lab", *, daemons: bool = False, **up_options: object
) -> Iterator[Lab]:
    lab = Lab.make(unique_name(), preset=preset)
    try:
        lab.up(daemons=daemons, **up_options)  # type: ignore[arg-type]
        yield lab
    finally:
        lab.down(purge=not os.environ.get("TWINBEAT_LAB_KEEP"))


def python_in(
    lab: Lab, role: str, code: str, timeout: float = 10.0
) -> subprocess.CompletedProcess[str]:
    """Run a small Python program inside one of the lab's namespaces."""
    return run_in([sys.executable, "-c", code], lab.netns(role), timeout=timeout)


def log_tail(lab: Lab, node: str, lines: int = 40) -> str:
    """The end of a node's daemon log, for assertion messages."""
    try:
        text = lab.plan.daemon_log(node).read_text(errors="replace")
    except FileNotFoundError:
        return f"({node}: no daemon log)"
    return f"--- {node} daemon.log\n" + "\n".join(text.splitlines()[-lines:])
