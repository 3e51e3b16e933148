"""Link drivers: move opaque frames between this node and its peer.

`udp.UdpLink` (ha.cf `bcast`/`ucast`/`mcast`) and `serial.SerialLink` (ha.cf `serial`) share one
shape: `run(deliver, task_status=...)`, `send(data) -> bool`, `name`, `link_id`, `up`, `stats`.
They never look inside a frame (that is `twinbeat.wire` and the core) and never block the loop.
"""

from twinbeat.links.stats import LinkStats

__all__ = ["LinkStats"]
