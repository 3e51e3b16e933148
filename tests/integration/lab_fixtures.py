"""Fixtures for the lab tests: a `twinbeat.lab.Lab` with a unique name, always torn down.

Set TWINBEAT_LAB_KEEP=1 to keep the run dir (logs) of each lab after its test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from twinbeat.lab.errors import wait_for
from twinbeat.lab.lab import Lab


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


@contextlib.contextmanager
def serving_lab(preset: str = "lab", **up_options: object) -> Iterator[Lab]:
    """`running_lab` with its daemons, once prime holds the group (the steady state most
    end-to-end tests start from)."""
    with running_lab(preset, daemons=True, **up_options) as lab:
        wait_for(lambda: lab.converged("prime"), 30, "prime to hold the group")
        yield lab


def logs(lab: Lab) -> str:
    """The end of both daemons' logs, for assertion messages."""
    return "\n".join(node.log.tail() for node in lab.nodes.values())
