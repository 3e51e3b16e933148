"""Fencing in `twinbeat status` (statusview.py, client.py) and the fence-ack checks.

A fence the core needs and has not settled makes the cluster degraded (exit 1); the text
view tells the operator what `fence-ack` is for; no view invents what the core did not say.
"""

from __future__ import annotations

import argparse
import io
from dataclasses import replace

from twinbeat.control import client
from twinbeat.control.client import format_status
from twinbeat.control.statusview import status_view
from twinbeat.core import FenceRecord, FenceSnapshot, Snapshot
from twinbeat.daemon.fencer import fence_ack_refusal

HEALTHY = Snapshot(node="prime", state="active", generation=3, now=100.0, ping_ok=None,
                   peers=(), links=(), groups=())
REASON = "stonith_host * external/ipmi (ha.cf:12): timed out after 60s (killed)"
FAILED = FenceSnapshot(state="retrying", peer="calc", attempts=2, last_result="failed",
                       since=90.0, next_attempt=104.0, degraded=True,
                       reason="calc is dead and not fenced: no takeover until it is",
                       history=(FenceRecord(80.0, "failed", REASON),
                                FenceRecord(90.0, "failed", REASON)))
FENCED = replace(FAILED, state="fenced", attempts=3, last_result="fenced", next_attempt=None,
                 degraded=False, reason=None,
                 history=(*FAILED.history, FenceRecord(95.0, "fenced", None)))


def test_without_fencing_the_view_says_null() -> None:
    view = status_view(HEALTHY)
    assert view["fencing"] is None and view["healthy"] is True


def test_the_fencing_section_with_ages() -> None:
    view = status_view(replace(HEALTHY, fencing=FAILED))
    assert view["fencing"] == {
        "state": "retrying", "peer": "calc", "degraded": True,
        "reason": "calc is dead and not fenced: no takeover until it is", "attempts": 2,
        "last_result": "failed", "since_age": 10.0, "next_attempt_in": 4.0,
        "history": [{"result": "failed", "reason": REASON, "age": 20.0},
                    {"result": "failed", "reason": REASON, "age": 10.0}]}


def test_the_cores_degraded_decides_health() -> None:
    # Whatever the state is called: the core says whether a fence is outstanding.
    for state in ("unseen", "waiting", "fencing", "failed", "retrying", "new-state"):
        degraded = replace(HEALTHY, fencing=replace(FAILED, state=state))
        assert status_view(degraded)["healthy"] is False
    assert status_view(replace(HEALTHY, fencing=FENCED))["healthy"] is True
    assert status_view(replace(HEALTHY, fencing=FENCED))["fencing"]["next_attempt_in"] is None


def test_text_status_tells_what_fence_ack_is_for() -> None:
    view = status_view(replace(HEALTHY, fencing=FAILED))
    view["fence_devices"] = [{"device": "stonith_host * external/ipmi (ha.cf:12)",
                              "check": "failed", "detail": "stonith exited 2", "fenced": 0,
                              "failed": 2}]
    text = format_status(view)
    assert "cluster DEGRADED" in text
    assert f"fencing calc: retrying, 2 attempt(s), since 10s ago: {REASON}" in text
    assert "  DEGRADED: calc is dead and not fenced: no takeover until it is" in text
    assert ("  once calc is confirmed off (powered down, or cut from shared storage and the "
            "network): twinbeat fence-ack calc") in text
    assert ("fence device stonith_host * external/ipmi (ha.cf:12): check failed (stonith "
            "exited 2), 0 fenced, 2 failed") in text


def test_text_status_once_fenced_has_no_hint() -> None:
    text = format_status(status_view(replace(HEALTHY, fencing=FENCED)))
    assert "fencing calc: fenced, 3 attempt(s)" in text and "fence-ack" not in text


def test_text_status_without_fencing_has_no_fencing_lines() -> None:
    assert "fenc" not in format_status(status_view(HEALTHY))


def test_fence_ack_refusals() -> None:
    fenced = replace(HEALTHY, fencing=FAILED)
    assert fence_ack_refusal("CALC", "calc", fenced) is None
    assert fence_ack_refusal("dana", "calc", fenced) == "dana is not this node's peer (calc)"
    assert fence_ack_refusal("calc", None, fenced) == "this node has no peer"
    assert fence_ack_refusal("calc", "calc", HEALTHY) == (
        "no fencing configured for this node: nothing waits for a fence")


def _ack_args(tmp_path: object, yes: bool) -> argparse.Namespace:
    return argparse.Namespace(node="Calc", yes=yes, run_dir=str(tmp_path))


def test_fence_ack_asks_first_and_refuses_without_a_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert client.fence_ack_main(_ack_args(tmp_path, yes=False)) == 1
    assert "not a terminal; pass --yes" in capsys.readouterr().err


def test_fence_ack_answered_no_sends_nothing(tmp_path, monkeypatch, capsys):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    sent: list[object] = []
    monkeypatch.setattr("sys.stdin", Tty("n\n"))
    monkeypatch.setattr(client, "request", lambda *a, **k: sent.append(a) or {"ok": True})
    assert client.fence_ack_main(_ack_args(tmp_path, yes=False)) == 1
    captured = capsys.readouterr()
    assert "WARNING! If node calc has not been powered off" in captured.out
    assert "not acknowledged" in captured.err and sent == []


def test_fence_ack_sends_the_lower_cased_node(tmp_path, monkeypatch, capsys):
    sent: list[dict[str, object]] = []

    def fake(run_dir: str, message: dict[str, object], timeout: float) -> dict[str, object]:
        sent.append(message)
        return {"ok": True, "node": "calc", "fencing": {"state": "acknowledged"}}

    monkeypatch.setattr(client, "request", fake)
    assert client.fence_ack_main(_ack_args(tmp_path, yes=True)) == 0
    assert sent == [{"cmd": "fence-ack", "node": "calc"}]
    assert capsys.readouterr().out == (
        "twinbeat fence-ack: calc acknowledged as off; fencing now acknowledged\n")


def test_fence_ack_without_a_daemon(tmp_path, capsys):
    assert client.fence_ack_main(_ack_args(tmp_path, yes=True)) == client.EXIT_NOT_RUNNING
