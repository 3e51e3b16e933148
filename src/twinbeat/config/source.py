"""Reading one configuration file into numbered text lines, and heartbeat's tokenizer.

Files are read as bytes and decoded line by line, so a stray non-UTF-8 byte costs one
error naming its line instead of the whole file (and never a traceback). The tokenizer
is heartbeat's (`config.c: parse_config`): `#` starts a comment anywhere on a line and
tokens are split on blanks, tabs and commas.

No parsing of directives here; the per-file parsers own that.
"""

from __future__ import annotations

import re

from twinbeat.config.messages import Report

# heartbeat splits ha.cf arguments on ", \t\n\r\f" (config.c: WHITESPACE and DELIMS).
_FIELD_SPLIT = re.compile(r"[ \t\r\n\f\v,]+")
_BLANK_SPLIT = re.compile(r"[ \t\r\n\f\v]+")

Lines = list[tuple[int, str]]


def read_file(path: str, report: Report) -> bytes | None:
    """The file's bytes, or None after reporting why it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        report.error(path, 0, "no such file")
    except IsADirectoryError:
        report.error(path, 0, "is a directory, not a file")
    except OSError as exc:
        report.error(path, 0, f"cannot read: {exc.strerror or exc}")
    return None


def decode_lines(data: bytes, path: str, report: Report) -> Lines:
    """(line number, text) for each line that is UTF-8; the others are reported and skipped."""
    lines: Lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError:
            report.error(path, number, "not UTF-8 text; line ignored")
    return lines


def strip_comment(text: str) -> str:
    """The line without its `#` comment (a comment may start anywhere on an ha.cf line)."""
    return text.split("#", 1)[0]


def fields(text: str) -> list[str]:
    """ha.cf tokens: split on blanks, tabs and commas, empty tokens dropped."""
    return [t for t in _FIELD_SPLIT.split(text) if t]


def words(text: str) -> list[str]:
    """Tokens split on blanks and tabs only (whole-line directives, authkeys, haresources)."""
    return [t for t in _BLANK_SPLIT.split(text) if t]
