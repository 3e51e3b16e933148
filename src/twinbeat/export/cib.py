"""The `Cluster` as a CIB XML document: what `crm_verify --xml-file`, `crm_simulate` and
`cibadmin --replace --xml-file` read.

Schema `pacemaker-3.0` (Pacemaker 2.0 and later read it; every element used here is in it).
Each nested element gets an id made from its parent's, as `cibadmin` and `pcs` make them, all
unique within the document. The header and each resource's notes are XML comments, which
Pacemaker keeps in the CIB. Pure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from twinbeat.export.ids import Ids
from twinbeat.export.model import (
    Cluster,
    Group,
    Pairs,
    Primitive,
    duration,
    score_text,
)

SCHEMA = "pacemaker-3.0"


def render_cib(cluster: Cluster) -> str:
    ids = Ids()
    for taken in _model_ids(cluster):
        ids.take(taken)
    root = ET.Element("cib", {"validate-with": SCHEMA, "epoch": "1", "num_updates": "0",
                              "admin_epoch": "0"})
    config = ET.SubElement(root, "configuration")
    config.append(ET.Comment(_comment("\n".join(cluster.header))))
    _nvpairs(ET.SubElement(ET.SubElement(config, "crm_config"), "cluster_property_set",
                           id=ids.take("cib-bootstrap-options")), cluster.properties, ids)
    nodes = ET.SubElement(config, "nodes")
    for nodeid, name in cluster.nodes:
        ET.SubElement(nodes, "node", id=str(nodeid), uname=name)
    resources = ET.SubElement(config, "resources")
    for group in cluster.groups:
        _group(resources, group, ids)
    for clone in cluster.clones:
        _primitive(ET.SubElement(resources, "clone", id=clone.id), clone.primitive, ids)
    for device in cluster.fencing:
        _primitive(resources, device, ids)
    _constraints(ET.SubElement(config, "constraints"), cluster, ids)
    _meta(ET.SubElement(config, "rsc_defaults"), "rsc-options", cluster.rsc_defaults, ids)
    ET.SubElement(root, "status")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _model_ids(cluster: Cluster) -> list[str]:
    prims = [m for g in cluster.groups for m in g.members]
    prims += [c.primitive for c in cluster.clones] + list(cluster.fencing)
    return [*(g.id for g in cluster.groups), *(c.id for c in cluster.clones),
            *(p.id for p in prims), *(p.id for p in cluster.preferences),
            *(c.id for c in cluster.connectivity)]


def _comment(text: str) -> str:
    """XML comments may not hold `--` (nor end in `-`)."""
    return " " + text.replace("--", "- -").replace("\n", "\n     ") + " "


def _nvpairs(parent: ET.Element, pairs: Pairs, ids: Ids) -> None:
    owner = parent.get("id", "")
    for name, value in pairs:
        ET.SubElement(parent, "nvpair", id=ids.take(f"{owner}-{name}"), name=name, value=value)


def _meta(parent: ET.Element, owner: str, pairs: Pairs, ids: Ids) -> None:
    if pairs:
        _nvpairs(ET.SubElement(parent, "meta_attributes", id=ids.take(owner)), pairs, ids)


def _group(parent: ET.Element, group: Group, ids: Ids) -> None:
    parent.append(ET.Comment(_comment(f"haresources {group.source}: preferred node "
                                      f"{group.primary}")))
    element = ET.SubElement(parent, "group", id=group.id)
    _meta(element, f"{group.id}-meta_attributes", group.meta, ids)
    for member in group.members:
        _primitive(element, member, ids)


def _primitive(parent: ET.Element, prim: Primitive, ids: Ids) -> None:
    said = [f"from: {prim.source}"] if prim.source else []
    for text in (*said, *prim.comments):
        parent.append(ET.Comment(_comment(text)))
    attrs = {"id": prim.id, "class": prim.standard, "type": prim.type}
    if prim.provider is not None:
        attrs["provider"] = prim.provider
    element = ET.SubElement(parent, "primitive", attrs)
    if prim.params:
        _nvpairs(ET.SubElement(element, "instance_attributes",
                               id=ids.take(f"{prim.id}-instance_attributes")), prim.params, ids)
    _meta(element, f"{prim.id}-meta_attributes", prim.meta, ids)
    if prim.ops:
        ops = ET.SubElement(element, "operations")
        for op in prim.ops:
            interval = duration(op.interval)
            attrs = {"id": ids.take(f"{prim.id}-{op.name}-interval-{interval}"),
                     "name": op.name, "interval": interval}
            if op.timeout is not None:
                attrs["timeout"] = duration(op.timeout)
            ET.SubElement(ops, "op", attrs)


def _constraints(parent: ET.Element, cluster: Cluster, ids: Ids) -> None:
    for pref in cluster.preferences:
        ET.SubElement(parent, "rsc_location", id=pref.id, rsc=pref.rsc, node=pref.node,
                      score=score_text(pref.score))
    for need in cluster.connectivity:
        location = ET.SubElement(parent, "rsc_location", id=need.id, rsc=need.rsc)
        rule = ET.SubElement(location, "rule", {"id": ids.take(f"{need.id}-rule"),
                                                "score": "-INFINITY", "boolean-op": "or"})
        ET.SubElement(rule, "expression", id=ids.take(f"{need.id}-rule-expr"),
                      attribute=need.attribute, operation="not_defined")
        ET.SubElement(rule, "expression", {"id": ids.take(f"{need.id}-rule-expr"),
                                           "attribute": need.attribute, "operation": "lte",
                                           "value": "0", "type": "number"})
