"""The client poller's lines as the parent reads them (lab/poller.py), one address or several
(bench/compare.py probes two VIPs with one prober)."""

from __future__ import annotations

import io
from typing import Any

from twinbeat.lab.poller import Poller


class FakeProcess:
    def __init__(self, lines: list[str]) -> None:
        self.stdout = io.BytesIO("".join(line + "\n" for line in lines).encode())

    def poll(self) -> int:
        return 0

    def wait(self, _timeout: float) -> int:
        return 0

    def terminate(self) -> None:
        pass


def poller(lines: list[str]) -> Poller:
    p = Poller(FakeProcess(lines))  # type: ignore[arg-type]
    p._thread.join(2)
    return p


def test_one_address_lines_are_bodies_and_lost_requests() -> None:
    p = poller(["10.000000 prime", "10.500000 ! 9.400000", "11.000000 calc"])
    assert p.first("calc", 10.2, 0) == 11.0
    assert p.lost(9.0, 10.0) == [9.4]


def test_tagged_lines_keep_their_address_in_the_body() -> None:
    lines = ["10.000000 prime@198.18.1.100", "10.001000 prime@198.18.1.101",
             "10.300000 ! 9.300000@198.18.1.101", "10.400000 calc@198.18.1.101",
             "10.600000 calc@198.18.1.100"]
    p = poller(lines)
    assert p.first("calc@198.18.1.101", 10.0, 0) == 10.4
    assert p.first("calc@198.18.1.100", 10.0, 0) == 10.6
    assert p.lost(9.0, 10.0) == [9.3]
    got: Any = p.bodies_between(10.0, 10.001)
    assert got == {"prime@198.18.1.100", "prime@198.18.1.101"}
