"""authkeys: the shared secrets that sign heartbeat frames -> `AuthKeys`.

Format (heartbeat auth.c: parse_authfile, reference §2.1): `auth N` picks the index used
to sign; `N method [key]` lines define indexes 0-15. Methods are heartbeat's `md5`, `sha1`
and `crc`, plus `sha256` (twinbeat's default for new sites, see `twinbeat keygen`).
md5/sha1/sha256 need a key; `crc` must not have one. The key is ONE token (heartbeat reads
it with sscanf, so text after it is dropped); only lines that start with `#` are comments,
because a key may contain `#`.

Unlike heartbeat, `auth N` may come after the key line it names.

The file is refused when group or others may read or write it. No message built here
contains a key or any token that could be one: the method slot of a malformed line may
hold a key, so unknown methods are not echoed either.
"""

from __future__ import annotations

import os
import stat

from twinbeat.config.messages import Report
from twinbeat.config.model import AuthKey, AuthKeys
from twinbeat.config.source import Lines, words
from twinbeat.config.values import parse_int

METHODS = ("md5", "sha1", "sha256", "crc")
KEYED = frozenset({"md5", "sha1", "sha256"})
MAX_INDEX = 15  # heartbeat MAXAUTH - 1
SHORT_KEY = 16  # bytes; below this a key is easy to guess


def check_mode(path: str, report: Report) -> None:
    """Refuse an authkeys file that group or others may read or write (600 recommended)."""
    try:
        st = os.stat(path)
    except OSError:
        return  # reading it reports the problem
    if not stat.S_ISREG(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        report.error(path, 0, f"bad permissions {mode:04o} (group/other may read or write "
                              "it); 600 recommended")


def parse_authkeys(lines: Lines, path: str, report: Report) -> AuthKeys | None:
    """The keys, or None when they cannot be used (the reasons are in `report`)."""
    active: tuple[int, int] | None = None  # (index, line)
    keys: dict[int, AuthKey] = {}
    key_lines: dict[int, int] = {}
    attempted: set[int] = set()  # indexes on key lines, valid or not
    ok = True
    for number, text in lines:
        if text.lstrip().startswith("#"):
            continue
        tokens = words(text)
        if not tokens:
            continue
        if tokens[0].lower() == "auth":
            if len(tokens) != 2 or parse_int(tokens[1], 0, MAX_INDEX) is None:
                report.error(path, number, f"auth: needs one key index 0-{MAX_INDEX} "
                                           "(auth N)")
                ok = False
            elif active is not None:
                report.error(path, number, f"auth: given twice (line {active[1]})")
                ok = False
            else:
                active = (int(tokens[1]), number)
            continue
        index = parse_int(tokens[0], 0, MAX_INDEX)
        if index is None:
            # Do not echo the line: it may be a key on a line of its own.
            report.error(path, number, "invalid auth line (use `auth N` or "
                                       f"`N method [key]` with N 0-{MAX_INDEX})")
            ok = False
            continue
        attempted.add(index)
        if len(tokens) < 2:
            report.error(path, number, f"key {index}: missing method ({', '.join(METHODS)})")
            ok = False
            continue
        method = tokens[1].lower()
        if method not in METHODS:
            report.error(path, number, f"key {index}: invalid authtype "
                                       f"(use {', '.join(METHODS)})")
            ok = False
            continue
        key = tokens[2] if len(tokens) > 2 else None
        if len(tokens) > 3:
            report.warn(path, number, f"key {index}: text after the key is ignored "
                                      "(a key is one word, as in heartbeat)")
        if method in KEYED and key is None:
            report.error(path, number, f"key {index}: auth method {method} requires a key")
            ok = False
            continue
        if method == "crc" and key is not None:
            report.error(path, number, f"key {index}: auth method crc doesn't use a key")
            ok = False
            continue
        if index in keys:
            report.error(path, number, f"key {index}: defined twice (line {key_lines[index]})")
            ok = False
            continue
        secret = key.encode("utf-8", "surrogateescape") if key is not None else None
        if secret is not None and len(secret) < SHORT_KEY:
            report.warn(path, number, f"key {index}: shorter than {SHORT_KEY} characters; "
                                      "`twinbeat keygen` makes a strong one")
        if method == "crc":
            report.warn(path, number, f"key {index}: crc authenticates nothing; use it only "
                                      "on a physically secure network")
        keys[index] = AuthKey(index, method, secret)
        key_lines[index] = number
    if active is None:
        report.error(path, 0, "missing auth directive (add `auth N`)")
        return None
    if active[0] not in keys:
        if active[0] in attempted:  # its line is wrong, and already reported
            return None
        report.error(path, active[1], f"auth {active[0]}: key {active[0]} not found in "
                                      "this file")
        return None
    if not ok:
        return None
    return AuthKeys(active[0], keys)
