"""`twinbeat run`'s start-up: every check that can refuse a start, in the order that keeps a
refused start harmless, then the daemon (daemon/root.py) until its graceful shutdown.

The order matters: the configuration first; then the control socket, so a second daemon
neither bumps the running one's generation nor writes to its log; then the peer's record
before our own generation, so a refused start has not used one up.
"""

from __future__ import annotations

import argparse
import logging
import sys

import trio

from twinbeat.control.server import ControlSocketError, ensure_not_running
from twinbeat.daemon.generation import GenerationError, start_generation
from twinbeat.daemon.logsetup import LogTargets, setup_logging
from twinbeat.daemon.peerstate import PeerStateError, load_peer_generation
from twinbeat.daemon.realtime import enter_realtime
from twinbeat.daemon.reload import checked_for_start
from twinbeat.daemon.root import Daemon

log = logging.getLogger("twinbeat")


def main(args: argparse.Namespace) -> int:
    """Load and check the config, then run until a signal's graceful shutdown completes."""
    config = checked_for_start(args.config_dir, args.node)
    if config is None:
        return 1
    try:
        # A second daemon must not bump the running one's generation nor write to its log.
        ensure_not_running(args.run_dir)
    except ControlSocketError as exc:
        print(f"twinbeat: not started: {exc}", file=sys.stderr)
        return 1
    setup_logging(
        LogTargets(
            node=config.node,
            logfile=config.hacf.logfile,
            debugfile=config.hacf.debugfile,
            logfacility=config.hacf.logfacility,
            stderr=args.foreground,
        )
    )
    try:
        # The peer's record first: a refused start must not have used up a generation.
        peer_generation = (
            None if config.peer is None else load_peer_generation(args.state_dir, config.peer)
        )
        generation = start_generation(args.state_dir, args.heartbeat_state_dir)
    except (GenerationError, PeerStateError) as exc:
        print(f"twinbeat: not started: {exc}", file=sys.stderr)
        return 1
    if config.hacf.realtime:
        for problem in enter_realtime():
            log.warning("%s; continuing without it", problem)
    log.info("twinbeat starting: node %s, generation %d, config %s",
             config.node, generation, config.config_dir)
    daemon = Daemon(config, generation, args.run_dir, state_dir=args.state_dir,
                    peer_generation=peer_generation)
    try:
        trio.run(daemon.run)
    except ControlSocketError as exc:
        print(f"twinbeat: not started: {exc}", file=sys.stderr)
        return 1
    except Exception:
        log.critical("twinbeat: unexpected error, exiting", exc_info=True)
        return 1
    return daemon.exit_code
