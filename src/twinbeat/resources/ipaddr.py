"""IPaddr/IPaddr2/IPv6addr agent: add or remove a virtual IPv4 or IPv6 address, and
announce it (gratuitous ARP for IPv4, unsolicited neighbour advertisements for IPv6).

Owns one haresources `IPaddr::VIP[/PREFIX[/IFACE[/BROADCAST]]]` resource (or its IPv6 forms,
config/ipv6.py). It works through
pyroute2's sync `IPRoute` in the daemon's own network namespace (never the `ip` command),
kept open from one operation to the next (resources/route.py); a netlink call blocks the
loop well under a millisecond (DESIGN.md §9). Where the address goes is resources/vipplan.py's;
a standby works it out ahead (its probe, and after each stop) for a resource that names its
interface and prefix, so that a takeover's first request is the add itself and its first GARP
follows at once (issue #17). A plan the kernel refuses (the interface was made again) is made
again, and one whose label another group took meanwhile is not used.

Choices, following heartbeat's IPaddr script (reference §6.1-6.2):
- Interface and prefix, when not given, come from the interface address whose network
  contains the VIP; if there is none the start fails (heartbeat: "unable to find an
  interface"), because guessing a /32 would silently break replies.
- Label `<iface>:<n>`: heartbeat's IPaddr made `eth0:0`-style aliases, so admins' `ifconfig`
  habits and scripts keep working. When the name would exceed the kernel's 15 characters
  (IFNAMSIZ-1, ERANGE) the address is added without a label rather than failing.
- Gratuitous ARP: the first request+reply pair goes out before `start` returns; the rest of a
  burst of `garp_count` runs in the background `garp_interval` apart (heartbeat: 10 at 500 ms),
  and a second burst follows `garp_repeat_after` seconds later (keepalived's habit: switches
  that missed the first burst while relearning get another). `announce()` repeats this.
- IPv6: the same bursts, of unsolicited neighbour advertisements (resources/ndisc.py). The
  address is added with IFA_F_NODAD: usable at once, like an IPv4 VIP. Duplicate Address
  Detection would hold it "tentative" for a second or more (unusable: no answers, no NA
  from it), which is the whole failover budget, and would fail the takeover exactly when a
  stale holder still answers for the address: the case the advertisement's Override flag
  exists to fix. Only one node holds a group (the core's claim and ack, and fencing), as
  for IPv4, which has no DAD either. IPv6 addresses have no label and no broadcast.
- No gratuitous ARP where there is no ARP: an interface flagged NOARP (`ip link set arp off`),
  or one without an Ethernet address (tun, ipip, loopback), still gets the address, and the
  skipped announcement is logged at info (nothing is wrong: there are no neighbour caches to
  update). heartbeat's send_arp failed loudly there; keepalived skips such interfaces too.
- Removal is idempotent: an address already gone (EADDRNOTAVAIL) or a vanished interface
  (ENODEV) counts as stopped. Heartbeat requires stop to succeed on a stopped resource.
- Netlink errors and system errors (EMFILE from `IPRoute()`) are AgentErrors naming the
  resource; the group runner turns anything else into one too.
- The monitor's check (`monitor`): the address is configured (on its interface, when the
  resource names one), and that interface is up (IFF_UP) with carrier (IFLA_CARRIER, else
  IFF_LOWER_UP). An address that vanished is NOT_RUNNING (a restart puts it back); one on a
  downed or unplugged NIC is FAILED: after `migration_threshold` of those the core moves the
  group to the peer, whose LAN may be fine (what heartbeat needed ipfail for).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from typing import Any

import trio
from pyroute2.iproute.linux import IPRoute  # a submodule: daemon/lean.py
from pyroute2.netlink.exceptions import NetlinkError

from twinbeat.config.model import IPaddrResource
from twinbeat.resources.errors import AgentError
from twinbeat.resources.garp import GarpSender, arp_address
from twinbeat.resources.health import OK, Check, Health
from twinbeat.resources.ndisc import NaSender
from twinbeat.resources.route import KeptRoute
from twinbeat.resources.vipplan import Ready, VipPlanner, held_elsewhere, hold_label, release_label

log = logging.getLogger("twinbeat.resources")

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000


class IPaddrAgent:
    """Hold one virtual IPv4 or IPv6 address; see the module docstring for the policy."""

    def __init__(
        self,
        resource: IPaddrResource,
        *,
        nursery: trio.Nursery | None = None,
        garp_count: int = 10,
        garp_interval: float = 0.5,
        garp_repeat_after: float = 5.0,
    ) -> None:
        self.resource = resource
        self.text = resource.text
        self.address = resource.address
        self._family = socket.AF_INET6 if resource.ipv6 else socket.AF_INET
        self._what = "unsolicited NA" if resource.ipv6 else "gratuitous ARP"
        self._nursery = nursery
        self.garp_count = max(1, garp_count)
        self.garp_interval = garp_interval
        self.garp_repeat_after = garp_repeat_after
        self._garp: GarpSender | NaSender | None = None  # announcing with it now
        self._sender_kept: GarpSender | NaSender | None = None  # open from one start to the next
        self._garp_scope: trio.CancelScope | None = None
        self._route = KeptRoute()  # open from one operation to the next (resources/route.py)
        self._where = VipPlanner(resource, self._family)  # where the address goes
        self._ready: Ready | None = None  # where the next start adds the address (`_prepare`)
        self._label: Ready | None = None  # how the address held here was added (its label)

    # -- public API --------------------------------------------------------------------

    async def start(self) -> None:
        """Add the address (EEXIST = already ours: still announce) and start announcing it.

        Prepared (`_prepare`), the add is the first netlink request and the first GARP goes
        out from the MAC seen then, checked right after (issue #17: a takeover's critical
        path). A prepared add the kernel refuses is planned again from scratch."""
        ready, self._ready = self._ready, None
        if ready is not None and held_elsewhere(ready):
            ready = None  # another group's address took that label since
        prepared = ready is not None
        try:
            with self._route.use() as ipr:
                if ready is None or not self._add(ipr, ready, prepared=True):
                    ready = self._where.plan(ipr)
                    self._add(ipr, ready, prepared=False)
        except (NetlinkError, OSError) as exc:
            raise AgentError(f"{self.text}: netlink: {_why(exc)}") from exc
        self._label = ready
        hold_label(ready)
        self._start_announcing(ready.ifname, ready.link, raise_errors=False)
        if prepared:
            self._recheck_link(ready)

    def _add(self, ipr: IPRoute, ready: Ready, *, prepared: bool) -> bool:
        """Add as `ready` says; False if a prepared add was refused (plan it again)."""
        prefixlen, ifname, label = ready.request["prefixlen"], ready.ifname, ready.label
        try:
            ipr.addr("add", **ready.request)
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:
                log.info("%s: %s already on %s", self.text, self.address, ifname)
                return True
            if prepared:
                log.debug("%s: prepared add refused (%s): planning again", self.text,
                          exc.args[-1])
                return False
            raise AgentError(f"{self.text}: cannot add {self.address}/{prefixlen} "
                             f"on {ifname}: {exc.args[-1]}") from exc
        log.info("%s: added %s/%d on %s%s", self.text, self.address, prefixlen, ifname,
                 f" ({label})" if label else "")
        return True

    def _prepare(self, ipr: IPRoute) -> None:
        """Work out where the next start adds the address, while nothing waits for it: on a
        resource that names its interface and prefix (nothing else that could go stale)."""
        self._ready = None
        if self.resource.iface and self.resource.prefixlen is not None:
            with contextlib.suppress(AgentError, NetlinkError):
                self._ready = self._where.plan(ipr)

    def _recheck_link(self, ready: Ready) -> None:
        """After a prepared start's first GARP: if the interface's MAC changed since it was
        prepared, announce again from the new one (the last GARP is the one caches keep)."""
        try:
            with self._route.use() as ipr:
                link = ipr.get_links(ready.request["index"])[0]
        except (NetlinkError, OSError) as exc:
            log.warning("%s: cannot check %s after the add: %s", self.text, ready.ifname,
                        _why(exc))
            return
        if arp_address(link) != arp_address(ready.link):
            self._start_announcing(ready.ifname, link, raise_errors=False)

    async def stop(self) -> None:
        """Stop announcing and remove the address wherever it is; already gone is fine."""
        self._stop_announcing()
        try:
            with self._route.use() as ipr:
                for msg in self._held(ipr):
                    try:
                        ipr.addr("del", index=msg["index"], address=self.address,
                                 prefixlen=msg["prefixlen"])
                        log.info("%s: removed %s", self.text, self.address)
                    except NetlinkError as exc:
                        if exc.code not in (errno.EADDRNOTAVAIL, errno.ENODEV):
                            raise AgentError(f"{self.text}: cannot remove {self.address}: "
                                             f"{exc.args[-1]}") from exc
                self._release_label()
                self._prepare(ipr)
        except (NetlinkError, OSError) as exc:
            raise AgentError(f"{self.text}: netlink: {_why(exc)}") from exc

    def _release_label(self) -> None:
        held, self._label = self._label, None
        if held is not None:
            release_label(held)

    async def status(self) -> bool:
        """True when the address is configured on any interface here."""
        try:
            with self._route.use() as ipr:
                held = bool(self._held(ipr))
                if not held:
                    self._prepare(ipr)  # a standby's probe: ready for its takeover
                return held
        except (NetlinkError, OSError) as exc:
            raise AgentError(f"{self.text}: netlink: {_why(exc)}") from exc

    async def monitor(self, timeout: float) -> Check:
        """One check (module docstring). Netlink answers at once: `timeout` is not needed."""
        try:
            with self._route.use() as ipr:
                held = self._held(ipr)
                if not held:
                    return Check(Health.NOT_RUNNING, f"{self.address} is not configured")
                links = {msg["index"]: ipr.get_links(msg["index"])[0] for msg in held}
        except (NetlinkError, OSError) as exc:
            raise AgentError(f"{self.text}: netlink: {_why(exc)}") from exc
        names = {index: str(link.get("ifname")) for index, link in links.items()}
        want = self.resource.iface.split(":", 1)[0] if self.resource.iface else None
        chosen = [index for index, name in names.items() if want is None or name == want]
        if not chosen:
            return Check(Health.FAILED, f"{self.address} is on {', '.join(names.values())}, "
                                        f"not on {want}")
        return _link_health(names[chosen[0]], links[chosen[0]])

    async def advised_timeout(self, action: str) -> float | None:
        """No advice: netlink calls do not hang."""
        return None

    async def announce(self) -> None:
        """Re-send the gratuitous ARP bursts (core action `Announce`).

        The first GARP goes out at once on the socket the start opened, before the netlink
        calls (about 10 ms in the lab): when a split brain heals, the keeper's announce races
        with the loser's service stop, and each millisecond can be a client's request lost.
        Then the address is checked and both bursts start again.
        """
        if self._garp is not None:
            with contextlib.suppress(OSError):  # the burst restart below reports errors
                self._garp.send()
        try:
            with self._route.use() as ipr:
                held = self._held(ipr)
                if not held:
                    raise AgentError(f"{self.text}: cannot announce {self.address}: not held")
                link = ipr.get_links(held[0]["index"])[0]
        except (NetlinkError, OSError) as exc:
            raise AgentError(f"{self.text}: netlink: {_why(exc)}") from exc
        self._start_announcing(link.get("ifname"), link, raise_errors=True)

    def quiet(self) -> None:
        """Stop the GARP bursts now; the address stays until `stop` (GroupRunner.stop)."""
        self._stop_announcing()

    def _held(self, ipr: IPRoute) -> list[Any]:
        return [msg for msg in ipr.get_addr(family=self._family)
                if self._where.is_vip(msg.get("address"))]

    # -- gratuitous ARP ----------------------------------------------------------------

    def _start_announcing(self, ifname: str, link: Any, *, raise_errors: bool) -> None:
        """Send the first GARP now, the rest of both bursts in the background (`link` is
        the interface's netlink message); nothing on an interface that does no ARP."""
        self._stop_announcing()
        mac, why_not = arp_address(link)
        if mac is None:  # NOARP turns neighbour discovery off too
            log.info("%s: %s on %s: %s, so no %s", self.text, self.address, ifname, why_not,
                     self._what)
            return
        try:
            self._garp = self._sender(ifname, mac, link["index"])
            self._garp.send()
        except OSError as exc:
            self._stop_announcing()
            self._close_sender()
            message = f"{self.text}: {self._what} on {ifname} failed: {exc.strerror}"
            if raise_errors:
                raise AgentError(message) from exc
            log.error("%s", message)  # the address is up; a missed GARP only delays peers
            return
        scope = trio.CancelScope()
        self._garp_scope = scope
        if self._nursery is not None:
            self._nursery.start_soon(self._bursts, self._garp, scope)
        else:  # no nursery given (one-shot use): the run's system nursery hosts it
            trio.lowlevel.spawn_system_task(self._bursts, self._garp, scope)

    async def _bursts(self, sender: GarpSender | NaSender, scope: trio.CancelScope) -> None:
        with scope:
            try:
                await self._burst(sender, self.garp_count - 1)
                await trio.sleep(self.garp_repeat_after)
                await self._burst(sender, self.garp_count)
            except Exception as exc:  # in the daemon's nursery: a GARP is not worth dying for
                log.warning("%s: %s stopped: %s", self.text, self._what, _why(exc))

    async def _burst(self, sender: GarpSender | NaSender, count: int) -> None:
        for _ in range(count):
            await trio.sleep(self.garp_interval)
            sender.send()

    def _sender(self, ifname: str, mac: str, ifindex: int) -> GarpSender | NaSender:
        """The packet socket of the GARPs, kept open from one start to the next: opening one
        (its bind) and closing it each wait for the kernel's network RCU to settle, 5-30 ms
        that a takeover and a handoff used to spend before the first GARP and before the
        address went away (issue #17)."""
        sender = self._sender_kept
        if sender is not None and (sender.ifname, sender.mac) == (ifname, mac):
            return sender
        self._close_sender()
        ipv6 = self._family == socket.AF_INET6
        self._sender_kept = (NaSender(ifname, mac, self.address, ifindex) if ipv6
                             else GarpSender(ifname, mac, self.address))
        return self._sender_kept

    def _close_sender(self) -> None:
        if self._sender_kept is not None:
            self._sender_kept.close()
            self._sender_kept = None

    def _stop_announcing(self) -> None:
        """Stop the bursts; the socket stays open for the next start (`_sender`)."""
        if self._garp_scope is not None:
            self._garp_scope.cancel()
            self._garp_scope = None
        self._garp = None


def _link_health(ifname: str, link: Any) -> Check:
    """OK when the interface is up and has carrier (IFLA_CARRIER, else IFF_LOWER_UP)."""
    flags = link["flags"]
    if not flags & IFF_UP:
        return Check(Health.FAILED, f"{ifname} is down")
    carrier = link.get("carrier")
    if not (carrier if carrier is not None else flags & IFF_LOWER_UP):
        return Check(Health.FAILED, f"{ifname} has no carrier")
    return OK


def _why(exc: Exception) -> str:
    """The readable part of a netlink or system error, for a one-line message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc.args[-1]) if exc.args else type(exc).__name__
