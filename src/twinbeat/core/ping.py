"""This node's view of its ping nodes (`PingGuard`): whether it may still be reachable from
the clients' side, as heartbeat's ipfail decides it.

A node that reaches none of its ping nodes is probably the isolated one, so it acquires
nothing (groups.py reads `ok`), and it says so in its heartbeat's flags, which the peer
reads the same way. Without ping nodes every check passes. Must not import I/O.
"""

from __future__ import annotations

from .errors import CoreMisuse
from .events import Action, Log
from .params import Params
from .states import NODE_FLAG_PING_CONFIGURED, NODE_FLAG_PING_OK


class PingGuard:
    """The ping nodes' reachability, from the pinger's `PingReachability` reports."""

    def __init__(self, params: Params) -> None:
        self._configured = params.ping_configured
        self.ok = True  # until told otherwise
        self._ever = params.ping_configured  # a reload may drop ping nodes: late reports

    def check(self) -> None:
        """`CoreMisuse` for a report when no ping node was ever configured."""
        if not self._ever:
            raise CoreMisuse("PingReachability without ping nodes configured")

    def report(self, reachable: bool, out: list[Action]) -> None:
        if reachable == self.ok or not self._configured:
            return  # unchanged, or a late report of ping nodes a reload removed
        self.ok = reachable
        if reachable:
            out.append(Log("info", "Ping nodes reachable again"))
        else:
            out.append(Log("warning", "No ping node reachable: this node may be isolated; "
                                      "not acquiring resource groups"))

    def reconfigure(self, params: Params) -> None:
        self._ever = self._ever or params.ping_configured
        if params.ping_configured != self._configured:
            self.ok = True  # new ping nodes: reachable until the pinger says otherwise
        self._configured = params.ping_configured

    def may_act(self) -> bool:
        """Whether this node may act on the peer (fence it): not while it looks isolated."""
        return self.ok or not self._configured

    def flags(self) -> int:
        """The node flags it contributes to our heartbeat."""
        if not self._configured:
            return 0
        return NODE_FLAG_PING_CONFIGURED | (NODE_FLAG_PING_OK if self.ok else 0)
