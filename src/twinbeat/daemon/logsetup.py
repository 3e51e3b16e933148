"""Logging as ha.cf asks for it: `logfile`, `debugfile`, `logfacility`, else stderr.

The line format follows heartbeat's log files (`date node program[pid]: LEVEL: message`) so that
an admin's existing grep patterns ("Link prime:eth1 dead.", "node prime: is dead") keep working.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from dataclasses import dataclass

LOGGER_NAME = "twinbeat"
SYSLOG_SOCKET = "/dev/log"


@dataclass(frozen=True, slots=True)
class LogTargets:
    """Where log lines go; built from ha.cf's logfile, debugfile and logfacility directives."""

    node: str
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None
    stderr: bool = False


def setup_logging(targets: LogTargets) -> list[str]:
    """Install handlers on the `twinbeat` logger; return warnings about targets that failed."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    file_format = logging.Formatter(
        f"%(asctime)s {targets.node} twinbeat[%(process)d]: %(levelname)s: %(message)s",
        datefmt="%Y/%m/%d_%H:%M:%S",
    )
    problems: list[str] = []

    def add_file(path: str, level: int) -> None:
        try:
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            problems.append(f"cannot open log file {path}: {exc.strerror}")
            return
        handler.setLevel(level)
        handler.setFormatter(file_format)
        logger.addHandler(handler)

    if targets.logfile and targets.logfile != "/dev/null":
        add_file(targets.logfile, logging.INFO)
    if targets.debugfile and targets.debugfile != "/dev/null":
        add_file(targets.debugfile, logging.DEBUG)
    if targets.logfacility and targets.logfacility.lower() != "none":
        facility = logging.handlers.SysLogHandler.facility_names.get(targets.logfacility.lower())
        if facility is None:
            problems.append(f"unknown syslog facility {targets.logfacility}")
        elif os.path.exists(SYSLOG_SOCKET):
            handler = logging.handlers.SysLogHandler(address=SYSLOG_SOCKET, facility=facility)
            handler.setLevel(logging.INFO)
            handler.setFormatter(
                logging.Formatter("twinbeat[%(process)d]: %(levelname)s: %(message)s")
            )
            logger.addHandler(handler)
        else:
            problems.append(f"no syslog socket at {SYSLOG_SOCKET}; logfacility ignored")
    if targets.stderr or not logger.handlers:
        # Under systemd stderr is the journal; with nothing configured heartbeat would use logd.
        journal = logging.StreamHandler(sys.stderr)
        journal.setLevel(logging.INFO)
        journal.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        logger.addHandler(journal)
    for problem in problems:
        logger.warning(problem)
    return problems
