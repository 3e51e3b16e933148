"""ha.cf -> corosync.conf (Corosync 3, knet): the nodes, their links, the timers, crypto.

- each `node` -> a `nodelist` node: name, nodeid (ha.cf order from 1), an address per link;
- each UDP medium (`bcast`, `ucast`, `mcast`) -> a knet link (`linknumber` in ha.cf order);
- `deadtime` -> `token`, the silence before the membership changes (at least 126 ms,
  Corosync's floor); `consensus` = 1.2 x token (Corosync's own ratio); each link's
  `knet_ping_timeout`;
- `keepalive` -> each link's `knet_ping_interval`;
- two nodes -> `quorum { two_node: 1 }`;
- authkeys -> `crypto_cipher aes256`, `crypto_hash sha256`: Corosync does not read
  authkeys; `corosync-keygen` makes /etc/corosync/authkey;
- `logfacility` -> `syslog_facility`;
- `serial` -> nothing: Corosync has no serial transport (a warning).

Addresses: heartbeat's files rarely hold them. A node's address on a link comes from
`--address NODE=ADDR,...` (one per UDP link), else, for the exporting node, the address on the
link's interface, else, for the peer, the one `ucast` address on that interface that is not
this node's. Link 0 of a node without one falls back to the node's name (Corosync resolves
it: /etc/hosts); a further link without addresses for both nodes is left out, with a warning.
knet sends unicast, so `bcast` and `mcast` become unicast links; heartbeat's `udpport` 694 is
not reused (Corosync's 5405), so both can run while the cluster moves. Pure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from twinbeat.config.model import Bcast, Config, Link, Mcast, Serial, Ucast
from twinbeat.export.facts import Facts
from twinbeat.export.model import Note, Target

CLUSTER_NAME = "twinbeat"
CONSENSUS_RATIO = 1.2  # corosync.conf(5): consensus defaults to 1.2 * token
KEYFILE = "/etc/corosync/authkey"
# Corosync refuses a token whose retransmit time, token / (token_retransmits_before_loss_const
# 4 + 0.2), is under its 30 ms MINIMUM_TIMEOUT ("Not appropriate token ... value set").
MIN_TOKEN_MS = 126
INDENT = "    "


@dataclass(frozen=True, slots=True)
class KnetLink:
    """One corosync link: the ha.cf link it comes from and each node's address on it."""

    number: int
    link: Link | None  # None: no UDP link in ha.cf, the nodes' names stand in
    addresses: tuple[str, ...]  # one per node, ha.cf order


def render_corosync(config: Config, facts: Facts) -> tuple[str, tuple[Note, ...]]:
    path = os.path.join(config.config_dir, "ha.cf")
    links, notes = knet_links(config, facts, path)
    hacf = config.hacf
    token = round(hacf.deadtime * 1000)
    if token < MIN_TOKEN_MS:
        notes += (Note(path, 0, f"deadtime {hacf.deadtime:g} s is below Corosync's shortest "
                       f"token ({MIN_TOKEN_MS} ms): token {MIN_TOKEN_MS}", Target.COROSYNC),)
        token = MIN_TOKEN_MS
    lines = [f"# {line}" for line in _header(config, notes)]
    lines += ["totem {", f"{INDENT}version: 2", f"{INDENT}cluster_name: {CLUSTER_NAME}",
              f"{INDENT}transport: knet",
              f"{INDENT}# deadtime {hacf.deadtime:g} s: the silence before the membership "
              "changes",
              f"{INDENT}token: {token}",
              f"{INDENT}consensus: {round(token * CONSENSUS_RATIO)}",
              f"{INDENT}# authkeys is not read by Corosync: run `corosync-keygen` on one node "
              f"and copy {KEYFILE} (0400) to the other",
              f"{INDENT}crypto_cipher: aes256", f"{INDENT}crypto_hash: sha256"]
    for knet in links:
        lines += _interface(knet, config)
    lines += ["}", "", "nodelist {"]
    for index, node in enumerate(hacf.nodes):
        lines += [f"{INDENT}node {{", f"{INDENT * 2}name: {node}",
                  f"{INDENT * 2}nodeid: {index + 1}"]
        lines += [f"{INDENT * 2}ring{k.number}_addr: {k.addresses[index]}" for k in links]
        lines.append(f"{INDENT}}}")
    lines += ["}", "", "quorum {", f"{INDENT}provider: corosync_votequorum"]
    if len(hacf.nodes) == 2:
        lines += [f"{INDENT}# two nodes: the survivor keeps quorum; at a cold start both "
                  "must have met once (wait_for_all)", f"{INDENT}two_node: 1"]
    lines += ["}", "", "logging {", f"{INDENT}to_syslog: yes"]
    if hacf.logfacility:
        lines.append(f"{INDENT}syslog_facility: {hacf.logfacility}")
    lines += [f"{INDENT}to_logfile: no", "}"]
    return "\n".join(lines) + "\n", notes


