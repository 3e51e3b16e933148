"""ha.cf's `respawn USER /PATH [ARGS...]`: heartbeat's managed client children.

heartbeat started each `respawn` program as USER when it started, restarted it whenever it
exited (unless it exited 100, or too fast: heartbeat.c's ManagedChildDied) and stopped it at
shutdown. twinbeat does the same (daemon/respawn.py; the restart rule is core/respawn.py).

Two kinds of line are not run, each with a warning that says why: heartbeat's own API
clients (`ipfail`, `ccm`, ...) talk to heartbeat over its client API, which twinbeat does not
have; run under twinbeat they would fail at once and be respawned until the rate limit gave
up. The usual one, `respawn hacluster /usr/lib/heartbeat/ipfail`, is what a heartbeat v1
cluster carries, and its job (do not hold the groups where the ping nodes are out of reach)
is twinbeat's built-in ping guard (docs/ping.md), so an unchanged /etc/ha.d still loads.

`parse_respawn` is the ha.cf handler's work (pure); `check_respawn` is what the loader asks
of this machine (heartbeat's "Invalid uid" and "is not executable" checks), so that a
`respawn` line that cannot run refuses the start, the reload and `twinbeat check` alike.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Sequence

from twinbeat.config.messages import Report, shown
from twinbeat.config.model import Respawn

# heartbeat's API clients, by program name: what each was for under heartbeat.
HEARTBEAT_CLIENTS: dict[str, str] = {
    "ipfail": "ping nodes replace ipfail (docs/ping.md)",
    "ccm": "the consensus membership of heartbeat's Pacemaker stack",
    "crmd": "Pacemaker",
    "cib": "Pacemaker",
    "attrd": "Pacemaker",
    "stonithd": "Pacemaker",
    "pingd": "Pacemaker",
    "mgmtd": "heartbeat's GUI",
    "hbagent": "heartbeat's SNMP agent",
    "dopd": "DRBD's outdate-peer daemon over heartbeat's API",
}


def parse_respawn(args: Sequence[str], line: int) -> Respawn | str:
    """The `respawn` line's `Respawn`, or the problem in words (an error)."""
    if len(args) < 2:
        return "respawn: needs a user and an absolute command path"
    user, command, *rest = args
    if not command.startswith("/"):
        return f"respawn: client child command {shown(command)} is not a full pathname"
    return Respawn(user=user, command=command, args=tuple(rest), line=line)


def heartbeat_client(respawn: Respawn) -> str | None:
    """Why this line is heartbeat's own API client and is not run, or None."""
    name = os.path.basename(respawn.command)
    purpose = HEARTBEAT_CLIENTS.get(name)
    if purpose is None:
        return None
    return (f"respawn: {shown(respawn.command)} is a heartbeat API client, which cannot run "
            f"without heartbeat's client API: not started ({purpose})")


def check_respawn(respawns: Sequence[Respawn], path: str, report: Report) -> None:
    """heartbeat's checks of a client child on this machine: the user exists, the program is
    an executable file. Each failure is an error on the line's `path:line`."""
    for respawn in respawns:
        try:
            pwd.getpwnam(respawn.user)
        except KeyError:
            report.error(path, respawn.line, f"respawn: invalid user {shown(respawn.user)} "
                                             "(no such user on this machine)")
        command = respawn.command
        if not os.path.isfile(command) or not os.access(command, os.X_OK):
            report.error(path, respawn.line, f"respawn: client child command {shown(command)} "
                                             "is not executable")
