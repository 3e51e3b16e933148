"""The `harness` fixture: a `twinbeat.lab.harness.Harness` of the test's own, torn down after it.

Every integration test that needs namespaces, veths, a serial cable or a process inside a
namespace gets them from the product's harness (docs/lab.md, "For tests and benchmarks"): a
unique name prefix per test, addresses from 198.18.0.0/15 only, no default route, every
process tracked by PID and stopped by the one stop policy, every namespace removed — in the
fixture's finalizer, so even when the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from twinbeat.lab.harness import Harness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with Harness.unique(tmp_path / "harness", stem="tbt") as harness:
        yield harness
