"""A weaker authkeys slot must not let anyone forge frames (issue #11, item 9).

The attack: with `auth 1` / `1 sha256 ...` / `2 crc`, a frame that names key index 2 carries
only a CRC-32, which anyone on the LAN can compute. Had it been accepted, a forged
generation of 0xFFFFFFFF would make every real frame of the peer look like a replay of an
older generation, for good. twinbeat refuses such a file when it is loaded (docs/protocol.md
§Keys): every slot in authkeys verifies received frames, so none may be forgeable while the
active one is not. Whatever authkeys a node loads, a crc frame forged under any key index
must therefore be refused unless the node itself signs with crc.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinbeat import wire
from twinbeat.config import ConfigErrors, load
from twinbeat.core import FrameReceived
from twinbeat.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "config"))
from config_helpers import HOWTO_HACF, HOWTO_HARESOURCES

KEYED = ("md5", "sha1", "sha256")
SECRET = "a-long-enough-secret-0123456789"


def config_dir(path: Path, authkeys: str) -> str:
    path.mkdir(exist_ok=True)
    (path / "ha.cf").write_text(HOWTO_HACF)
    (path / "haresources").write_text(HOWTO_HARESOURCES)
    (path / "authkeys").write_text(authkeys)
    os.chmod(path / "authkeys", 0o600)
    return str(path)


def forged(index: int, generation: int = 0xFFFF_FFFF) -> bytes:
    """What anyone on the LAN can build: a crc-"signed" frame under any key index."""
    attacker = wire.Keyring({index: ("crc", None)}, index)
    return wire.encode(attacker, sender="calc", fingerprint=0, generation=generation,
                       sequence=1, timestamp_ms=1, echo_ms=0, echo_delay_ms=0, link_id=0,
                       node_state=2, node_flags=0, groups=b"\x02")


def test_the_issue_example_is_refused_at_load(tmp_path: Path) -> None:
    d = config_dir(tmp_path, f"auth 1\n1 sha256 {SECRET}\n2 crc\n")
    with pytest.raises(ConfigErrors) as info:
        load(d, node="prime")
    assert [str(m) for m in info.value.messages] == [
        f"{d}/authkeys:3: key 2: crc is weaker than the active key 1 (sha256); every key "
        "in authkeys verifies received frames, so anyone could forge frames as key 2 "
        "(remove it)"]


def test_the_keyring_refuses_the_slot_set_too() -> None:
    # Defence in depth: a Keyring built without the config parser (tests, tools) refuses it.
    with pytest.raises(ValueError, match="key 2: crc beside the keyed active key 1"):
        wire.Keyring({1: ("sha256", SECRET.encode()), 2: ("crc", None)}, 1)


slots = st.dictionaries(st.integers(0, 15), st.sampled_from((*KEYED, "crc")),
                        min_size=1, max_size=5)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slots=slots, data=st.data())
def test_no_loadable_authkeys_with_a_keyed_active_slot_accepts_a_crc_forgery(
    tmp_path: Path, slots: dict[int, str], data: st.DataObject
) -> None:
    keyed = sorted(i for i, method in slots.items() if method != "crc")
    if not keyed:
        return
    active = data.draw(st.sampled_from(keyed))
    lines = [f"auth {active}"] + [
        f"{i} {m}" + ("" if m == "crc" else f" {SECRET}-{i}") for i, m in slots.items()]
    d = config_dir(tmp_path / "ha.d", "\n".join(lines) + "\n")
    try:
        config = load(d, node="prime")
    except ConfigErrors:
        return  # refused at load: nothing is ever verified with it
    engine = Engine.from_config(config, generation=1, now=0.0)
    for index in range(16):
        event = engine.frame_event("eth0", forged(index))
        assert not isinstance(event, FrameReceived), (slots, active, index)
