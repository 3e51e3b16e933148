"""Resource agents: bring a haresources resource up, down, and report whether it is held.

`ipaddr.IPaddrAgent` (IPaddr/IPaddr2, via pyroute2 + gratuitous ARP from `garp`),
`script.ScriptAgent` (resource.d, init.d, systemd) and `group.GroupRunner` (one haresources
line, ordered). Every agent has `start`, `stop`, `status`, `announce` and raises
`AgentError`; the group runner turns anything else an agent raises into an `AgentError`
naming the resource, so the daemon sees only `AgentError` (and trio's cancellation).
Turning results into core events is the daemon's job.
"""

from twinbeat.resources.errors import AgentError, RollbackFailedError

__all__ = ["AgentError", "RollbackFailedError"]