def _interface(knet: KnetLink, config: Config) -> list[str]:
    hacf = config.hacf
    if knet.link is None:
        return []
    kind = type(knet.link.medium).__name__.lower()
    return [f"{INDENT}# link {knet.number}: ha.cf line {knet.link.line}, {kind} {knet.link.name}",
            f"{INDENT}interface {{", f"{INDENT * 2}linknumber: {knet.number}",
            f"{INDENT * 2}knet_ping_interval: {max(1, round(hacf.keepalive * 1000))}",
            f"{INDENT * 2}knet_ping_timeout: {max(1, round(hacf.deadtime * 1000))}",
            f"{INDENT}}}"]


def knet_links(config: Config, facts: Facts,
               path: str) -> tuple[tuple[KnetLink, ...], tuple[Note, ...]]:
    """The knet links ha.cf's UDP media become, each node's address on them, and notes."""
    notes: list[Note] = []
    links: list[KnetLink] = []
    udp = [link for link in config.hacf.links if not isinstance(link.medium, Serial)]
    for link in config.hacf.links:
        if isinstance(link.medium, Serial):
            notes.append(Note(path, link.line, f"serial {link.name}: Corosync has no serial "
                              "link; the cluster keeps only its network links (use two NICs "
                              "on separate switches)", Target.COROSYNC))
    for index, link in enumerate(udp):
        addresses = [_address(config, facts, node, index, link) for node in config.hacf.nodes]
        missing = [n for n, a in zip(config.hacf.nodes, addresses, strict=True) if a is None]
        if missing and links:
            notes.append(Note(path, link.line, f"{link.name}: left out, no address of "
                              f"{' or '.join(missing)} on it (give --address NODE=ADDR,...)",
                              Target.COROSYNC))
            continue
        for node in missing:
            notes.append(Note(path, link.line, f"{link.name}: no address of {node} on it: "
                              f"ring{len(links)}_addr is the name {node}, which Corosync "
                              f"resolves (/etc/hosts), or give --address {node}=ADDR",
                              Target.COROSYNC))
        named = tuple(a if a is not None else n
                      for a, n in zip(addresses, config.hacf.nodes, strict=True))
        links.append(KnetLink(len(links), link, named))
    if not links:
        notes.append(Note(path, 0, "no UDP link in ha.cf: link 0 is each node's name, which "
                          "Corosync resolves (/etc/hosts), or give --address", Target.COROSYNC))
        links.append(KnetLink(0, None, config.hacf.nodes))
    return tuple(links), tuple(notes)


def _address(config: Config, facts: Facts, node: str, index: int, link: Link) -> str | None:
    given = facts.addresses.get(node, ())
    if index < len(given):
        return given[index]
    medium = link.medium
    iface = medium.iface if isinstance(medium, Bcast | Ucast | Mcast) else ""
    local = facts.local_addresses.get(iface, ())
    if node == config.node:
        if isinstance(medium, Ucast):  # a shared ha.cf may list this node's own address
            listed = [a for a in local if a in medium.peers]
            if listed:
                return listed[0]
        return local[0] if local else None
    if isinstance(medium, Ucast):
        others = [a for a in medium.peers if a not in local]
        if len(others) == 1 and (local or len(medium.peers) == 1):
            return others[0]
    return None


def _header(config: Config, notes: tuple[Note, ...]) -> list[str]:
    hacf = config.hacf
    lines = [f"Written by `twinbeat export pacemaker` from {config.config_dir} "
             f"(node {config.node}).",
             f"keepalive {hacf.keepalive:g} s, deadtime {hacf.deadtime:g} s, warntime "
             f"{hacf.warntime:g} s (no Corosync equivalent), udpport {hacf.udpport} "
             "(Corosync uses its own port, 5405)."]
    if notes:
        lines.append("Not translated as it was (each is also a warning of the export):")
        lines += [f"  {note}" for note in notes]
    return lines
