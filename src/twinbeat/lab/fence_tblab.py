#!/usr/bin/python3
"""The lab power switch's client: a fence agent AND a cluster-glue external STONITH plugin.

The lab installs this one file twice (lab/fencing.py): as `RUN/bin/fence_tblab`, a fence agent
speaking the fence-agents protocol (options as `key=value` lines on stdin: `action`, `plug`,
`socket`, `password`; exit 0 on success, `status` exits 0 on / 2 off), and as cluster-glue's
`external/tblab` plugin (`tblab OP [NODE]`, its configuration `socket password` in the
environment, as `stonith -t external/tblab` sets it). So both ways of configuring fencing
(docs/fencing.md) are tested against the same switch, through the real `stonith` and the
real fence-agents protocol.

The switch itself (lab/switch.py) listens on a Unix socket in the lab's run dir: a file, so
a fence run inside a node's network namespace reaches it without any network. One JSON line
each way: `{"password", "action": off|on|reboot|status|list, "node"}` -> `{"ok", "power"}`
or `{"ok": false, "error"}`.

Standard library only: it runs under the system's python3, outside twinbeat's venv, and
must not import twinbeat.
"""

from __future__ import annotations

import json
import os
import socket
import sys

TIMEOUT = 30.0
AGENT_ACTIONS = ("on", "off", "reboot", "status", "monitor", "list", "metadata")
PLUGIN_OPS = ("gethosts", "on", "off", "reset", "status", "getconfignames", "getinfo-devid",
              "getinfo-devname", "getinfo-devdescr", "getinfo-devurl", "getinfo-xml")
METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_tblab" shortdesc="twinbeat lab power switch">
<longdesc>Powers twinbeat lab nodes off and on through the lab's switch socket.</longdesc>
<parameters>
<parameter name="action" unique="0" required="1"><content type="string" default="reboot"/>
<shortdesc lang="en">Fencing action</shortdesc></parameter>
<parameter name="plug" unique="0" required="1" obsoletes="port"><content type="string"/>
<shortdesc lang="en">The lab node to power</shortdesc></parameter>
<parameter name="port" unique="0" required="0" deprecated="1"><content type="string"/>
<shortdesc lang="en">The lab node to power</shortdesc></parameter>
<parameter name="socket" unique="0" required="1"><content type="string"/>
<shortdesc lang="en">The switch's Unix socket</shortdesc></parameter>
<parameter name="password" unique="0" required="1"><content type="string"/>
<shortdesc lang="en">The switch's password</shortdesc></parameter>
</parameters>
<actions><action name="on"/><action name="off"/><action name="reboot"/><action name="status"/>
<action name="monitor"/><action name="list"/><action name="metadata"/></actions>
</resource-agent>
"""
PLUGIN_XML = """<parameters>
<parameter name="socket" unique="0" required="1"><content type="string"/>
<shortdesc lang="en">The lab switch's Unix socket</shortdesc></parameter>
<parameter name="password" unique="0" required="1"><content type="string"/>
<shortdesc lang="en">The lab switch's password</shortdesc></parameter>
</parameters>
"""


class SwitchError(Exception):
    pass


def ask(path: str, password: str, action: str, node: str = "") -> dict[str, object]:
    """One request to the switch; SwitchError for a refusal or no answer."""
    request = {"password": password, "action": action, "node": node}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise SwitchError(f"switch {path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise SwitchError(f"switch {path}: no answer") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise SwitchError(f"switch refused: {error or 'no reason'}")
    return reply


# -- the fence agent -----------------------------------------------------------------------


def agent_options(argv: list[str], stdin: str) -> dict[str, str]:
    """stdin's `key=value` lines (fence-agents' protocol), or `-o ACTION` for metadata."""
    options: dict[str, str] = {}
    if len(argv) >= 3 and argv[1] == "-o":
        options["action"] = argv[2]
        return options
    for line in stdin.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            options[key.strip()] = value.strip()
    return options


def agent(options: dict[str, str]) -> int:
    action = options.get("action", "reboot")
    if action == "metadata":
        sys.stdout.write(METADATA)
        return 0
    problem = _agent_problem(action, options)
    if problem is not None:
        print(f"Failed: {problem}", file=sys.stderr)
        return 1
    try:
        return _agent_act(action, options)
    except SwitchError as exc:
        print(f"Failed: {exc}", file=sys.stderr)
        return 1


def _agent_problem(action: str, options: dict[str, str]) -> str | None:
    if action not in AGENT_ACTIONS:
        return f"unsupported action {action}"
    missing = [key for key in ("socket", "password") if key not in options]
    if missing:
        return f"option {missing[0]} is required"
    if action not in ("monitor", "list") and not (options.get("plug") or options.get("port")):
        return "no plug (the lab node) given"
    return None


def _agent_act(action: str, options: dict[str, str]) -> int:
    path, password = options["socket"], options["password"]
    if action in ("monitor", "list"):
        reply = ask(path, password, "list")
        if action == "list":
            for name in reply.get("nodes") or []:  # type: ignore[attr-defined]
                print(f"{name},{name}")
        return 0
    node = options.get("plug") or options.get("port") or ""
    reply = ask(path, password, action, node.lower())
    return _agent_result(action, str(reply.get("power")))


def _agent_result(action: str, power: str) -> int:
    if action == "status":
        print(f"Status: {power.upper()}")
        return 0 if power == "on" else 2
    print({"off": "Success: Powered OFF", "on": "Success: Powered ON",
           "reboot": "Success: Rebooted"}[action])
    return 0


# -- the cluster-glue external plugin ------------------------------------------------------


def plugin(op: str, node: str) -> int:
    info = {"getconfignames": "socket\npassword", "getinfo-devid": "tblab",
            "getinfo-devname": "twinbeat lab power switch",
            "getinfo-devdescr": "Powers twinbeat lab nodes off and on through the lab switch",
            "getinfo-devurl": "docs/lab.md", "getinfo-xml": PLUGIN_XML.rstrip("\n")}
    if op in info:
        print(info[op])
        return 0
    # cluster-glue names the variables after getconfignames, in lower case.
    path = os.environ.get("socket", "")  # noqa: SIM112
    password = os.environ.get("password", "")  # noqa: SIM112
    action = {"reset": "reboot", "on": "on", "off": "off"}.get(op)
    try:
        if op == "gethosts":
            for name in ask(path, password, "list").get("nodes") or []:  # type: ignore[attr-defined]
                print(name)
        elif op == "status":
            ask(path, password, "list")
        elif action is not None and node:
            ask(path, password, action, node)
        else:
            print(f"tblab: unsupported operation {op}", file=sys.stderr)
            return 1
    except SwitchError as exc:
        print(f"tblab: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] in PLUGIN_OPS:
        return plugin(argv[1], argv[2].lower() if len(argv) > 2 else "")
    stdin = "" if len(argv) > 1 or sys.stdin.isatty() else sys.stdin.read(65536)
    return agent(agent_options(argv, stdin))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
