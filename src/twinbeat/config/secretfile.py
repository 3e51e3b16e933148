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
import stat

MAX_SECRET = 4096  # bytes; a password file is one short line
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


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
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a plain file")
        raise SecretFileError(f"{path}: not a regular file ({kind}); a secret must be a "
                              "plain file")
    if st.st_uid != 0:
        # Whoever owns the file may rewrite the secret, whatever its mode.
        raise SecretFileError(f"{path}: owned by uid {st.st_uid}, not root; only root may "
                              f"own a secret (chown root {path})")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretFileError(f"{path}: bad permissions {mode:04o} (group/other may read or "
                              f"write it); 600 recommended (chmod 600 {path})")


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
