"""authkeys: the shared secrets that sign heartbeat frames -> `AuthKeys`.

Format (heartbeat auth.c: parse_authfile, reference §2.1): `auth N` picks the index used
to sign; `N method [key]` lines define indexes 0-15. Methods are heartbeat's `md5`, `sha1`
and `crc`, plus `sha256` (twinbeat's default for new sites, see `twinbeat keygen`).
md5/sha1/sha256 need a key; `crc` must not have one. The key is ONE token (heartbeat reads
it with sscanf, so text after it is dropped); only lines that start with `#` are comments,
because a key may contain `#`.

Unlike heartbeat, `auth N` may come after the key line it names.

The file (`read_authkeys`) is refused unless it is a regular file owned by root that
group and others may neither read nor write, checked with fstat on the descriptor it is
read from. Every slot verifies received frames, so a crc slot beside a keyed active slot
is refused (`_judge_slots`, docs/protocol.md §Keys). No message built here
contains a key or any token that could be one: the method slot of a malformed line may
hold a key, so unknown methods are not echoed either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from twinbeat.config.messages import Report
from twinbeat.config.model import AuthKey, AuthKeys
from twinbeat.config.rootfile import root_file_problems
from twinbeat.config.source import Lines, words
from twinbeat.config.values import parse_int

METHODS = ("md5", "sha1", "sha256", "crc")
KEYED = frozenset({"md5", "sha1", "sha256"})
MAX_INDEX = 15  # heartbeat MAXAUTH - 1
SHORT_KEY = 16  # bytes; below this a key is easy to guess
MAX_FILE = 64 * 1024  # bytes; a real authkeys is a few lines


def read_authkeys(path: str, report: Report) -> bytes | None:
    """The file's bytes, judged by the descriptor they are read from (issue #11, item 10).

    One open, then `fstat` on that descriptor: what is checked is what is read, so the file
    cannot be swapped between a check and the read. O_NONBLOCK keeps a FIFO from blocking
    the open until a writer comes. Symlinks are followed, as heartbeat's fopen() does; the
    checks apply to the file at the end of them, which is what holds the keys. None (with
    the reasons in `report`) when the file is unusable; a regular file with a bad owner or
    mode is still returned so that its other problems are reported in the same run.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        report.error(path, 0, "no such file")
        return None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        report.error(path, 0, f"cannot open keyfile: {getattr(exc, 'strerror', None) or exc}")
        return None
    try:
        if not _judge_file(os.fstat(fd), path, report):
            return None
        return _read_bounded(fd, path, report)
    except OSError as exc:
        report.error(path, 0, f"cannot read: {exc.strerror or exc}")
        return None
    finally:
        os.close(fd)


def _judge_file(st: os.stat_result, path: str, report: Report) -> bool:
    """Report a non-regular file, an owner other than root, group/other bits; False for
    a file that must not even be read (not regular: a FIFO, a device, a directory)."""
    problems = root_file_problems(st, must="authkeys must be a plain file",
                                  owner_fix="the keys (chown root authkeys)")
    for problem in problems:
        report.error(path, 0, problem.message)
    return not any(problem.fatal for problem in problems)


