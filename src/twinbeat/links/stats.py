"""Per-link counters shown to the operator (like keepalived's per-instance statistics).

Drivers count what they drop instead of logging every bad packet, so a noisy cable cannot
flood the log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class LinkStats:
    """Counters of one link since the daemon started (they survive reopens)."""

    sent: int = 0
    send_errors: int = 0  # dropped sends: link down, kernel buffer full, partial serial write
    received: int = 0  # datagrams/frames handed to `deliver`
    oversize_dropped: int = 0  # received units longer than MAX_RECEIVE
    reopens: int = 0  # successful (re)opens after the first one
    unproven_dropped: int = 0  # datagrams of unproven sources over their budget (admission.py)

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "send_errors": self.send_errors,
            "received": self.received,
            "oversize_dropped": self.oversize_dropped,
            "reopens": self.reopens,
            "unproven_dropped": self.unproven_dropped,
        }


# Frames are at most 256 bytes (docs/protocol.md); anything past this is not ours.
MAX_RECEIVE = 512
