"""A running pair whose metrics endpoint is attacked from the peer's namespace: slowloris
connections that hold every slot, garbage, oversized heads and a connection flood, for a few
seconds. The heartbeats must not notice: no link dies, the group stays put, and once the
attack ends a scrape is answered and the refusals are counted.
"""

from __future__ import annotations

import pytest
import trio
from pair import ADDRESSES, Pair
from test_daemon_metrics import METRICS, PORT, scrape, value

pytestmark = pytest.mark.root

GUARD = 90
ATTACK_SECONDS = 4.0

ATTACK = """
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(40):  # slowloris: every slot, never finishing the head
    try:
        s = socket.create_connection((host, port), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\\r\\nX-Slow: ")
        held.append(s)
    except OSError:
        pass
payloads = [b"\\x00\\xff" * 600, b"GET /" + b"a" * 20000 + b" HTTP/1.1\\r\\n\\r\\n",
            b"POST /metrics HTTP/1.1\\r\\n\\r\\n", b"GET /metrics HTTP/1.1\\r\\n\\r\\n"]
end, sent = time.monotonic() + seconds, 0
while time.monotonic() < end:
    try:
        s = socket.create_connection((host, port), timeout=0.5)
        s.sendall(payloads[sent % len(payloads)])
        s.close()
        sent += 1
    except OSError:
        time.sleep(0.001)
print(sent)
"""


async def test_an_attacked_endpoint_never_disturbs_the_heartbeats(harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path, extra_hacf=METRICS)
        await pair.start()
        marks = {node.name: node.log.mark() for node in pair.nodes}
        before = pair.prime.status()
        assert before is not None
        result = harness.python(pair.ns["calc"], ATTACK, ADDRESSES["prime"], str(PORT),
                                str(ATTACK_SECONDS), timeout=60)
        assert result.returncode == 0, result.stderr
        assert int(result.stdout) > 0
        await trio.sleep(0.5)
        for node in pair.nodes:
            text = node.log.read(marks[node.name])
            assert "dead" not in text and "acquiring" not in text and "Traceback" not in text
        assert pair.prime.holds() and not pair.calc.holds()
        status = pair.prime.status()
        assert status is not None and status["healthy"] is True
        # no heartbeat of calc's came later than warntime meanwhile
        assert [link["late"] for link in status["links"]] == \
            [link["late"] for link in before["links"]]
        samples = None
        while samples is None:  # the slowloris slots free up within the request timeout
            samples = scrape(harness, pair.ns["calc"], ADDRESSES["prime"])
            await trio.sleep(0.5)
        # Which refusal each connection got depends on timing (all of them come from one
        # address, whose 4 slots the slowloris clients hold): the caps engaged, and the
        # requests that did get a slot were refused, each counted under its outcome.
        refused = {outcome: value(samples, "twinbeat_metrics_requests_total", outcome=outcome)
                   or 0 for outcome in ("busy", "bad_request", "too_large",
                                        "method_not_allowed", "timeout")}
        assert refused["busy"] > 0, refused
        assert sum(refused.values()) - refused["busy"] > 0, refused
        assert value(samples, "twinbeat_link_up", peer="calc", link="eth1") == 1
