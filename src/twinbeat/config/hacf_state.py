"""The mutable state while ha.cf is read: what each directive has said so far, with its line.

Owns storing and fetching settings by their `Setting` (so a fetched value has the reader's
type), the node and media lists, and the `path:line` reporting helpers. The directive table
(hacf.py), the media (media.py) and the final rules (hacf_finish.py) all work on one
`HaCfState`; none of them keeps state of its own.

This module must not import the directive table or the final rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from twinbeat.config.messages import Report, shown
from twinbeat.config.model import (
    FenceDevice,
    Medium,
    MetricsEndpoint,
    MonitorOverride,
    PingGroup,
    Respawn,
)
from twinbeat.config.readers import Invalid, Setting

T = TypeVar("T")
D = TypeVar("D")

REPORTED = Invalid("already reported")


@dataclass(slots=True)
class HaCfState:
    """Everything ha.cf has said so far; see the module docstring."""

    path: str
    report: Report
    nodes: dict[str, int] = field(default_factory=dict)  # name -> line, ha.cf order
    # media in ha.cf order: (link name, medium, line); ucast peers gathered per iface
    media: list[tuple[str, Medium, int]] = field(default_factory=list)
    ucast_peers: dict[str, list[str]] = field(default_factory=dict)
    ping: list[str] = field(default_factory=list)
    ping_groups: list[PingGroup] = field(default_factory=list)
    monitors: list[MonitorOverride] = field(default_factory=list)  # `monitor RESOURCE ...`
    fence_devices: list[FenceDevice] = field(default_factory=list)  # fencing.py, ha.cf order
    respawn: list[Respawn] = field(default_factory=list)  # respawn.py, ha.cf order
    metrics: list[MetricsEndpoint] = field(default_factory=list)  # metrics.py, ha.cf order
    # Setting name -> (value, line). Only `put` writes here, and its signature ties the value
    # to the Setting's type, which is why `given` may cast it back to that type.
    _values: dict[str, tuple[Any, int]] = field(default_factory=dict)

    def error(self, line: int, text: str) -> None:
        self.report.error(self.path, line, text)

    def warn(self, line: int, text: str) -> None:
        self.report.warn(self.path, line, text)

    def one(self, name: str, args: list[str], line: int) -> str | None:
        """The single argument of a one-value directive, or None after reporting."""
        if len(args) != 1:
            self.error(line, f"{name}: takes exactly one value, got {len(args)}")
            return None
        return args[0]

    def read(
        self, name: str, reader: Callable[[str], T | Invalid], args: list[str], line: int
    ) -> T | Invalid:
        """The one value of `name` through `reader`; an `Invalid` once reported."""
        token = self.one(name, args, line)
        if token is None:
            return REPORTED
        value = reader(token)
        if isinstance(value, Invalid):
            self.error(line, f"{name} {shown(token)}: {value.problem}")
        return value

    def set(self, setting: Setting[T], args: list[str], line: int) -> None:
        """Apply one line of a single-valued directive (see `Setting.once`)."""
        earlier = self._values.get(setting.name)
        if earlier is not None and setting.once and len(args) == 1:
            self.error(line, f"{setting.name}: given twice (line {earlier[1]}{setting.once_note})")
            return
        value = self.read(setting.name, setting.read, args, line)
        if not isinstance(value, Invalid):
            self.put(setting, value, line)

    def put(self, setting: Setting[T], value: T, line: int) -> None:
        """Record `value` for `setting` (e.g. `nice_failback` setting auto_failback)."""
        self._values[setting.name] = (value, line)

    def given(self, setting: Setting[T]) -> tuple[T, int] | None:
        """(value, line) if ha.cf set it, else None."""
        found = self._values.get(setting.name)
        return None if found is None else (cast(T, found[0]), found[1])

    def value(self, setting: Setting[T], default: D) -> T | D:
        """The value ha.cf gave, or `default`."""
        found = self.given(setting)
        return default if found is None else found[0]
