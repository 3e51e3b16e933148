"""`metrics ADDRESS:PORT` (twinbeat's own): where the Prometheus endpoint listens.

Off unless given. ADDRESS is a literal, never a name (binding to a name would need a lookup,
and the endpoint must not depend on DNS): an IPv4 address, or an IPv6 one in brackets
(`[2001:db8::1]:9694`, `[::]:9694`; a link-local one with its interface, `[fe80::1%eth0]`).
`0.0.0.0` and `[::]` listen on every address of the node.

The same ha.cf goes on both nodes, so the directive may be given several times (at most
MAX_ENDPOINTS): a line per node's management address. Each node serves every endpoint it
can bind; an address it does not have is retried later and logged (daemon/metrics.py).

Pure: no socket is opened here. This module must not import the parsers or the model's users.
"""

from __future__ import annotations

import ipaddress

from twinbeat.config.hacf_state import HaCfState
from twinbeat.config.messages import shown
from twinbeat.config.model import MetricsEndpoint
from twinbeat.config.values import parse_int

MAX_ENDPOINTS = 4
USAGE = "needs ADDRESS:PORT, e.g. 127.0.0.1:9694 or [::1]:9694"


def parse_endpoint(token: str) -> MetricsEndpoint | str:
    """`ADDRESS:PORT` as an endpoint, or the reason it is not one."""
    if token.startswith("["):
        host, sep, port = token[1:].partition("]:")
        if not sep:
            return USAGE
        problem = _ipv6_problem(host)
    else:
        host, sep, port = token.rpartition(":")
        if not sep or not host:
            return USAGE
        if ":" in host:
            return f"put an IPv6 address in brackets: [{shown(host)}]:{shown(port)}"
        problem = _ipv4_problem(host)
    if problem is not None:
        return problem
    number = parse_int(port, 1, 65535)
    if number is None:
        return f"bad port {shown(port)} (1-65535)"
    return MetricsEndpoint(host, number)


def _ipv4_problem(host: str) -> str | None:
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return f"bad IPv4 address {shown(host)} (a literal address, not a name)"
    if address.is_multicast or host == "255.255.255.255":
        return f"{host} cannot be listened on"
    return None


def _ipv6_problem(host: str) -> str | None:
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return f"bad IPv6 address {shown(host)}"
    if address.is_multicast:
        return f"{host} cannot be listened on"
    if address.is_link_local and not address.scope_id:
        return f"a link-local IPv6 address needs its interface ([{host}%eth0])"
    return None


def d_metrics(state: HaCfState, args: list[str], line: int) -> None:
    """One `metrics ADDRESS:PORT` line (module docstring)."""
    token = state.one("metrics", args, line)
    if token is None:
        return
    endpoint = parse_endpoint(token)
    if isinstance(endpoint, str):
        state.error(line, f"metrics {shown(token)}: {endpoint}")
        return
    if endpoint in state.metrics:
        state.error(line, f"metrics {shown(token)}: given twice")
    elif len(state.metrics) >= MAX_ENDPOINTS:
        state.error(line, f"metrics {shown(token)}: at most {MAX_ENDPOINTS} endpoints")
    else:
        state.metrics.append(endpoint)
