"""The generation counter: +1 per start, durable, and refusing garbage instead of guessing."""

import os

import pytest

from twinbeat.daemon.generation import GenerationError, bump_generation


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
