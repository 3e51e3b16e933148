"""Fixtures for the export's unit tests: a loaded `Config` from ha.cf and haresources text."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_helpers import MakeConfig, config_maker


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    return config_maker(tmp_path)
