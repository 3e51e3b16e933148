"""`realtime`, `watchdog` and the log targets of ha.cf: best effort, never fatal, as heartbeat."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import mmap
import os

import pytest

from twinbeat.daemon.logsetup import LogTargets, setup_logging
from twinbeat.daemon.realtime import WatchdogDevice, _lock_memory, enter_realtime


@pytest.fixture(autouse=True)
def restore_twinbeat_logger():
    logger = logging.getLogger("twinbeat")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:], logger.level, logger.propagate = saved


def test_watchdog_is_fed_a_byte_per_keepalive_and_disarmed_on_close(tmp_path):
    device = tmp_path / "watchdog"
    device.write_bytes(b"")
    watchdog = WatchdogDevice(str(device))
    watchdog.feed()
    watchdog.feed()
    watchdog.close()
    assert device.read_bytes() == b"\0\0V"  # 'V' is the kernel's magic close


def test_entering_realtime_reports_problems_instead_of_raising():
    pid = os.fork()
    if pid == 0:  # a child, so the test runner itself never runs SCHED_FIFO
        try:
            warnings = enter_realtime()
            ok = all(isinstance(w, str) and w.startswith("realtime:") for w in warnings)
            policy = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
            fifo_or_warned = policy == os.SCHED_FIFO or any("SCHED_FIFO" in w for w in warnings)
            os._exit(0 if ok and fifo_or_warned else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def test_realtime_locks_the_pages_the_daemon_touches_not_every_page_it_maps():
    """Issue #17 (RSS): mlockall on fault. A mapping made after the lock and never touched
    stays out of memory (plain MCL_FUTURE would read in all 16 MB), and what is touched
    is locked."""
    pid = os.fork()
    if pid == 0:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            if not _lock_memory(libc):
                os._exit(3)
            before = _status_kb("VmRSS")
            area = mmap.mmap(-1, 16 << 20)
            grown = _status_kb("VmRSS") - before
            area[0] = 1  # touched: now in memory and locked
            locked = _status_kb("VmLck")
            os._exit(0 if grown < 4096 and locked > 0 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 3:
        pytest.skip("mlockall refused here (no CAP_IPC_LOCK or a memlock limit)")
    assert code == 0


def test_a_kernel_without_lock_on_fault_gets_the_plain_lock():
    calls: list[int] = []

    class OldLibc:
        def mlockall(self, flags: int) -> int:
            calls.append(flags)
            if flags & 4:  # MCL_ONFAULT: unknown before Linux 4.4
                ctypes.set_errno(errno.EINVAL)
                return -1
            return 0

    assert _lock_memory(OldLibc())  # type: ignore[arg-type]
    assert calls == [7, 3]


def test_logfile_gets_heartbeat_style_lines_and_debugfile_gets_debug(tmp_path):
    logfile, debugfile = tmp_path / "ha-log", tmp_path / "ha-debug"
    problems = setup_logging(
        LogTargets(node="prime", logfile=str(logfile), debugfile=str(debugfile))
    )
    assert problems == []
    log = logging.getLogger("twinbeat")
    log.info("Link calc:eth1 dead.")
    log.debug("a debug line")
    for handler in log.handlers:
        handler.flush()
    line = logfile.read_text().strip()
    assert " prime twinbeat[" in line and line.endswith("]: INFO: Link calc:eth1 dead.")
    assert "a debug line" not in logfile.read_text()
    assert "a debug line" in debugfile.read_text()


def test_unusable_log_targets_are_reported_and_stderr_is_used(tmp_path):
    problems = setup_logging(
        LogTargets(node="prime", logfile=str(tmp_path / "no" / "such" / "dir" / "ha-log"),
                   logfacility="nonsense")
    )
    assert any("cannot open log file" in p for p in problems)
    assert any("unknown syslog facility nonsense" in p for p in problems)
    handlers = logging.getLogger("twinbeat").handlers
    assert any(isinstance(h, logging.StreamHandler) for h in handlers)
