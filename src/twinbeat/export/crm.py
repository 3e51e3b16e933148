"""The `Cluster` in crmsh's configuration language: `crm configure load update FILE`.

The same objects, ids and values as cib.py writes, so `crm configure load update` on an
empty CIB gives the same configuration (the tests compare them through crm_verify and
crm_simulate). crmsh reads `# ...` lines as comments of the object that follows. Values
with blanks or quotes are double-quoted, as crmsh's shlex-style parser expects. Pure.
"""

from __future__ import annotations

from twinbeat.export.model import Cluster, Pairs, Primitive, duration, score_text

CONTINUE = " \\\n    "


def render_crm(cluster: Cluster) -> str:
    lines = [f"# {line}" for line in cluster.header]
    lines += [f"node {nodeid}: {name}" for nodeid, name in cluster.nodes]
    for group in cluster.groups:
        lines.append(f"# haresources {group.source}: preferred node {group.primary}")
        lines += [_primitive(member) for member in group.members]
        meta = CONTINUE + "meta " + _pairs(group.meta) if group.meta else ""
        lines.append(f"group {group.id} {' '.join(m.id for m in group.members)}{meta}")
    for clone in cluster.clones:
        lines.append(_primitive(clone.primitive))
        lines.append(f"clone {clone.id} {clone.primitive.id}")
    lines += [_primitive(device) for device in cluster.fencing]
    lines += [f"location {p.id} {p.rsc} {_score(p.score)}: {p.node}"
              for p in cluster.preferences]
    lines += [f"location {c.id} {c.rsc}{CONTINUE}rule -inf: not_defined {c.attribute} or "
              f"{c.attribute} number:lte 0" for c in cluster.connectivity]
    lines.append(f"property cib-bootstrap-options: {_pairs(cluster.properties)}")
    lines.append(f"rsc_defaults rsc-options: {_pairs(cluster.rsc_defaults)}")
    return "\n".join(lines) + "\n"


def _primitive(prim: Primitive) -> str:
    said = [f"from: {prim.source}"] if prim.source else []
    text = "".join(f"# {comment}\n" for comment in (*said, *prim.comments))
    text += f"primitive {prim.id} {prim.agent}"
    if prim.params:
        text += CONTINUE + "params " + _pairs(prim.params)
    if prim.meta:
        text += CONTINUE + "meta " + _pairs(prim.meta)
    for op in prim.ops:
        timeout = f" timeout={duration(op.timeout)}" if op.timeout is not None else ""
        text += CONTINUE + f"op {op.name} interval={duration(op.interval)}{timeout}"
    return text


def _score(score: int) -> str:
    return {"INFINITY": "inf", "-INFINITY": "-inf"}.get(score_text(score), str(score))


def _pairs(pairs: Pairs) -> str:
    return " ".join(f"{name}={quoted(value)}" for name, value in pairs)


def quoted(value: str) -> str:
    """`value` as one word for crmsh: bare when safe, else "..." (crmsh splits like shlex)."""
    if value and all(c.isalnum() or c in "_.-/:@,+%=" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
