"""A hostile or broken fence password file (`password_file=`, config/secretfile.py).

Judged like authkeys: one open that never blocks, `fstat` on that descriptor, a regular
file owned by root with no group or other bits, at most 4 KiB; the secret is its first
line. Every refusal is one line naming the file and never shows what is in it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from twinbeat.config.secretfile import MAX_SECRET, SecretFileError, read_secret

pytestmark = pytest.mark.root
NOBODY = 65534
SECRET = "hunter2-correct-horse"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "ipmi.secret"
    path.write_text(f"{SECRET}\n")
    os.chmod(path, 0o600)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(SecretFileError) as caught:
        read_secret(str(path))
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    return message


def test_the_first_line_is_the_secret(secret: Path) -> None:
    secret.write_text(f"{SECRET}\r\nnot this\n")
    assert read_secret(str(secret)) == SECRET


def test_spaces_inside_a_secret_are_kept(secret: Path) -> None:
    secret.write_text(" two words \n")
    assert read_secret(str(secret)) == " two words "


def test_a_symlink_is_followed_and_its_target_judged(secret: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(secret)
    assert read_secret(str(link)) == SECRET
    os.chmod(secret, 0o644)
    assert refusal(link) == (f"{link}: bad permissions 0644 (group/other may read or write "
                             f"it); 600 recommended (chmod 600 {link})")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o666])
def test_group_or_other_bits_are_refused(secret: Path, mode: int) -> None:
    os.chmod(secret, mode)
    assert f"bad permissions {mode:04o}" in refusal(secret)


def test_another_owner_is_refused(secret: Path) -> None:
    os.chown(secret, NOBODY, 0)
    assert refusal(secret) == (f"{secret}: owned by uid {NOBODY}, not root; only root may "
                               f"own a secret (chown root {secret})")


def test_a_missing_file(tmp_path: Path) -> None:
    assert refusal(tmp_path / "none") == f"{tmp_path / 'none'}: no such file"


def test_a_directory_and_a_device_are_refused(tmp_path: Path) -> None:
    assert "not a regular file (a directory)" in refusal(tmp_path)
    assert "not a regular file (a character device)" in refusal(Path("/dev/null"))


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(refusal(fifo)), daemon=True)
    worker.start()
    worker.join(5)
    assert result == [f"{fifo}: not a regular file (a FIFO); a secret must be a plain file"]


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "the first line is empty"),
    (b"\nhunter2\n", "the first line is empty"),
    (b"\xff\xfe\n", "not UTF-8 text"),
    (b"a\x1bb\n", "control characters in the secret"),
    (b"x" * (MAX_SECRET + 1), f"larger than {MAX_SECRET} bytes"),
])
def test_bad_contents(secret: Path, content: bytes, problem: str) -> None:
    secret.write_bytes(content)
    assert problem in refusal(secret)


def test_a_nul_in_the_path(tmp_path: Path) -> None:
    assert "cannot open" in refusal(Path(f"{tmp_path}/a\0b"))
