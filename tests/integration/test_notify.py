"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import pytest

from twinbeat.daemon.notify import notify, watchdog_interval


def test_notify_path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(path)
        systemd.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert notify("READY=1")
        assert notify("STATUS=holding group 198.18.65.100")
        assert systemd.recv(4096) == b"READY=1"
        assert systemd.recv(4096) == b"STATUS=holding group 198.18.65.100"


def test_notify_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "tbd-notify-" + secrets.token_hex(4)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0" + name)
        systemd.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("WATCHDOG=1")
        assert systemd.recv(4096) == b"WATCHDOG=1"


def test_notify_errors_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert not notify("READY=1")


def test_notify_full_queue_does_not_block(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(path)  # never read: the queue fills, sends must fail, not block
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        results = [notify("WATCHDOG=1") for _ in range(2000)]
        assert results[0] and not results[-1]


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "2500000")
    assert watchdog_interval() == 2.5
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 2.5
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.setenv("WATCHDOG_USEC", "garbage")
    assert watchdog_interval() is None
