"""The generation counter: +1 per start, durable, and refusing garbage instead of guessing."""

import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from twinbeat.daemon.generation import GenerationError, bump_generation, heartbeat_generation


def test_first_start_is_generation_one_and_each_start_increments(tmp_path):
    state = tmp_path / "state"
    assert bump_generation(state) == 1
    assert bump_generation(state) == 2
    assert (state / "generation").read_text() == "2\n"
    assert (state / "generation").stat().st_mode & 0o777 == 0o600


def test_garbage_in_the_counter_file_refuses_to_start(tmp_path):
    (tmp_path / "generation").write_text("not a number\n")
    with pytest.raises(GenerationError, match="not a generation number"):
        bump_generation(tmp_path)
    assert (tmp_path / "generation").read_text() == "not a number\n"


def test_counter_at_u32_limit_refuses(tmp_path):
    (tmp_path / "generation").write_text(f"{2**32 - 1}\n")
    with pytest.raises(GenerationError, match="out of range"):
        bump_generation(tmp_path)


def test_unwritable_state_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GenerationError) as info:
        bump_generation(blocker / "state")
    assert "\n" not in str(info.value)
    assert not os.path.exists(blocker / "state")


CORRUPT = {
    "non-utf8": b"\xff\xfe\x80\n",
    "empty": b"",
    "blank": b" \n\n",
    "negative": b"-3\n",
    "non-numeric": b"seven\n",
    "underscore": b"5_000\n",   # int() would take these three; a counter file never holds them
    "plus-sign": b"+5\n",
    "non-ascii-digits": "\u0663\n".encode(),
    "nul": b"5\x00\n",
    "two-lines": b"5\n6\n",
    "huge-number": b"9" * 5000 + b"\n",
    "huge-file": b"1" + b" " * (1 << 20) + b"\n",
}


def snapshot(directory):
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in directory.iterdir()}


@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_counter_file_is_a_one_line_refusal_and_nothing_is_written(tmp_path, content):
    path = tmp_path / "generation"
    path.write_bytes(content)
    before = snapshot(tmp_path)
    with pytest.raises(GenerationError) as info:
        bump_generation(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 200
    assert snapshot(tmp_path) == before  # no bump, no temporary file left behind


def bump_within(state_dir, seconds):
    """bump_generation, failing the test if it blocks (a FIFO would hang a plain open+read)."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(bump_generation, state_dir)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        # Unblock the stuck reader so the test run can finish, then fail.
        os.close(os.open(state_dir / "generation", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"bump_generation blocked for more than {seconds} s")
    finally:
        pool.shutdown(wait=True)


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink-loop", "dangling-symlink"])
def test_counter_path_that_is_not_a_readable_file_is_refused(tmp_path, kind):
    path = tmp_path / "generation"
    match kind:
        case "directory":
            path.mkdir()
        case "fifo":
            os.mkfifo(path)  # opening it for reading would block forever
        case "symlink-loop":
            path.symlink_to(path)
        case "dangling-symlink":
            path.symlink_to(tmp_path / "elsewhere" / "generation")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(GenerationError) as info:
        bump_within(tmp_path, 10.0)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file anyway")
def test_unreadable_counter_file_is_refused(tmp_path):
    path = tmp_path / "generation"
    path.write_text("5\n")
    path.chmod(0)
    with pytest.raises(GenerationError, match="Permission denied"):
        bump_generation(tmp_path)


def test_hand_written_counter_without_newline_is_accepted(tmp_path):
    (tmp_path / "generation").write_text("41")
    assert bump_generation(tmp_path) == 42


def test_symlinked_counter_stays_a_symlink(tmp_path):
    # The counter kept on another file system: the link is followed, not replaced.
    elsewhere = tmp_path / "persist"
    elsewhere.mkdir()
    (elsewhere / "generation").write_text("7\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "generation").symlink_to(elsewhere / "generation")
    assert bump_generation(state) == 8
    assert (state / "generation").is_symlink()
    assert (elsewhere / "generation").read_text() == "8\n"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["generation"]


# heartbeat 3.0.6's counter on a migrated node (issue #14): its peer drops anything below it.


def test_heartbeat_generation_reads_heartbeats_own_format(tmp_path):
    (tmp_path / "hb_generation").write_text(f"{1795985931:15d}\n")  # heartbeat's %15lu
    assert heartbeat_generation(tmp_path) == (1795985931, None)
    assert heartbeat_generation(tmp_path / "missing") == (0, None)  # heartbeat never ran


def test_twinbeat_starts_above_heartbeats_generation_and_keeps_counting(tmp_path):
    state = tmp_path / "state"
    assert bump_generation(state, at_least=1795985931) == 1795985932
    assert bump_generation(state) == 1795985933
    assert bump_generation(state, at_least=5) == 1795985934  # never goes back


def test_a_bad_heartbeat_counter_is_reported_not_fatal(tmp_path):
    (tmp_path / "hb_generation").write_text("garbage\n")
    seed, why = heartbeat_generation(tmp_path)
    assert seed == 0 and why is not None and "hb_generation" in why and "\n" not in why
    (tmp_path / "hb_generation").write_text(f"{2**32}\n")
    assert heartbeat_generation(tmp_path)[1] is not None
