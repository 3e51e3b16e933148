"""A hostile or broken authkeys *file* (issue #11, item 10): refused, never trusted, no hang.

The file is opened once, without blocking, and judged by `fstat` on that descriptor: it
must be a regular file, owned by root, with no group or other permission bits. What is
checked is then exactly what is read: replacing the file between the check and the read
changes nothing (the old code stat()ed the path, then opened it again). Symlinks are
followed, as heartbeat's fopen() does; the checks apply to the file they lead to.
"""

from __future__ import annotations

import builtins
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from twinbeat.config import ConfigErrors, load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "config"))
from config_helpers import HOWTO_HACF, HOWTO_HARESOURCES

NOBODY = 65534
KEY_A = "the-key-that-was-checked-0123456789"
KEY_B = "a-key-nobody-checked-0123456789abcd"


def make_dir(path: Path, authkeys: str | None = f"auth 1\n1 sha256 {KEY_A}\n") -> Path:
    path.mkdir()
    (path / "ha.cf").write_text(HOWTO_HACF)
    (path / "haresources").write_text(HOWTO_HARESOURCES)
    if authkeys is not None:
        (path / "authkeys").write_text(authkeys)
        os.chmod(path / "authkeys", 0o600)
    return path


def errors_of(d: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load(str(d), node="prime")
    return [str(m) for m in info.value.messages]


@pytest.fixture
def d(tmp_path: Path) -> Path:
    return make_dir(tmp_path / "ha.d")


def test_a_file_owned_by_another_user_is_refused(d: Path) -> None:
    """That user could rewrite the keys (and read them) although the mode is 600."""
    os.chown(d / "authkeys", NOBODY, NOBODY)
    assert errors_of(d) == [
        f"{d}/authkeys: owned by uid {NOBODY}, not root; only root may own the keys "
        "(chown root authkeys)"]


def test_owner_and_mode_are_both_reported(d: Path) -> None:
    os.chown(d / "authkeys", NOBODY, 0)
    os.chmod(d / "authkeys", 0o640)
    assert errors_of(d) == [
        f"{d}/authkeys: owned by uid {NOBODY}, not root; only root may own the keys "
        "(chown root authkeys)",
        f"{d}/authkeys: bad permissions 0640 (group/other may read or write it); "
        "600 recommended"]


def test_a_character_device_is_refused(d: Path) -> None:
    (d / "authkeys").unlink()
    (d / "authkeys").symlink_to("/dev/null")
    assert errors_of(d) == [
        f"{d}/authkeys: not a regular file (a character device); authkeys must be a plain "
        "file"]


def test_a_directory_is_refused(d: Path) -> None:
    (d / "authkeys").unlink()
    (d / "authkeys").mkdir(mode=0o700)
    assert errors_of(d) == [
        f"{d}/authkeys: not a regular file (a directory); authkeys must be a plain file"]


def test_a_fifo_is_refused_without_waiting_for_a_writer(d: Path) -> None:
    """Opening a FIFO for reading blocks until someone writes: `check` must not hang."""
    (d / "authkeys").unlink()
    os.mkfifo(d / "authkeys", 0o600)
    argv = [sys.executable, "-m", "twinbeat", "check", "--config-dir", str(d), "--node",
            "prime"]
    try:
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("twinbeat check hung on a FIFO authkeys")
    assert done.returncode == 1
    assert (f"{d}/authkeys: not a regular file (a FIFO); authkeys must be a plain file"
            in done.stderr)
    assert "Traceback" not in done.stderr


def test_a_huge_file_is_refused_without_reading_it_all(d: Path) -> None:
    with open(d / "authkeys", "ab") as f:
        f.write(b"#" * (1 << 20) + b"\n")
    assert errors_of(d) == [
        f"{d}/authkeys: larger than 65536 bytes; not an authkeys file"]


def test_a_symlink_to_a_good_file_is_followed(tmp_path: Path, d: Path) -> None:
    """heartbeat fopen()s the path, so an /etc/ha.d/authkeys symlink keeps working."""
    target = tmp_path / "keys"
    os.rename(d / "authkeys", target)
    (d / "authkeys").symlink_to(target)
    config = load(str(d), node="prime")
    assert config.authkeys.keys[1].key == KEY_A.encode()


def test_a_symlink_is_judged_by_the_file_it_leads_to(tmp_path: Path, d: Path) -> None:
    target = tmp_path / "keys"
    os.rename(d / "authkeys", target)
    os.chown(target, NOBODY, NOBODY)
    (d / "authkeys").symlink_to(target)
    assert errors_of(d) == [
        f"{d}/authkeys: owned by uid {NOBODY}, not root; only root may own the keys "
        "(chown root authkeys)"]


def test_a_symlink_loop_is_an_error_not_a_traceback(d: Path) -> None:
    (d / "authkeys").unlink()
    (d / "authkeys").symlink_to(d / "authkeys")
    assert errors_of(d) == [
        f"{d}/authkeys: cannot open keyfile: Too many levels of symbolic links"]


def test_a_missing_file(d: Path) -> None:
    (d / "authkeys").unlink()
    assert errors_of(d) == [f"{d}/authkeys: no such file"]


@pytest.fixture
def swap_after_first_touch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """swap(path, replacement): rename `replacement` over `path` right after the loader's
    first system call on `path` (stat, lstat, open, ...), whichever call that is."""
    armed: dict[str, str] = {}

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def touched(target: Any, *args: Any, **kwargs: Any) -> Any:
            result = real(target, *args, **kwargs)
            replacement = armed.pop(os.fsdecode(target), None) if isinstance(
                target, str | bytes | os.PathLike) else None
            if replacement is not None:
                os.rename(replacement, os.fsdecode(target))
            return result
        return touched

    for module, name in ((os, "stat"), (os, "lstat"), (os, "open"), (builtins, "open"),
                         (io, "open")):
        monkeypatch.setattr(module, name, wrap(getattr(module, name)))

    def swap(path: Path, replacement: Path) -> None:
        armed[str(path)] = str(replacement)

    yield swap


def test_the_file_read_is_the_file_checked(tmp_path: Path, d: Path, swap_after_first_touch
                                           ) -> None:
    """Swap a world-readable file with other keys in just after the first look at the path:
    the keys loaded must be those of the file whose owner and mode were checked."""
    bad = tmp_path / "swapped-in"
    bad.write_text(f"auth 1\n1 sha256 {KEY_B}\n")
    os.chmod(bad, 0o644)
    swap_after_first_touch(d / "authkeys", bad)
    try:
        config = load(str(d), node="prime")
    except ConfigErrors as exc:  # refusing is fine too; reading unchecked keys is not
        assert any("bad permissions 0644" in str(m) for m in exc.messages)
        return
    assert config.authkeys.keys[1].key == KEY_A.encode()
