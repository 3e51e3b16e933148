"""An OCF agent's `meta-data` (its self-description, XML) -> `MetaData`, and what it says of
a resource's parameters.

Every OCF agent prints, for `AGENT meta-data`, its parameters (name, required, default) and
its actions with their advised timeouts (OCF resource agent API, `<actions>`):

    <resource-agent name="apache"><parameters>
      <parameter name="configfile" required="0" unique="1"><content type="string" .../>
    ...<actions><action name="monitor" depth="0" timeout="20s" interval="10s"/>

`twinbeat check` uses it to refuse a resource whose required parameters are missing or whose
parameter names the agent does not know (a typo would otherwise be ignored by the agent
silently); the daemon uses the advised timeouts when ha.cf gives none. Pure: the caller
runs the agent (check_ocf.py, resources/ocf.py). The XML comes from a root-owned program on
this machine, not from the network; it is still bounded in size and any parse error is one
`MetaDataError`, never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_META_DATA = 1 << 20  # bytes; the largest agent in resource-agents prints ~40 KB
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?)\s*(ms|msec|s|sec|m|min|h|hr)?\s*", re.ASCII)
_UNIT = {None: 1.0, "s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3, "m": 60.0, "min": 60.0,
         "h": 3600.0, "hr": 3600.0}


class MetaDataError(ValueError):
    """The agent's meta-data is not the XML the OCF API describes."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    required: bool
    default: str | None


@dataclass(frozen=True, slots=True)
class MetaData:
    agent: str
    parameters: tuple[Parameter, ...]
    timeouts: dict[str, float]  # action -> advised timeout, seconds (actions that give one)
    actions: frozenset[str]

    def parameter_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parameters)

    def timeout(self, action: str) -> float | None:
        return self.timeouts.get(action)


def parse_duration(text: str) -> float | None:
    """Pacemaker's op durations: `20s`, `20`, `1m`, `500ms`; None if unreadable."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_meta_data(text: str | bytes) -> MetaData:
    """The agent's meta-data as a `MetaData`; `MetaDataError` for anything else."""
    if len(text) > MAX_META_DATA:
        raise MetaDataError(f"meta-data larger than {MAX_META_DATA} bytes")
    import xml.etree.ElementTree as ET  # noqa: PLC0415 (not every daemon has OCF agents: RSS)

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MetaDataError(f"meta-data is not XML: {exc}") from None
    if root.tag != "resource-agent":
        raise MetaDataError(f"meta-data root is <{root.tag[:40]}>, not <resource-agent>")
    parameters = []
    for element in root.iterfind("parameters/parameter"):
        name = element.get("name")
        if not name:
            continue
        content = element.find("content")
        parameters.append(Parameter(
            name=name,
            required=element.get("required", "0").strip() in ("1", "true", "yes"),
            default=None if content is None else content.get("default"),
        ))
    timeouts: dict[str, float] = {}
    actions: set[str] = set()
    for element in root.iterfind("actions/action"):
        action = element.get("name")
        if not action:
            continue
        actions.add(action)
        timeout = parse_duration(element.get("timeout", ""))
        if timeout is not None and timeout > 0 and action not in timeouts:
            timeouts[action] = timeout  # the first (depth 0) monitor's
    return MetaData(root.get("name", ""), tuple(parameters), timeouts, frozenset(actions))


def parameter_problems(meta: MetaData, given: tuple[tuple[str, str], ...]) -> list[str]:
    """What is wrong with `given` for this agent: missing required, unknown names."""
    problems = []
    names = {name for name, _ in given}
    known = meta.parameter_names()
    for parameter in meta.parameters:
        if parameter.required and parameter.name not in names:
            problems.append(f"required parameter {parameter.name} missing")
    for name, _ in given:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            if len(listed) > 120:
                listed = listed[:117] + "..."
            problems.append(f"unknown parameter {name} (the agent knows: {listed})")
    return problems
