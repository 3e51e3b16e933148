"""`params_from_config`'s fencing fields (engine.py): from the configuration, for this node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twinbeat.config import load
from twinbeat.engine import params_from_config


def config_of(tmp_path: Path, fencing: str, node: str = "prime"):
    (tmp_path / "ha.cf").write_text("bcast eth1\nnode prime\nnode calc\n" + fencing)
    (tmp_path / "authkeys").write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(tmp_path / "authkeys", 0o600)
    (tmp_path / "haresources").write_text("prime 198.18.1.100\n")
    return load(str(tmp_path), node=node)


pytestmark = pytest.mark.root  # authkeys must be root's


def test_no_fencing_by_default(tmp_path: Path) -> None:
    params = params_from_config(config_of(tmp_path, ""), 1)
    assert (params.fencing, params.fence_delay) == (False, 0.0)


def test_fencing_and_its_head_start(tmp_path: Path) -> None:
    params = params_from_config(config_of(tmp_path, "fence fence_dummy\nfence_delay 5\n"), 1)
    assert (params.fencing, params.fence_delay) == (True, 5.0)


def test_only_devices_this_node_uses_count(tmp_path: Path) -> None:
    hacf = "stonith_host calc null prime\nfence_delay 2\n"
    assert params_from_config(config_of(tmp_path, hacf, "prime"), 1).fencing is False
    assert params_from_config(config_of(tmp_path, hacf, "calc"), 1).fencing is True


def test_a_caller_may_say_otherwise(tmp_path: Path) -> None:
    params = params_from_config(config_of(tmp_path, ""), 1, fencing=True, fence_delay=1.5)
    assert (params.fencing, params.fence_delay) == (True, 1.5)
