"""Shared pytest options and markers."""

from __future__ import annotations

import os

import pytest


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
