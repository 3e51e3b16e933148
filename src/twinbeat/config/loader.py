"""`load(config_dir, node=None) -> Config`: read ha.cf, authkeys and haresources together.

Owns the order of reading, the checks that span files (the local node must be a `node`;
haresources nodes must be ha.cf's), the choice of the local node name and its peer, and
the fingerprint. The `Config` composes each file's typed result; it copies none of them.
All three files are always read, so one run reports every problem; any error raises
`ConfigErrors` carrying all of them (and the warnings).

Logging: with no logfile, debugfile or logfacility, twinbeat logs to stderr (which is the
journal under systemd) instead of heartbeat's error "No log entry found in ha.cf".
"""

from __future__ import annotations

import os
import sys

from twinbeat.config.authkeys import parse_authkeys, read_authkeys
from twinbeat.config.fencing import unprotected_storage
from twinbeat.config.fingerprint import fingerprint
from twinbeat.config.hacf import parse_hacf
from twinbeat.config.haresources import parse_haresources
from twinbeat.config.messages import ConfigErrors, Report, shown
from twinbeat.config.model import Config, Group
from twinbeat.config.monitoring import unknown_monitored
from twinbeat.config.respawn import check_respawn
from twinbeat.config.source import decode_lines, read_file

HA_CF = "ha.cf"
AUTHKEYS = "authkeys"
HARESOURCES = "haresources"


def local_node_name(node: str | None = None) -> str:
    """`--node` if given, else heartbeat's `uname -n`, lower-cased."""
    return (node if node is not None else os.uname().nodename).lower()


def load(config_dir: str, node: str | None = None) -> Config:
    """The validated configuration of `node` (default: this host), or `ConfigErrors`."""
    report = Report()
    if not os.path.isdir(config_dir):
        report.error(config_dir, 0, "no such directory" if not os.path.exists(config_dir)
                     else "not a directory")
        raise ConfigErrors(report.errors, report.warnings)
    local = local_node_name(node)

    hacf_path = os.path.join(config_dir, HA_CF)
    data = read_file(hacf_path, report)
    hacf = parse_hacf(decode_lines(data, hacf_path, report) if data is not None else [],
                      hacf_path, report)
    if data is not None and hacf.nodes and local not in hacf.nodes:
        report.error(hacf_path, 0, f"current node {shown(local)} not in configuration "
                                   "(add `node " + shown(local) + "`, or pass --node)")
    if data is not None:
        check_respawn(hacf.respawn, hacf_path, report)
    if data is not None and not hacf.logfile and not hacf.debugfile and not hacf.logfacility:
        report.warn(hacf_path, 0, "no logfile, debugfile or logfacility: twinbeat logs to "
                                  "stderr (the journal under systemd)")

    auth_path = os.path.join(config_dir, AUTHKEYS)
    data = read_authkeys(auth_path, report)
    authkeys = None
    if data is not None:
        authkeys = parse_authkeys(decode_lines(data, auth_path, report), auth_path, report)

    res_path = os.path.join(config_dir, HARESOURCES)
    groups: tuple[Group, ...] = ()
    if os.path.lexists(res_path):
        data = read_file(res_path, report)
        if data is not None:
            groups = parse_haresources(decode_lines(data, res_path, report), res_path,
                                       report, hacf.nodes)
    else:
        report.warn(res_path, 0, "no such file: no resource groups (heartbeat only)")
    if not any(message.path == res_path for message in report.errors):
        unknown_monitored(hacf.monitoring, groups, hacf_path, report)

    peer = next((n for n in hacf.nodes if n != local), None)
    unprotected_storage(bool(hacf.fencing.devices_for(local, peer)), groups, report)

    if report.errors or authkeys is None:
        raise ConfigErrors(report.errors, report.warnings)
    return Config(
        config_dir=config_dir,
        node=local,
        peer=peer,
        hacf=hacf,
        authkeys=authkeys,
        groups=groups,
        fingerprint=fingerprint(hacf.nodes, groups),
        warnings=tuple(report.warnings),
    )


def load_for_command(config_dir: str, node: str | None = None) -> Config | None:
    """`load` for a command that must not act on a bad configuration (`run`, `cleanup`).

    Every error goes to stderr as `path:line: text`, and the answer is None; nothing else
    happens, so the caller can refuse with its own one-line reason.
    """
    try:
        return load(config_dir, node=node)
    except ConfigErrors as exc:
        for message in exc.messages:
            print(message, file=sys.stderr)
        return None
