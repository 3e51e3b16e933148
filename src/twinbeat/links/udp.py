"""UDP link driver: ha.cf `bcast IFACE`, `ucast IFACE PEER`, `mcast IFACE GROUP PORT TTL LOOP`.

Owns one socket per link, bound to its interface (`SO_BINDTODEVICE`, as Debian's heartbeat
build does) so a frame is counted on the cable it really crossed. Frames are opaque bytes
here. A missing or downed interface never crashes the daemon: the link reports `up = False`
and retries every `RETRY_DELAY` while the other links carry the cluster.

Semantics follow heartbeat's HBcomm plugins (reference §5.1-5.3): bcast sends to the
interface's broadcast address on `udpport`; ucast sends to the peer on `udpport` and ignores
a peer that is one of our own addresses (a shared ha.cf lists both nodes); mcast uses the port
from its own line and joins the group on that interface only.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct

import trio
from pyroute2.iproute.linux import IPRoute  # a submodule: daemon/lean.py

from twinbeat.config.model import Bcast, Link, Mcast, Serial, Ucast, UdpMedium
from twinbeat.links import Carrier, Deliver, ownfilter
from twinbeat.links.admission import UNPROVEN_SAMPLE, SourceBudget
from twinbeat.links.carrier import NicCarrier
from twinbeat.links.iface import IfaceInfo, LinkUnavailableError, lookup, own_addresses
from twinbeat.links.stats import MAX_RECEIVE, LinkStats

log = logging.getLogger("twinbeat.links")

RETRY_DELAY = 1.0  # seconds between attempts to open a missing/down interface
CHECK_INTERVAL = 1.0  # seconds between checks that an open interface is still there and up
# ...when the interface's rtnetlink events are watched (`carrier`): each event that names it
# starts a check at once, so the timer is only a safety net (issue #17: a pyroute2 lookup a
# second was 3 % of an idle daemon's CPU at a 10 ms keepalive).
WATCHED_CHECK_INTERVAL = 30.0
# How soon after such an event: the event's carrier report reaches the core first (a
# lookup blocks the loop for a millisecond or more while the kernel is busy with the
# change, and a power loss is taken over within milliseconds), and reopening sooner buys
# nothing a frame could use.
CHECK_AFTER_EVENT = 0.05
IPTOS_LOWDELAY = 0x10
# errno values that mean "this interface cannot carry traffic now": reopen, do not crash.
_LINK_GONE = {errno.ENETDOWN, errno.ENODEV, errno.ENXIO, errno.ENETUNREACH}



def _udp_medium(link: Link) -> UdpMedium:
    match link.medium:
        case Bcast() | Ucast() | Mcast():
            return link.medium
        case Serial():
            raise TypeError(f"link {link.name} is a serial line, not a UDP medium")


# Datagrams read per wake-up before yielding to the other tasks.
DRAIN_BATCH = 128
# Under a flood (the socket never empties) this link reads for FLOOD_BURST at most, then lets
# the process sleep for FLOOD_PAUSE: see `_receive`.
FLOOD_BURST = 0.004
FLOOD_PAUSE = 0.001


class UdpLink:
    """One UDP medium from ha.cf. See the module docstring for the behaviour."""

    def __init__(self, link: Link, udpport: int) -> None:
        """`link` is a bcast, ucast or mcast link of ha.cf; `udpport` is ha.cf's udpport."""
        self.name = link.name
        self.link_id = link.link_id
        self.medium = _udp_medium(link)
        self.iface = self.medium.iface
        # mcast carries its own port (ha.cf: mcast IFACE GROUP PORT TTL LOOP)
        self.port = self.medium.port if isinstance(self.medium, Mcast) else udpport
        self.up = False
        self.stats = LinkStats()
        self._sock: socket.socket | None = None
        self._index: int | None = None
        self._destinations: tuple[str, ...] = ()
        self._why_down: str | None = None
        self._opened_once = False
        self.budget = SourceBudget()  # which sources' datagrams are worth a MAC check
        self._own: list[str] = []  # our addresses a bcast socket hears itself from
        self._filter_failed = False
        self._check_interval = CHECK_INTERVAL
        self._check_scope: trio.CancelScope | None = None  # waiting for the next check

    # -- public API --------------------------------------------------------------------

    async def run(
        self, deliver: Deliver, *, carrier: Carrier | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Open the link, then receive until cancelled, reopening whenever it is lost.

        `task_status.started()` is called after the first open attempt, successful or not,
        so the daemon can start even if this interface is missing. With `carrier`, the
        interface's carrier is watched too (links/carrier.py: rtnetlink events) and reported
        as `carrier(name, up)`: its state at start, then every change.
        """
        async with trio.open_nursery() as nursery:
            if carrier is not None:
                name = self.name
                watch = NicCarrier(self.iface, lambda up: carrier(name, up), self._check_soon)
                self._check_interval = WATCHED_CHECK_INTERVAL
                await nursery.start(watch.run)
            await self._serve(deliver, task_status)

    async def _serve(self, deliver: Deliver, task_status: trio.TaskStatus[None]) -> None:
        started = False
        with IPRoute() as ipr:
            try:
                while True:
                    try:
                        self._open(ipr)
                    except (LinkUnavailableError, OSError) as exc:
                        self._set_down(str(exc))
                    if not started:
                        task_status.started()
                        started = True
                    if self._sock is None:
                        await trio.sleep(RETRY_DELAY)
                        continue
                    try:
                        await self._receive(ipr, deliver)
                    finally:
                        self._close()
            finally:
                self._close()

    def counters(self) -> dict[str, int]:
        """This driver's own counters, for `twinbeat status` (what the core never sees)."""
        return self.stats.as_dict()

    def send(self, data: bytes) -> bool:
        """Queue one datagram per destination without ever blocking; False if dropped."""
        sock = self._sock
        if sock is None or not self.up or not self._destinations:
            self.stats.send_errors += 1
            return False
        ok = False
        for dest in self._destinations:
            try:
                sock.sendto(data, socket.MSG_DONTWAIT, (dest, self.port))
                ok = True
            except BlockingIOError:
                pass  # kernel buffer full: a late heartbeat is worthless, drop it
            except OSError as exc:
                if exc.errno in _LINK_GONE:
                    self._set_down(f"send: {exc.strerror}")
        if ok:
            self.stats.sent += 1
        else:
            self.stats.send_errors += 1
        return ok

    # -- opening -----------------------------------------------------------------------

    def _open(self, ipr: IPRoute) -> None:
        info = lookup(ipr, self.iface)
        if not info.up:
            raise LinkUnavailableError(f"interface {self.iface} is down")
        destinations = self._resolve_destinations(ipr, info)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_LOWDELAY)
            match self.medium:
                case Bcast():
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    sock.bind(("0.0.0.0", self.port))
                    self._own = [address for address, _prefix, _brd in info.addresses]
                case Ucast():
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                    sock.bind(("0.0.0.0", self.port))
                case Mcast():
                    self._setup_mcast(sock, info, self.medium)
                    sock.bind((self.medium.group, self.port))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._index = info.index
        self._destinations = destinations
        if isinstance(self.medium, Ucast):  # ha.cf names the peer's address: trust it at once
            for address in destinations:
                self.budget.authentic(address, trio.current_time())
        self._refilter()
        self.up = True
        if self._opened_once:
            self.stats.reopens += 1
        self._opened_once = True
        self._why_down = None
        log.info("link %s up (%s to %s port %d)", self.name, type(self.medium).__name__.lower(),
                 ",".join(destinations) or "nobody", self.port)

    def _refilter(self) -> None:
        """Have the kernel drop our own broadcasts (they come back to a bcast socket) and
        sample other sources once one is proven (links/ownfilter.py); called at open and
        when a new source proves itself. Without it they cost CPU, nothing else."""
        if self._sock is None:
            return
        try:
            ownfilter.attach(self._sock, self._own, list(self.budget.proven), UNPROVEN_SAMPLE)
        except OSError as exc:
            if not self._filter_failed:
                log.info("link %s: no kernel filter: %s", self.name, exc.strerror)
            self._filter_failed = True

    def _resolve_destinations(self, ipr: IPRoute, info: IfaceInfo) -> tuple[str, ...]:
        match self.medium:
            case Bcast():
                return (info.broadcast(),)
            case Mcast(group=group):
                return (group,)
            case Ucast(peers=peers):
                own = own_addresses(ipr)
                others = tuple(p for p in peers if p not in own)
                if not others:
                    # `ucast eth1 <our own address>`: heartbeat sends to itself and drops the
                    # copies as duplicates; we send nothing and never steal the port's datagrams.
                    raise LinkUnavailableError(
                        f"ucast {self.iface}: every peer is one of our addresses")
                return others

    def _setup_mcast(self, sock: socket.socket, info: IfaceInfo, medium: Mcast) -> None:
        group = socket.inet_aton(medium.group)
        # struct ip_mreqn {imr_multiaddr, imr_address, imr_ifindex}: join on this NIC only.
        mreqn = struct.pack("4s4si", group, socket.inet_aton("0.0.0.0"), info.index)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        if_mreqn = struct.pack("4s4si", socket.inet_aton("0.0.0.0"),
                               socket.inet_aton("0.0.0.0"), info.index)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, if_mreqn)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, medium.ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(medium.loop))

    # -- receiving ---------------------------------------------------------------------

    async def _receive(self, ipr: IPRoute, deliver: Deliver) -> None:
        """Deliver datagrams until the interface vanishes, goes down, or changes index."""
        sock = self._sock
        assert sock is not None
        next_check = trio.current_time() + self._check_interval
        rested = trio.current_time()  # when the process last had nothing to read here
        while True:
            # One cancel scope per check interval, not per datagram (issue #17: the receive
            # path is most of an idle daemon's work at a 10 ms keepalive).
            with trio.move_on_at(next_check) as self._check_scope:
                while True:
                    await trio.lowlevel.wait_readable(sock)
                    if not self._drain(sock, deliver):
                        rested = trio.current_time()
                    elif trio.current_time() - rested >= FLOOD_BURST:
                        # Flooded: the socket never empties, so this task would keep the
                        # process on the CPU for good, and under `realtime on` starve what
                        # the other links need from the kernel (a serial line's bytes reach
                        # us through a kernel worker thread). In bench/flood.py without this
                        # pause the cable's worst gap was 80-90 ms, with it 40-50 ms. The
                        # kernel drops what the socket cannot hold meanwhile, junk and real.
                        await trio.sleep(FLOOD_PAUSE)
                        rested = trio.current_time()
            self._check_scope = None
            next_check = trio.current_time() + self._check_interval
            if not self._still_usable(ipr):
                return

    def _check_soon(self) -> None:
        """Check the interface soon (CHECK_AFTER_EVENT), not at the next interval: an
        rtnetlink event named it."""
        if self._check_scope is not None:
            self._check_scope.deadline = min(self._check_scope.deadline,
                                             trio.current_time() + CHECK_AFTER_EVENT)

    def _drain(self, sock: socket.socket, deliver: Deliver) -> bool:
        """Deliver up to DRAIN_BATCH datagrams; True when that many were read (more wait)."""
        # Bounded, so a flood on the port (hostile or not) cannot keep this task from yielding
        # to the core loop, which must go on sending heartbeats; the next wait_readable yields.
        # `deliver` refuses junk there and then (engine.py): under a flood this loop is the
        # daemon's whole cost, a recv and one codec call per datagram.
        for _ in range(DRAIN_BATCH):
            try:
                # One byte over the limit tells an oversize datagram (the kernel truncates the
                # rest); a bigger buffer is allocated per datagram and costs under a flood.
                data, source = sock.recvfrom(MAX_RECEIVE + 1)
            except BlockingIOError:
                return False
            except OSError as exc:  # e.g. ENETDOWN reported on the socket: reopen soon
                self._set_down(f"receive: {exc.strerror}")
                return False
            if len(data) > MAX_RECEIVE:
                self.stats.oversize_dropped += 1
                continue
            now = trio.current_time()
            if not self.budget.admit(source[0], now):
                self.stats.unproven_dropped += 1
                continue
            self.stats.received += 1
            if deliver(self.name, data):
                known = source[0] in self.budget.proven
                self.budget.authentic(source[0], now)
                if not known:
                    self._refilter()
        return True

    def _still_usable(self, ipr: IPRoute) -> bool:
        try:
            info = lookup(ipr, self.iface)
        except LinkUnavailableError as exc:
            self._set_down(str(exc))
            return False
        if info.index != self._index:
            self._set_down(f"interface {self.iface} was recreated")
            return False
        if not info.up:
            self._set_down(f"interface {self.iface} is down")
            return False
        # A send error may have marked us down while the interface looks fine: reopen.
        return self.up

    def _set_down(self, why: str) -> None:
        if why != self._why_down:  # log transitions, not every retry
            log.warning("link %s down: %s", self.name, why)
            self._why_down = why
        self.up = False
        if self._check_scope is not None:  # reopen within CHECK_INTERVAL, as unwatched
            self._check_scope.deadline = min(self._check_scope.deadline,
                                             trio.current_time() + CHECK_INTERVAL)

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        self.up = False
        if sock is not None:
            trio.lowlevel.notify_closing(sock)
            sock.close()
