"""Resource agents: bring a haresources resource up, down, report whether it is held, check it.

`ipaddr.IPaddrAgent` (IPaddr/IPaddr2, via pyroute2 + gratuitous ARP from `garp`),
`script.ScriptAgent` (resource.d, heartbeat's classic names as OCF agents, init.d, systemd),
`ocf.OcfAgent` (`ocf:PROVIDER:AGENT::NAME=VALUE`) and `group.GroupRunner` (one haresources
line, ordered; restart in place). Every agent has `start`, `stop`, `status`, `announce`,
`monitor` (a `health.Check`) and raises `AgentError`; programs run through `process.py`.
The group runner turns anything else an agent raises into an `AgentError` naming the
resource, so the daemon sees only `AgentError` (and trio's cancellation).
Turning results into core events is the daemon's job.
"""

from twinbeat.resources.errors import AgentError, RollbackFailedError

__all__ = ["AgentError", "RollbackFailedError"]
