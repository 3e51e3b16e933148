"""`twinbeat cleanup`: stop every resource of haresources that still runs here, daemon or not.

For systemd's `ExecStopPost=`. A daemon that crashed leaves its virtual IP and service running;
systemd restarts it and the start-up leftover check cleans up, but once systemd gives up
(StartLimitBurst) nothing would, and the address would stay on this node while the peer takes
it over: the same IP on two machines. Run after every stop, this command makes "the daemon is
not running" imply "this node holds nothing". It refuses to touch anything while a daemon
answers on the control socket, since then the resources are that daemon's business.
"""

from __future__ import annotations

import argparse
import logging
import sys

import trio

from twinbeat.config import Config, load_for_command
from twinbeat.control.client import DaemonNotRunningError, request
from twinbeat.resources import AgentError
from twinbeat.resources.group import GroupRunner, make_agent

log = logging.getLogger("twinbeat.resources.cleanup")

GROUP_TIMEOUT = 300.0


async def release_everything(config: Config) -> list[str]:
    """Stop every group found running, last haresources line first; return the failures."""
    failures: list[str] = []
    async with trio.open_nursery() as nursery:
        for group in reversed(config.groups):
            agents = [
                make_agent(resource, config.config_dir, nursery=nursery)
                for resource in group.resources
            ]
            runner = GroupRunner(group, agents)
            try:
                with trio.fail_after(GROUP_TIMEOUT):
                    if not await runner.running():
                        continue
                    print(f"twinbeat cleanup: stopping {group.key}")
                    await runner.stop()
            except (AgentError, trio.TooSlowError) as exc:
                failures.append(f"{group.key}: {exc or 'timed out'}")
        nursery.cancel_scope.cancel()  # no GARP bursts are pending after stops
    return failures


def daemon_is_running(run_dir: str) -> bool:
    try:
        request(run_dir, {"cmd": "status"}, timeout=5.0)
    except (DaemonNotRunningError, OSError, ValueError):
        return False
    return True


def main(args: argparse.Namespace) -> int:
    config = load_for_command(args.config_dir, node=args.node)
    if config is None:
        return 1
    if daemon_is_running(args.run_dir):
        print("twinbeat cleanup: twinbeat is running; stop it first "
              "(its resources are its own business)", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.WARNING, format="twinbeat cleanup: %(message)s")
    failures = trio.run(release_everything, config)
    for failure in failures:
        print(f"twinbeat cleanup: could not stop {failure}", file=sys.stderr)
    if not failures:
        print("twinbeat cleanup: done; nothing of haresources runs on this node")
    return 1 if failures else 0
