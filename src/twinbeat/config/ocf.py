r"""OCF resources in haresources: `ocf:PROVIDER:AGENT[::NAME=VALUE...]` -> `OcfResource`.

heartbeat v1 had no way to name an OCF agent in haresources: its resource.d wrappers
(`Filesystem`, `apache`, ...) turned positional `::` arguments into OCF parameters, one
hand-written script per agent (classic.py keeps their mappings). Pacemaker names an agent
`ocf:PROVIDER:AGENT` and gives it named parameters; this syntax joins the two, so any of the
~140 agents of Debian's resource-agents can be used without writing a wrapper:

    prime IPaddr::198.18.1.100/24/eth0 ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf

- Parameters are separated by `::` (heartbeat's argument separator), each `NAME=VALUE`, split
  at the first `=`: a value may contain `=` (`options=-DFOO=1`), a name may not.
- A value cannot contain `::`, blanks (haresources splits resources on them) or `#` (a
  comment); it cannot be empty. Such a value needs a resource.d wrapper script.
- NAME is an environment-variable name (`OCF_RESKEY_NAME`): a letter or `_`, then letters,
  digits or `_`; each NAME at most once.
- PROVIDER and AGENT are file names under `<OCF_ROOT>/resource.d` (no `/`, not `.`/`..`).

Whether the agent exists and knows these parameters is checked by `twinbeat check` from
the agent's own meta-data (ocfmeta.py), not here: this module is pure.
"""

from __future__ import annotations

import hashlib
import os
import re

from twinbeat.config.messages import shown
from twinbeat.config.model import OcfResource

OCF_PREFIX = "ocf:"
OCF_ROOT = "/usr/lib/ocf"  # Debian's resource-agents; OCF_ROOT in the agents' environment
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
SYNTAX = "ocf:PROVIDER:AGENT[::NAME=VALUE...]"


def is_ocf(text: str) -> bool:
    return text.startswith(OCF_PREFIX)


def agent_path(provider: str, agent: str, ocf_root: str = OCF_ROOT) -> str:
    """Where an agent lives: `<OCF_ROOT>/resource.d/PROVIDER/AGENT`."""
    return os.path.join(ocf_root, "resource.d", provider, agent)


def _bad_file_name(name: str) -> bool:
    return not name or "/" in name or name in (".", "..") or not name.isprintable()


def parse_ocf(text: str) -> OcfResource | str:
    """`text` (starting with `ocf:`) as an OcfResource, or the reason it is wrong."""
    head, *parts = text.split("::")
    fields = head.split(":")
    if len(fields) != 3:
        return f"an OCF resource is {SYNTAX}"
    _, provider, agent = fields
    for what, name in (("provider", provider), ("agent", agent)):
        if _bad_file_name(name):
            return f"bad OCF {what} name '{shown(name)}' ({SYNTAX})"
    params: list[tuple[str, str]] = []
    for part in parts:
        param = _parameter(part, params)
        if isinstance(param, str):
            return param
        params.append(param)
    return OcfResource(provider, agent, tuple(params), text)


def _parameter(part: str, earlier: list[tuple[str, str]]) -> tuple[str, str] | str:
    """One `NAME=VALUE`, or the reason it is wrong."""
    name, eq, value = part.partition("=")
    problem = None
    if not eq:
        problem = f"parameter '{shown(part)}': not NAME=VALUE ({SYNTAX})"
    elif not _PARAM_NAME.fullmatch(name):
        problem = f"parameter '{shown(name)}': not a parameter name (letters, digits, _)"
    elif not value:
        problem = f"parameter {name}: empty value (leave it out to get the agent's default)"
    elif not value.isprintable():
        problem = f"parameter {name}: value with control characters"
    elif any(name == seen for seen, _ in earlier):
        problem = f"parameter {name}: given twice"
    return (name, value) if problem is None else problem

def ocf_environment(
    base: dict[str, str],
    *,
    provider: str,
    agent: str,
    instance: str,
    params: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    ocf_root: str = OCF_ROOT,
) -> dict[str, str]:
    """The environment an OCF agent runs with (OCF resource agent API, "Environment").

    `base` (the daemon's own environment: PATH, LANG) minus any OCF_ variable it happens to
    carry, so nothing but haresources decides a parameter; then OCF_ROOT, the API version,
    the instance and type, one `OCF_RESKEY_NAME` per parameter, and the action's timeout in
    milliseconds as Pacemaker passes it (`OCF_RESKEY_CRM_meta_timeout`: agents that wait
    for something, e.g. apache's start, size their waits by it).
    """
    env = {key: value for key, value in base.items() if not key.startswith("OCF_")}
    env.update({
        "OCF_ROOT": ocf_root,
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "0",
        "OCF_RESOURCE_INSTANCE": instance,
        "OCF_RESOURCE_TYPE": agent,
        "OCF_RESOURCE_PROVIDER": provider,
    })
    env.update({f"OCF_RESKEY_{name}": value for name, value in params})
    if timeout is not None:
        env["OCF_RESKEY_CRM_meta_timeout"] = str(round(timeout * 1000))
    return env


def instance_name(resource: OcfResource) -> str:
    """OCF_RESOURCE_INSTANCE for an `ocf:` resource: the agent and a hash of the text.

    Agents name state files after it, so it must be the same on both nodes and across
    restarts, and differ between two resources of one agent; the text as written is all of
    that (Pacemaker uses the resource id, which haresources does not have).
    """
    digest = hashlib.sha256(resource.text.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{resource.agent}_{digest[:8]}"
