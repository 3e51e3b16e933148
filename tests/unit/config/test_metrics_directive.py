"""`metrics ADDRESS:PORT` (config/metrics.py): twinbeat's own, off by default, each problem
at its ha.cf line."""

from __future__ import annotations

import pytest
from config_helpers import HOWTO_HACF, lines_of, texts

from twinbeat.cli import main
from twinbeat.config.hacf import parse_hacf
from twinbeat.config.messages import Report
from twinbeat.config.metrics import MAX_ENDPOINTS, parse_endpoint
from twinbeat.config.model import HaCf, MetricsEndpoint

PATH = "/etc/ha.d/ha.cf"


def parse(extra: str) -> tuple[HaCf, list[str]]:
    lines, _ = lines_of(HOWTO_HACF + extra, PATH)
    report = Report()
    hacf = parse_hacf(lines, PATH, report)
    return hacf, texts(report.errors)


def test_off_by_default() -> None:
    hacf, errors = parse("")
    assert (hacf.metrics, errors) == ((), [])


@pytest.mark.parametrize(("token", "host", "port"), [
    ("127.0.0.1:9694", "127.0.0.1", 9694),
    ("0.0.0.0:9694", "0.0.0.0", 9694),
    ("[::1]:9694", "::1", 9694),
    ("[::]:80", "::", 80),
    ("[fe80::1%eth0]:9694", "fe80::1%eth0", 9694),
    ("198.18.0.1:65535", "198.18.0.1", 65535),
])
def test_accepted_endpoints(token: str, host: str, port: int) -> None:
    hacf, errors = parse(f"metrics {token}\n")
    assert errors == []
    assert hacf.metrics == (MetricsEndpoint(host, port),)
    assert str(hacf.metrics[0]) == token


@pytest.mark.parametrize(("token", "problem"), [
    ("127.0.0.1", "needs ADDRESS:PORT, e.g. 127.0.0.1:9694 or [::1]:9694"),
    (":9694", "needs ADDRESS:PORT, e.g. 127.0.0.1:9694 or [::1]:9694"),
    ("[::1]9694", "needs ADDRESS:PORT, e.g. 127.0.0.1:9694 or [::1]:9694"),
    ("localhost:9694", "bad IPv4 address localhost (a literal address, not a name)"),
    ("::1:9694", "put an IPv6 address in brackets: [::1]:9694"),
    ("[2001:db8::zz]:9694", "bad IPv6 address 2001:db8::zz"),
    ("[fe80::1]:9694", "a link-local IPv6 address needs its interface ([fe80::1%eth0])"),
    ("224.0.0.1:9694", "224.0.0.1 cannot be listened on"),
    ("[ff02::1]:9694", "ff02::1 cannot be listened on"),
    ("127.0.0.1:0", "bad port 0 (1-65535)"),
    ("127.0.0.1:65536", "bad port 65536 (1-65535)"),
    ("127.0.0.1:http", "bad port http (1-65535)"),
])
def test_refused_endpoints_name_the_line(token: str, problem: str) -> None:
    hacf, errors = parse(f"metrics {token}\n")
    assert errors == [f"{PATH}:10: metrics {token}: {problem}"]
    assert hacf.metrics == ()
    assert parse_endpoint(token) == problem


def test_one_value_per_line() -> None:
    _, errors = parse("metrics 127.0.0.1:1 127.0.0.1:2\n")
    assert errors == [f"{PATH}:10: metrics: takes exactly one value, got 2"]


def test_one_line_per_node_address_in_a_shared_file() -> None:
    hacf, errors = parse("metrics 198.18.0.1:9694\nmetrics 198.18.0.2:9694\n")
    assert errors == []
    assert [str(e) for e in hacf.metrics] == ["198.18.0.1:9694", "198.18.0.2:9694"]


def test_the_same_endpoint_twice_and_too_many_are_errors() -> None:
    lines = "".join(f"metrics 127.0.0.{n}:9694\n" for n in range(1, MAX_ENDPOINTS + 2))
    _, errors = parse("metrics 127.0.0.1:9694\n" + lines)
    assert errors == [
        f"{PATH}:11: metrics 127.0.0.1:9694: given twice",
        f"{PATH}:{11 + MAX_ENDPOINTS}: metrics 127.0.0.{MAX_ENDPOINTS + 1}:9694: at most "
        f"{MAX_ENDPOINTS} endpoints",
    ]


def test_check_lists_the_endpoints(write_dir, capsys) -> None:
    d = write_dir(hacf=HOWTO_HACF + "metrics 198.18.1.1:9694\nmetrics [fd00::1]:9694\n",
                  haresources="prime IPaddr2::fd00::100/64/eth0 apache2\n")
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 0
    out, _ = capsys.readouterr()
    assert "metrics:  http://198.18.1.1:9694/metrics, http://[fd00::1]:9694/metrics" in out
    assert "group:    IPaddr2::fd00::100/64/eth0 (preferred node prime)" in out