def _read_bounded(fd: int, path: str, report: Report) -> bytes | None:
    """At most MAX_FILE bytes: a real authkeys is a few lines, never a megabyte."""
    data = b""
    while len(data) <= MAX_FILE:
        chunk = os.read(fd, MAX_FILE + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    report.error(path, 0, f"larger than {MAX_FILE} bytes; not an authkeys file")
    return None


@dataclass(slots=True)
class _Reading:
    """What the lines read so far define; `ok` turns False at the first refused line."""

    path: str
    report: Report
    active: tuple[int, int] | None = None  # (index, line)
    keys: dict[int, AuthKey] = field(default_factory=dict)
    key_lines: dict[int, int] = field(default_factory=dict)
    attempted: set[int] = field(default_factory=set)  # indexes on key lines, valid or not
    ok: bool = True

    def error(self, line: int, text: str) -> None:
        self.report.error(self.path, line, text)
        self.ok = False

    def warn(self, line: int, text: str) -> None:
        self.report.warn(self.path, line, text)


def parse_authkeys(lines: Lines, path: str, report: Report) -> AuthKeys | None:
    """The keys, or None when they cannot be used (the reasons are in `report`)."""
    reading = _Reading(path, report)
    for number, text in lines:
        if text.lstrip().startswith("#"):
            continue
        tokens = words(text)
        if not tokens:
            continue
        if tokens[0].lower() == "auth":
            _auth_line(reading, tokens, number)
        else:
            _key_line(reading, tokens, number)
    return _result(reading)


def _auth_line(reading: _Reading, tokens: list[str], number: int) -> None:
    if len(tokens) != 2 or parse_int(tokens[1], 0, MAX_INDEX) is None:
        reading.error(number, f"auth: needs one key index 0-{MAX_INDEX} (auth N)")
    elif reading.active is not None:
        reading.error(number, f"auth: given twice (line {reading.active[1]})")
    else:
        reading.active = (int(tokens[1]), number)


def _key_line(reading: _Reading, tokens: list[str], number: int) -> None:
    index = parse_int(tokens[0], 0, MAX_INDEX)
    if index is None:
        # Do not echo the line: it may be a key on a line of its own.
        reading.error(number, "invalid auth line (use `auth N` or "
                              f"`N method [key]` with N 0-{MAX_INDEX})")
        return
    reading.attempted.add(index)
    problem = _method_problem(index, tokens)
    if problem is None:
        if len(tokens) > 3:
            reading.warn(number, f"key {index}: text after the key is ignored "
                                 "(a key is one word, as in heartbeat)")
        problem = _key_problem(reading, index, tokens)
    if problem is not None:
        reading.error(number, problem)
        return
    method = tokens[1].lower()
    secret = tokens[2].encode("utf-8", "surrogateescape") if len(tokens) > 2 else None
    if secret is not None and len(secret) < SHORT_KEY:
        reading.warn(number, f"key {index}: shorter than {SHORT_KEY} characters; "
                             "`twinbeat keygen` makes a strong one")
    reading.keys[index] = AuthKey(index, method, secret)
    reading.key_lines[index] = number


def _method_problem(index: int, tokens: list[str]) -> str | None:
    """Why the method of `N method [key]` is wrong, or None. Never echoes it (a key?)."""
    if len(tokens) < 2:
        return f"key {index}: missing method ({', '.join(METHODS)})"
    if tokens[1].lower() not in METHODS:
        return f"key {index}: invalid authtype (use {', '.join(METHODS)})"
    return None


def _key_problem(reading: _Reading, index: int, tokens: list[str]) -> str | None:
    """Why a line with a valid method cannot define key N, or None."""
    method = tokens[1].lower()
    has_key = len(tokens) > 2
    if method in KEYED and not has_key:
        return f"key {index}: auth method {method} requires a key"
    if method == "crc" and has_key:
        return f"key {index}: auth method crc doesn't use a key"
    if index in reading.keys:
        return f"key {index}: defined twice (line {reading.key_lines[index]})"
    return None


def _result(reading: _Reading) -> AuthKeys | None:
    active = reading.active
    if active is None:
        reading.error(0, "missing auth directive (add `auth N`)")
        return None
    if active[0] not in reading.keys:
        if active[0] not in reading.attempted:  # else its line is wrong, already reported
            reading.error(active[1], f"auth {active[0]}: key {active[0]} not found in "
                                     "this file")
        return None
    _judge_slots(reading, active[0])
    return AuthKeys(active[0], reading.keys) if reading.ok else None


def _judge_slots(reading: _Reading, active: int) -> None:
    """Every slot verifies received frames (docs/protocol.md §Keys), so none may be weaker.

    With a keyed active slot, a crc slot would let anyone forge frames by naming its index:
    refused. The other slots are legitimate (a key change in progress) but live: say so.
    """
    active_method = reading.keys[active].method
    for index, key in sorted(reading.keys.items()):
        line = reading.key_lines[index]
        if key.method == "crc" and active_method != "crc":
            reading.error(line, f"key {index}: crc is weaker than the active key {active} "
                                f"({active_method}); every key in authkeys verifies received "
                                f"frames, so anyone could forge frames as key {index} "
                                "(remove it)")
            continue
        if key.method == "crc":
            reading.warn(line, f"key {index}: crc authenticates nothing; use it only "
                               "on a physically secure network")
        if index != active:
            reading.warn(line, f"key {index}: also verifies received frames (kept for a key "
                               f"change?); remove it once both nodes sign with auth {active}")
