"""ha.cf's fencing lines -> `stonith:` primitives and the cluster's fencing properties.

- `fence [NODE] fence_AGENT KEY=VALUE...` -> `stonith:fence_AGENT` with the options; NODE
  -> `pcmk_host_list`; `plug=P` of NODE -> `pcmk_host_map=NODE:P`;
- `password_file=PATH` -> `password_script=cat PATH` (fence-agents run it when fencing, so
  the password stays out of the CIB);
- `stonith_host HOSTFROM TYPE PARAMS` -> `stonith:TYPE` (cluster-glue's plugin), PARAMS
  named from `stonith -t TYPE -n`; HOSTFROM fences the other node;
- `stonith TYPE FILE` -> `stonith:TYPE`; FILE's parameters are not copied (a warning);
- any device, or none -> `stonith-enabled` true or false;
- `fence_action`, `fence_timeout` -> `stonith-action`, `stonith-timeout`;
- `fence_delay` -> `priority-fencing-delay`, with `priority` on the first group: the node
  running it fences at once, the other waits (twinbeat's rule, docs/fencing.md §5).

A device that fences one node is kept off that node (a -INFINITY location). Every node
that no device can fence is a warning. Nothing here prints a parameter's value. Pure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from twinbeat.config.fencing import SECRET_FILE_OPTIONS, describe
from twinbeat.config.model import FenceAgent, FenceDevice, HaCf, StonithFile, StonithHost
from twinbeat.export.facts import Facts
from twinbeat.export.ids import Ids
from twinbeat.export.model import INFINITY, Note, Op, Pairs, Preference, Primitive, Target

# fence-agents' options that run a command to read a secret, for twinbeat's *_file options
SCRIPT_OPTIONS = {"password_file": "password_script", "passwd_file": "password_script",
                  "snmp_priv_passwd_file": "snmp_priv_passwd_script"}
assert SCRIPT_OPTIONS.keys() == SECRET_FILE_OPTIONS.keys()
DEVICE_MONITOR = 60.0  # Pacemaker's usual check of a fence device


@dataclass(frozen=True, slots=True)
class Fenced:
    """The fence devices, who each one fences, and what had to be said."""

    devices: tuple[Primitive, ...]
    avoid: tuple[Preference, ...]
    notes: tuple[Note, ...]


def fence_devices(hacf: HaCf, path: str, facts: Facts, ids: Ids) -> Fenced:
    devices: list[Primitive] = []
    avoid: list[Preference] = []
    notes: list[Note] = []
    covered: set[str] = set()
    for device in hacf.fencing.devices:
        prim, targets, said = _device(device, hacf.nodes, path, facts, ids)
        devices.append(prim)
        notes += said
        covered |= set(targets)
        if len(targets) == 1:
            avoid.append(Preference(ids.take(f"{prim.id}-not-on-{targets[0]}"), prim.id,
                                    targets[0], -INFINITY))
    if not devices:
        notes.append(Note(path, 0, "no fencing configured (stonith, stonith_host or fence): "
                          "stonith-enabled=false; Pacemaker cannot protect shared data after "
                          "a split brain (docs/fencing.md)", Target.CIB))
    else:
        notes += [Note(path, 0, f"no fence device fences {node}: add one (a `fence {node} "
                       "...` line before exporting, or a stonith: primitive after)", Target.CIB)
                  for node in hacf.nodes if node not in covered]
    return Fenced(tuple(devices), tuple(avoid), tuple(notes))


def fencing_properties(hacf: HaCf, has_devices: bool) -> Pairs:
    fencing = hacf.fencing
    if not has_devices:
        return (("stonith-enabled", "false"),)
    props = [("stonith-enabled", "true"), ("stonith-action", fencing.action.value),
             ("stonith-timeout", f"{round(fencing.timeout)}s")]
    if fencing.delay > 0:
        props.append(("priority-fencing-delay", f"{round(fencing.delay)}s"))
    return tuple(props)


def _device(device: FenceDevice, nodes: tuple[str, ...], path: str, facts: Facts,
            ids: Ids) -> tuple[Primitive, tuple[str, ...], list[Note]]:
    """One device as a primitive, the nodes it fences, and its notes."""
    match device:
        case FenceAgent():
            return _agent(device, nodes, path, ids)
        case StonithHost(hostfrom=hostfrom, type=kind, params=params, line=line):
            targets = tuple(n for n in nodes if n != hostfrom) if hostfrom != "*" else nodes
            named, notes = _positional(device, params, facts)
            named += (("pcmk_host_list", " ".join(targets)),)
            return (_stonith(ids, kind, targets, named, describe(device)), targets,
                    [Note(path, line, n, Target.CIB) for n in notes])
        case StonithFile(type=kind, file=file, line=line):
            note = (f"{describe(device)}: its parameters are in {file}; set them on the "
                    f"primitive by name (`stonith -t {kind} -n` lists them)")
            return (_stonith(ids, kind, nodes, (), describe(device), note), nodes,
                    [Note(path, line, note, Target.CIB)])


def _stonith(ids: Ids, kind: str, targets: tuple[str, ...], params: Pairs, source: str,
             *comments: str) -> Primitive:
    name = f"fence-{targets[0]}" if len(targets) == 1 else f"fence-{kind}"
    return Primitive(ids.take(name), "stonith", None, kind, params, (),
                     (Op("monitor", DEVICE_MONITOR, None),), source, comments)


def _agent(device: FenceAgent, nodes: tuple[str, ...], path: str,
           ids: Ids) -> tuple[Primitive, tuple[str, ...], list[Note]]:
    notes: list[Note] = []
    kind = os.path.basename(device.agent)
    if device.agent.startswith("/"):
        notes.append(Note(path, device.line, f"{describe(device)}: Pacemaker runs fence agents "
                          f"from /usr/sbin: install {device.agent} as /usr/sbin/{kind} on both "
                          "nodes", Target.CIB))
    options = dict(device.options)
    plug = options.pop("plug", None) or options.pop("port", None)
    targets = nodes if device.target == "*" else (device.target,)
    params = [(SCRIPT_OPTIONS.get(k, k), f"cat {v}" if k in SCRIPT_OPTIONS else v)
              for k, v in options.items()]
    if plug is not None and device.target == "*":
        notes.append(Note(path, device.line, f"{describe(device)}: one plug for every node; "
                          "Pacemaker would switch that plug to fence either node: name the "
                          "node it fences (fence NODE fence_...)", Target.CIB))
        params.append(("plug", plug))
    elif plug is not None:
        params.append(("pcmk_host_map", f"{device.target}:{plug}"))
    params.append(("pcmk_host_list", " ".join(targets)))
    comments = [n.text for n in notes]
    if any(k in SCRIPT_OPTIONS for k, _ in device.options):
        comments.append("the password is read from its file when fencing (password_script)")
    return (_stonith(ids, kind, targets, tuple(params), describe(device), *comments),
            targets, notes)


def _positional(device: StonithHost, params: str, facts: Facts) -> tuple[Pairs, list[str]]:
    """heartbeat's positional `stonith_host` parameters, named as cluster-glue names them."""
    words = params.split()
    if not words:
        return (), []
    names = facts.stonith_params.get(device.type)
    if not names:
        return (), [f"{describe(device)}: cannot name its parameters (`stonith -t "
                    f"{device.type} -n` gave nothing here): set them on the primitive by name"]
    if len(words) > len(names):
        return (), [f"{describe(device)}: {len(words)} parameters, but {device.type} names "
                    f"only {len(names)} ({' '.join(names)}): set them on the primitive by name"]
    return tuple(zip(names, words, strict=False)), []
