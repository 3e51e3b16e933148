"""The peer-generation record (daemon/peerstate.py): durable, atomic, refusing garbage with one
line naming the file, and written off the core's path (issue #11 item 5)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import trio

from twinbeat.daemon import start
from twinbeat.daemon.peerstate import (
    PEER_GENERATION_FILE,
    PeerStateError,
    PeerStateWriter,
    load_peer_generation,
    save_peer_generation,
)


def test_no_record_is_none_and_a_saved_one_reads_back(tmp_path: Path) -> None:
    assert load_peer_generation(tmp_path, "prime") is None
    save_peer_generation(tmp_path, "prime", 7)
    path = tmp_path / PEER_GENERATION_FILE
    assert path.read_text() == "prime 7\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_peer_generation(tmp_path, "prime") == 7
    save_peer_generation(tmp_path, "prime", 2)  # a generation that went backwards, accepted
    assert load_peer_generation(tmp_path, "prime") == 2
    assert not (tmp_path / "peer-generation.tmp").exists()


def test_a_record_of_another_node_is_ignored(tmp_path: Path) -> None:
    save_peer_generation(tmp_path, "calc", 7)
    assert load_peer_generation(tmp_path, "prime") is None


@pytest.mark.parametrize("content", [b"", b"prime\n", b"prime seven\n", b"prime 7 8\n",
                                     b"prime -1\n", b"prime 7\nprime 8\n", b"\xff\xfe7\n",
                                     b"prime 4294967296\n"])
def test_garbage_refuses_with_one_line_naming_the_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / PEER_GENERATION_FILE).write_bytes(content)
    with pytest.raises(PeerStateError) as info:
        load_peer_generation(tmp_path, "prime")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / PEER_GENERATION_FILE}: ")
    assert "\n" not in message
    assert (tmp_path / PEER_GENERATION_FILE).read_bytes() == content  # left as found


def test_a_record_without_its_newline_is_still_read(tmp_path: Path) -> None:
    (tmp_path / PEER_GENERATION_FILE).write_text("prime 9")
    assert load_peer_generation(tmp_path, "prime") == 9


def test_an_unwritable_state_dir_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PeerStateError) as info:
        save_peer_generation(blocker / "state", "prime", 3)
    assert "\n" not in str(info.value)


async def test_the_writer_writes_the_latest_generation_asked_for(tmp_path: Path) -> None:
    writer = PeerStateWriter(tmp_path, "prime")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        writer.record(4)
        writer.record(5)  # before the first write ran: only 5 is written
        with trio.fail_after(5):
            while load_peer_generation(tmp_path, "prime") != 5:
                await trio.sleep(0.01)
        writer.record(6)
        with trio.fail_after(5):
            while load_peer_generation(tmp_path, "prime") != 6:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


async def test_a_failing_write_is_a_warning_not_a_crash(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    writer = PeerStateWriter(blocker / "state", "prime")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        writer.record(4)
        with trio.fail_after(5):
            while "cannot record the peer's generation" not in caplog.text:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


def config_dir(tmp_path: Path) -> str:
    d = tmp_path / "ha.d"
    d.mkdir()
    (d / "ha.cf").write_text("keepalive 2\ndeadtime 10\nbcast eth1\nnode prime\nnode calc\n"
                             "auto_failback on\n")
    (d / "authkeys").write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(d / "authkeys", 0o600)
    (d / "haresources").write_text("prime 198.18.1.100\n")
    return str(d)


def test_run_refuses_to_start_on_a_corrupt_record(tmp_path, capsys, monkeypatch) -> None:
    def must_not_start(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the daemon started on a corrupt peer-generation record")

    monkeypatch.setattr(start.trio, "run", must_not_start)
    monkeypatch.setattr(start, "setup_logging", lambda *_a, **_k: None)
    state = tmp_path / "state"
    state.mkdir()
    (state / PEER_GENERATION_FILE).write_text("garbage\n")
    args = argparse.Namespace(config_dir=config_dir(tmp_path), node="prime",
                              run_dir=str(tmp_path / "run"), state_dir=str(state),
                              foreground=False)
    assert start.main(args) == 1
    err = capsys.readouterr().err
    assert f"twinbeat: not started: {state / PEER_GENERATION_FILE}: not a peer generation " \
           "record" in err
    assert not os.path.exists(state / "generation")  # refused before using a generation
