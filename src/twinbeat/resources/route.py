"""One netlink route socket an agent keeps open from one operation to the next.

pyroute2's sync `IPRoute` builds a netlink socket and an asyncio event loop of its own each
time it is opened, and closes both again: about 0.7 ms on the lab's machine, paid before
every takeover's address add (issue #17: a power loss is taken over in the milliseconds the
survivor's start takes) and at every monitor check. `KeptRoute` opens it on first use and
keeps it. A request the kernel refuses (`NetlinkError`: EEXIST, EADDRNOTAVAIL...) leaves the
socket as good as it was; any other error closes it, and the next use opens a fresh one, so a
broken socket costs one failed operation, never the next.

Never used by two callers at once: the agents' netlink calls are synchronous within one trio
thread (a call blocks the loop well under a millisecond, DESIGN.md §9), so no call interleaves
with another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyroute2.iproute.linux import IPRoute  # a submodule: daemon/lean.py
from pyroute2.netlink.exceptions import NetlinkError


class KeptRoute:
    """A lazily opened `IPRoute`, kept open until an error other than the kernel's answer."""

    def __init__(self) -> None:
        self._ipr: IPRoute | None = None

    @contextmanager
    def use(self) -> Iterator[IPRoute]:
        """The open socket (opened now if need be); closed if the block fails but for a
        `NetlinkError`, which is the kernel's answer to one request."""
        if self._ipr is None:
            self._ipr = IPRoute()
        try:
            yield self._ipr
        except NetlinkError:
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        ipr, self._ipr = self._ipr, None
        if ipr is not None:
            ipr.close()
