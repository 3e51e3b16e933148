"""The states, words and timers of r1.py (heartbeat 3.0.6's resource negotiation).

Names and values are heartbeat's (hb_resource.c, reference §6): its resource states, its
standby states, its set words and hold bits, its timers. Must not import anything doing I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .hbsession import Fields
from .states import GroupLocal

RQSTDELAY = 10.0  # s: heartbeat's wait for a stable peer before taking local groups
STANDBY_REPLY = 10.0  # s: heartbeat's STANDBY_INIT_TO_MS
STANDBY_LIMIT = 3600.0  # s: heartbeat's HB_STANDBY_RSC_TO_MS
SETS = ("none", "local", "foreign", "all")  # heartbeat's words; the index is the bits
LOCAL, FOREIGN, ALL = 1, 2, 3
# The taker's bits after a standby of `set` (said by the node going standby): its local
# groups are the taker's foreign ones (heartbeat's `rup`).
TAKER_BITS = {"local": FOREIGN, "foreign": LOCAL, "all": ALL}
CLAIMED = frozenset({GroupLocal.CLAIMING, GroupLocal.STARTING, GroupLocal.HELD,
                     GroupLocal.RESTARTING})


class RState(enum.Enum):
    INIT = "init"
    STARTING = "starting"
    BOTHSTARTING = "bothstarting"
    RSCRCVD = "rscrcvd"
    STABLE = "stable"
    SHUTDOWN = "shutdown"


class Standby(enum.Enum):
    NOT = "not"
    ME = "me"  # we go standby
    OTHER = "other"  # the peer goes standby
    DONE = "done"


@dataclass
class Job:
    """Group starts or stops under way, and what to say when they are all done."""

    indices: frozenset[int]
    acquire: bool
    then: tuple[Fields, ...]  # messages to send once done
    standby: Standby | None = None  # the standby state to move to once done
    log: str | None = None  # the line to log once done


def bits_of(word: str | None) -> int:
    """heartbeat's set word as hold bits; absent means all, an unknown word none (heartbeat's
    encode_resources)."""
    if word is None:
        return ALL
    return SETS.index(word) if word in SETS else 0
