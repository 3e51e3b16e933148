"""The `Cluster` as a shell script of `pcs -f FILE` commands (pcs 0.10/0.11).

pcs edits a CIB file offline: the admin takes the live one (`pcs cluster cib FILE`), runs
this script on it, and pushes it (`pcs cluster cib-push FILE --config`), as docs/pacemaker.md
says. CIB nodes are not written: pcs makes them from corosync.conf when the cluster starts.
`resource create` and `stonith create` run with `--force`, because the agents are checked on
the nodes, which may have some this machine lacks. Every word is quoted for a POSIX shell.
Pure.
"""

from __future__ import annotations

from shlex import quote

from twinbeat.export.model import Cluster, Pairs, Primitive, duration, score_text

PCS = 'pcs -f "$CIB"'


def render_pcs(cluster: Cluster) -> str:
    lines = ["#!/bin/sh", *(f"# {line}" for line in cluster.header),
             "# Usage: pcs cluster cib FILE && sh THIS-SCRIPT FILE && "
             "pcs cluster cib-push FILE --config",
             "set -e", 'CIB=${1:?usage: $0 CIB-FILE (made by: pcs cluster cib CIB-FILE)}',
             f"{PCS} property set {_pairs(cluster.properties)}",
             f"{PCS} resource defaults update {_pairs(cluster.rsc_defaults)}"]
    for group in cluster.groups:
        lines.append(f"# haresources {group.source}: preferred node {group.primary}")
        lines += [_create(member, f" --group {quote(group.id)}") for member in group.members]
        if group.meta:
            lines.append(f"{PCS} resource meta {quote(group.id)} {_pairs(group.meta)}")
    for clone in cluster.clones:
        lines.append(_create(clone.primitive, f" clone {quote(clone.id)}"))
    lines += [_create(device, "") for device in cluster.fencing]
    for pref in cluster.preferences:
        verb = "prefers" if pref.score >= 0 else "avoids"
        score = score_text(abs(pref.score))
        lines.append(f"{PCS} constraint location {quote(pref.rsc)} {verb} "
                     f"{quote(pref.node)}={score}")
    lines += [f"{PCS} constraint location {quote(c.rsc)} rule id={quote(c.id)} "
              f"score=-INFINITY not_defined {c.attribute} or {c.attribute} lte number 0"
              for c in cluster.connectivity]
    return "\n".join(lines) + "\n"


def _create(prim: Primitive, placement: str) -> str:
    said = [f"from: {prim.source}"] if prim.source else []
    text = "".join(f"# {comment}\n" for comment in (*said, *prim.comments))
    verb = "stonith create" if prim.standard == "stonith" else "resource create"
    agent = prim.type if prim.standard == "stonith" else prim.agent
    text += f"{PCS} {verb} {quote(prim.id)} {quote(agent)}"
    if prim.params:
        text += " " + _pairs(prim.params)
    for op in prim.ops:
        timeout = f" timeout={duration(op.timeout)}" if op.timeout is not None else ""
        text += f" op {op.name} interval={duration(op.interval)}{timeout}"
    if prim.meta:
        text += " meta " + _pairs(prim.meta)
    return text + placement + " --force"


def _pairs(pairs: Pairs) -> str:
    return " ".join(quote(f"{name}={value}") for name, value in pairs)
