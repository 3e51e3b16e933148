"""The control socket: status for anyone, state changes for root only (SO_PEERCRED)."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import trio

from twinbeat.control.client import DaemonNotRunningError, format_status, request
from twinbeat.control.server import ControlServer, ControlSocketError, open_control_listener

STATUS = {
    "node": "prime", "state": "active", "generation": 3, "healthy": True,
    "peers": [{"name": "calc", "alive": True, "state": "active", "generation": 9,
               "last_heard_age": 0.05}],
    "links": [{"peer": "calc", "name": "eth1", "up": True, "last_heard_age": 0.05,
               "rtt_ms": 0.3, "frames_ok": 10, "rejected": {"mac": 2}, "replayed": 1,
               "duplicates": 0, "late": 0, "max_gap": 0.12, "margin": 0.88}],
    "groups": [{"key": "IPaddr::198.18.1.100/24/eth0", "primary": "prime",
                "holder": "prime", "state": "held", "since_age": 1.0}],
}


class Recorder:
    def __init__(self):
        self.handoffs = []
        self.clears = []

    def status(self):
        return STATUS

    async def handoff(self, cmd, which, timeout):
        self.handoffs.append((cmd, which, timeout))
        return {"ok": True, "moved": [{"key": "k", "from": "prime", "to": "calc"}]}

    async def clear(self, group):
        self.clears.append(group)
        return {"ok": True, "cleared": [group or "k"]}


async def serve(tmp_path, nursery, recorder):
    listener = await open_control_listener(str(tmp_path))
    nursery.start_soon(ControlServer(recorder.status, recorder.handoff,
                                     clear=recorder.clear).serve, listener)


async def test_status_and_standby_as_root(tmp_path, nursery):
    recorder = Recorder()
    await serve(tmp_path, nursery, recorder)
    with trio.fail_after(10):
        reply = await trio.to_thread.run_sync(request, str(tmp_path), {"cmd": "status"}, 5.0)
        control = reply["status"].pop("control")  # the server's own counters
        assert reply == {"ok": True, "status": STATUS}
        assert control["connections"] == 1 and control["connections_refused"] == 0
        if os.geteuid() != 0:
            pytest.skip("standby as root needs root")
        reply = await trio.to_thread.run_sync(
            request, str(tmp_path), {"cmd": "standby", "which": "local", "timeout": 3}, 5.0
        )
    assert reply["ok"] is True
    assert recorder.handoffs == [("standby", "local", 3.0)]


@pytest.mark.root
async def test_clear_as_root(tmp_path, nursery):
    recorder = Recorder()
    await serve(tmp_path, nursery, recorder)
    with trio.fail_after(10):
        every = await trio.to_thread.run_sync(request, str(tmp_path), {"cmd": "clear"}, 5.0)
        one = await trio.to_thread.run_sync(
            request, str(tmp_path), {"cmd": "clear", "group": "IPaddr::198.18.1.100"}, 5.0)
        bad = await trio.to_thread.run_sync(
            request, str(tmp_path), {"cmd": "clear", "group": 7}, 5.0)
    assert every == {"ok": True, "cleared": ["k"]}
    assert one == {"ok": True, "cleared": ["IPaddr::198.18.1.100"]}
    assert bad["ok"] is False and "group must be a group key" in bad["error"]
    assert recorder.clears == [None, "IPaddr::198.18.1.100"]


async def test_bad_requests_get_an_error_and_change_nothing(tmp_path, nursery):
    recorder = Recorder()
    await serve(tmp_path, nursery, recorder)
    bad = [
        {"cmd": "reboot"},
        {"cmd": "standby", "which": "everything"},
        {"cmd": "takeover", "which": "all", "timeout": -1},
    ]
    with trio.fail_after(10):
        for message in bad:
            reply = await trio.to_thread.run_sync(request, str(tmp_path), message, 5.0)
            assert reply["ok"] is False and reply["error"]
    assert recorder.handoffs == []


@pytest.mark.root
async def test_non_root_may_read_status_but_not_change_state(nursery):
    recorder = Recorder()
    # pytest's tmp_path is under a 0700 directory; uid 65534 must be able to reach the socket.
    tmp_path = Path(tempfile.mkdtemp(prefix="tb-control-"))
    os.chmod(tmp_path, 0o755)
    await serve(tmp_path, nursery, recorder)
    def ask_as_nobody():
        # Fork so that only the child drops to uid 65534: SO_PEERCRED is taken at connect().
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                os.setgid(65534)
                os.setuid(65534)
                answers = [
                    request(str(tmp_path), {"cmd": "status"}, 5)["ok"],
                    request(str(tmp_path), {"cmd": "takeover", "which": "all"}, 5),
                    request(str(tmp_path), {"cmd": "clear"}, 5),
                ]
                os.write(write_end, json.dumps(answers).encode())
            except BaseException as exc:
                os.write(write_end, repr(exc).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        return data

    with trio.fail_after(30):
        data = await trio.to_thread.run_sync(ask_as_nobody)
    shutil.rmtree(tmp_path)
    status_ok, takeover, clear = json.loads(data)
    assert status_ok is True
    assert takeover["ok"] is False and "permission denied" in takeover["error"]
    assert clear == {"ok": False, "error": "clear: permission denied (only root may do this)"}
    assert recorder.handoffs == [] and recorder.clears == []


async def test_second_daemon_on_the_same_socket_is_refused(tmp_path, nursery):
    await serve(tmp_path, nursery, Recorder())
    with pytest.raises(ControlSocketError, match="another twinbeat daemon is running"):
        await open_control_listener(str(tmp_path))


async def test_stale_socket_file_is_replaced(tmp_path, nursery):
    (tmp_path / "control.sock").write_text("")  # nobody listens there
    await serve(tmp_path, nursery, Recorder())
    with trio.fail_after(10):
        reply = await trio.to_thread.run_sync(request, str(tmp_path), {"cmd": "status"}, 5.0)
    assert reply["ok"] is True


def test_client_reports_daemon_not_running(tmp_path):
    with pytest.raises(DaemonNotRunningError, match="not running"):
        request(str(tmp_path), {"cmd": "status"}, 1.0)


def test_human_status_shows_rejected_frames_of_unknown_senders():
    text = format_status({**STATUS, "rejected_unattributed": {"eth1": {"mac": 4, "length": 1}}})
    assert "rejected on eth1 (sender unknown): length 1, mac 4" in text


def test_human_status_shows_links_and_groups():
    text = format_status(STATUS)
    assert "calc:eth1" in text and "up" in text
    assert "IPaddr::198.18.1.100/24/eth0" in text
    assert "healthy" in text


def test_human_status_shows_what_the_control_socket_refused():
    quiet = format_status({**STATUS, "control": {"connections": 5, "bad_requests": 0}})
    assert "control socket" not in quiet
    text = format_status({**STATUS, "control": {"connections": 9, "connections_refused": 40,
                                                "state_changes_refused": 3}})
    assert ("control socket: 40 connections refused (busy), "
            "3 state changes refused (not root)") in text


def test_human_status_shows_each_resources_check_and_failures():
    group = {**STATUS["groups"][0], "failed_here": True, "resources": [
        {"index": 0, "text": "IPaddr::198.18.1.100/24/eth0", "fail_count": 0,
         "last_failure": None, "check": "ok", "check_age": 1.5, "interval": 5.0,
         "monitored": True},
        {"index": 1, "text": "apache2", "fail_count": 2,
         "last_failure": "apache2: status said 'stopped' " + "x" * 80,
         "check": "not-running", "check_age": 12.0, "interval": 5.0, "monitored": True},
        {"index": 2, "text": "web", "fail_count": 0, "last_failure": None, "check": None,
         "check_age": None, "interval": None, "monitored": False},
        {"index": 3, "text": "db", "fail_count": 0, "last_failure": None, "check": None,
         "check_age": None, "interval": 5.0, "monitored": False},
    ]}
    lines = format_status({**STATUS, "groups": [group]}).splitlines()
    assert lines[-7].endswith("held (failed here)")
    assert lines[-5:] == [
        "RESOURCE                      CHECK        CHECKED     FAILS  LAST FAILURE",
        "IPaddr::198.18.1.100/24/eth0  ok           1500ms ago  0      -",
        "apache2                       not-running  12s ago     2      apache2: status said "
        "'stopped' " + "x" * 26 + "...",
        "web                           off          -           0      -",
        "db                            -            -           0      -",
    ]
