"""Fixtures for the integration tests of links, agents and notify (see netns.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netns import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    """Throw-away namespaces/veths/processes, removed even when the test fails."""
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()
