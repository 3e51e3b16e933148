"""A secret kept in its own file (a fence device's password): read it only if it is safe.

`fence ... password_file=PATH` keeps a password out of ha.cf, which heartbeat's own example
warns is usually world-readable. The file is judged as authkeys is (authkeys.py, docs/
security.md): one open that never blocks (a FIFO cannot hang `twinbeat check` or a fence),
then `fstat` on that descriptor, so what is checked is what is read. It must be a regular
file owned by root that group and others may neither read nor write, of at most MAX_SECRET
bytes; the secret is its first line without the line end.

Each refusal is one line naming the file, and no message ever contains the file's content.
"""

from __future__ import annotations

import os

from twinbeat.config.rootfile import root_file_problems

MAX_SECRET = 4096  # bytes; a password file is one short line
class SecretFileError(Exception):
    """The secret cannot be used; `str(exc)` is one line, `PATH: reason`."""


def read_secret(path: str) -> str:
    """The secret on the first line of `path`, or SecretFileError saying why not."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SecretFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise SecretFileError(f"{path}: cannot open: {_why(exc)}") from None
    try:
        _judge(os.fstat(fd), path)
        data = os.read(fd, MAX_SECRET + 1)
    except OSError as exc:
        raise SecretFileError(f"{path}: cannot read: {_why(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET:
        raise SecretFileError(f"{path}: larger than {MAX_SECRET} bytes; not a password file")
    try:
        secret = data.decode("utf-8").split("\n", 1)[0].rstrip("\r")
    except UnicodeDecodeError:
        raise SecretFileError(f"{path}: not UTF-8 text") from None
    if not secret:
        raise SecretFileError(f"{path}: the first line is empty; it must hold the secret")
    if not secret.isprintable():
        raise SecretFileError(f"{path}: control characters in the secret")
    return secret


def _judge(st: os.stat_result, path: str) -> None:
    problems = root_file_problems(st, must="a secret must be a plain file",
                                  owner_fix=f"a secret (chown root {path})",
                                  mode_fix=f" (chmod 600 {path})")
    if problems:
        raise SecretFileError(f"{path}: {problems[0].message}")


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
