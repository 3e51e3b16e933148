"""`LabError`: the one exception of the lab harness, and `wait_for`, its one way to wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class LabError(RuntimeError):
    """A one-line, user-facing reason the lab (or a harness) cannot do what was asked."""


def wait_for(
    predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.02
) -> T:
    """Poll `predicate` until it returns something true and return that; LabError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)
