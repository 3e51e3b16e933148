"""The metrics endpoint of real daemons (ha.cf `metrics`), scraped across the lab's eth1 and
read back with prometheus_client's text parser.

Both nodes share one ha.cf with a `metrics` line per node's address, as an admin would write
it: each node serves its own and says once that the other is not one of its addresses.
"""

from __future__ import annotations

import signal

import pytest
import trio
from pair import ADDRESSES, Pair
from prometheus_client.parser import text_string_to_metric_families

from twinbeat.lab.harness import Harness

pytestmark = pytest.mark.root

GUARD = 60
PORT = 9694
METRICS = "".join(f"metrics {address}:{PORT}\n" for address in ADDRESSES.values())

SCRAPE = """
import socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
sock.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
data = b""
while chunk := sock.recv(65536):
    data += chunk
sys.stdout.write(data.decode())
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(harness: Harness, netns: str, address: str) -> Samples | None:
    """Every sample of `address`'s endpoint, scraped from inside `netns`; None if refused."""
    result = harness.python(netns, SCRAPE, address, str(PORT), timeout=15)
    if result.returncode != 0:
        return None
    # (the captured output is text: its CRLFs are newlines by now)
    head, _, body = result.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK"), head
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def scraped(pair: Pair, node: str, condition, what: str) -> Samples:
    """Scrape `node` from the other node's namespace until `condition(samples)` holds."""
    other = "calc" if node == "prime" else "prime"
    found: list[Samples] = []

    def check() -> bool:
        samples = scrape(pair.harness, pair.ns[other], ADDRESSES[node])
        found[:] = [samples] if samples is not None else []
        return samples is not None and bool(condition(samples))

    await pair.until(check, what)
    return found[0]


async def test_a_pair_is_scraped_and_a_failover_is_counted(harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path, extra_hacf=METRICS)
        await pair.start()
        tty = pair.serial_link["prime"]

        def healthy(s: Samples) -> bool:
            return value(s, "twinbeat_healthy") == 1 and \
                (value(s, "twinbeat_link_frames_ok_total", peer="calc", link=tty) or 0) > 0

        s = await scraped(pair, "prime", healthy, "prime's metrics show a healthy pair")
        assert value(s, "twinbeat_node_info", node="prime", peer="calc", version="0.1.0") == 1
        assert value(s, "twinbeat_node_phase", phase="active") == 1
        assert value(s, "twinbeat_peer_alive", peer="calc") == 1
        assert (value(s, "twinbeat_peer_generation", peer="calc") or 0) >= 1
        for link in ("eth1", tty):
            assert value(s, "twinbeat_link_up", peer="calc", link=link) == 1
            assert value(s, "twinbeat_link_open", link=link) == 1
            assert (value(s, "twinbeat_link_sent_total", link=link) or 0) > 0
            assert value(s, "twinbeat_link_rejected_total", peer="calc", link=link,
                         reason="link") is None  # nothing refused
        assert (value(s, "twinbeat_link_rtt_seconds", peer="calc", link="eth1") or 0) > 0
        assert value(s, "twinbeat_group_holder_is_self", group="dummy") == 1
        assert value(s, "twinbeat_group_state", group="dummy", state="held") == 1
        assert value(s, "twinbeat_group_acquisitions_total", group="dummy") == 1
        assert value(s, "twinbeat_group_failovers_total", group="dummy") == 0
        assert value(s, "twinbeat_resource_fail_count", group="dummy", resource="dummy") == 0
        assert (value(s, "twinbeat_loop_lag_seconds_count") or 0) > 0
        # a scrape is counted once answered, and a body is served again for up to a second:
        # a later one shows it
        await scraped(pair, "prime", lambda s: (value(
            s, "twinbeat_metrics_requests_total", outcome="ok") or 0) >= 1,
            "prime's metrics count the scrapes")

        pair.prime.kill(signal.SIGKILL)
        s = await scraped(pair, "calc", lambda s: value(
            s, "twinbeat_group_failovers_total", group="dummy") == 1,
            "calc's metrics count the failover")
        assert value(s, "twinbeat_group_holder_is_self", group="dummy") == 1
        assert value(s, "twinbeat_group_takeovers_total", group="dummy") == 1
        assert value(s, "twinbeat_peer_alive", peer="prime") == 0
        assert value(s, "twinbeat_link_up", peer="prime", link="eth1") == 0
        assert value(s, "twinbeat_healthy") == 0
        for node, other in (("prime", "calc"), ("calc", "prime")):
            lines = [line for line in node_log(pair, node).splitlines()
                     if f"metrics {ADDRESSES[other]}:{PORT}: cannot listen" in line]
            assert len(lines) == 1 and "not an address of this node" in lines[0], lines


def node_log(pair: Pair, name: str) -> str:
    return (pair.prime if name == "prime" else pair.calc).log.read()
