"""Typed readers: one helper per kind of ha.cf value (keepalived's `read_unsigned_strvec`).

A reader turns one token into a typed value or an `Invalid` carrying the problem; the
directive table (hacf.py) says which reader each directive uses and reports the problem as
`path:line: DIRECTIVE TOKEN: problem`. A `Setting` is a single-valued directive: its name,
its reader and whether a second line is an error. Nothing here knows a directive's meaning.

This module must not import the parsers or the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from twinbeat.config.values import MAX_TIME, TIME_HINT, parse_bool, parse_int, parse_time

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Invalid:
    """A token a reader refused; `problem` follows `DIRECTIVE TOKEN: ` in the message."""

    problem: str


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """A directive that takes exactly one value of one kind.

    A later line replaces an earlier one (heartbeat's rule for most directives), unless
    `once`: then a second line is an error, `NAME: given twice (line N{once_note})`.
    """

    name: str
    read: Callable[[str], T | Invalid]
    once: bool = False
    once_note: str = ""


def time_value(token: str) -> float | Invalid:
    """Seconds (`2`, `1.5`, `500ms`, `250000us`), more than 0 and at most a day."""
    seconds = parse_time(token)
    if seconds is None:
        return Invalid(TIME_HINT)
    if seconds <= 0:
        return Invalid("must be greater than 0")
    if seconds > MAX_TIME:
        return Invalid("longer than a day")
    return seconds


def time_or_zero(token: str) -> float | Invalid:
    """A `time_value`, or 0 (`fence_delay 0`: no head start)."""
    seconds = parse_time(token)
    return 0.0 if seconds == 0 else time_value(token)


def time_at_least(minimum: float, problem: str) -> Callable[[str], float | Invalid]:
    """A `time_value` of at least `minimum` seconds."""

    def read(token: str) -> float | Invalid:
        seconds = time_value(token)
        if isinstance(seconds, float) and seconds < minimum - 1e-12:
            return Invalid(problem)
        return seconds

    return read


def integer(low: int, high: int, problem: str) -> Callable[[str], int | Invalid]:
    """A decimal integer in [low, high]."""

    def read(token: str) -> int | Invalid:
        value = parse_int(token, low, high)
        return Invalid(problem) if value is None else value

    return read


def int_choice(allowed: tuple[int, ...], problem: str) -> Callable[[str], int | Invalid]:
    """A decimal integer from a fixed list (e.g. the baud rates)."""

    def read(token: str) -> int | Invalid:
        value = parse_int(token, min(allowed), max(allowed))
        return value if value in allowed else Invalid(problem)

    return read


def boolean(problem: str) -> Callable[[str], bool | Invalid]:
    """heartbeat's booleans: true/on/yes/y/1 and false/off/no/n/0, any case."""

    def read(token: str) -> bool | Invalid:
        value = parse_bool(token)
        return Invalid(problem) if value is None else value

    return read


def word(meanings: Mapping[str, T], problem: str) -> Callable[[str], T | Invalid]:
    """An enum-like word, any case: its meaning from `meanings`."""

    def read(token: str) -> T | Invalid:
        lowered = token.lower()
        return meanings[lowered] if lowered in meanings else Invalid(problem)

    return read


def absolute_path(problem: str) -> Callable[[str], str | Invalid]:
    """A path that starts with `/`."""

    def read(token: str) -> str | Invalid:
        return token if token.startswith("/") else Invalid(problem)

    return read


def any_token(token: str) -> str | Invalid:
    """Any one token, as written (heartbeat checks `logfile` only when it opens it)."""
    return token
