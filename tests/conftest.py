"""Shared pytest options and markers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinbeat.lab.cable import Cable
from twinbeat.lab.harness import Harness


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sim-runs",
        type=int,
        default=None,
        help="number of simulator seeds to run (default: the suite's CI-sized count)",
    )
    parser.addoption(
        "--sim-seed",
        type=int,
        default=None,
        help="run the simulator on this one seed (replay a failure)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces, raw sockets)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A `twinbeat.lab.harness.Harness` of the test's own, torn down after it.

    Every test that needs namespaces, veths, a serial cable or a process inside a namespace
    gets them from the product's harness (docs/lab.md, "For tests and benchmarks"): a unique
    name prefix per test, addresses from 198.18.0.0/15 only, no default route, every process
    tracked by PID and stopped by the one stop policy, every namespace removed — in the
    fixture's finalizer, so even when the test fails.
    """
    with Harness.unique(tmp_path / "harness", stem="tbt") as harness:
        yield harness


@pytest.fixture
def cable(harness: Harness, tmp_path: Path) -> Iterator[Cable]:
    """A socat pty pair, plugged, on the test's harness: the null-modem cable of the link
    tests (ends `tmp_path/a` and `tmp_path/b`); pulled after the test."""
    cable = Cable(harness, (tmp_path / "a", tmp_path / "b"), log=tmp_path / "cable.log")
    cable.plug()
    try:
        yield cable
    finally:
        cable.pull()
