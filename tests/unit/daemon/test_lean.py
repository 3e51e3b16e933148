"""`twinbeat run` imports pyroute2 without its package `__init__` (daemon/lean.py): the
daemon's modules load, and the bulk of the library (NDB and its sqlite3, IPDB, ...) does not.
Run in a fresh interpreter: this test process has imported the whole package already."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from twinbeat.daemon.lean import lean
assert lean()
import twinbeat.daemon.start
from pyroute2.iproute.linux import IPRoute
with IPRoute() as ipr:
    assert ipr.link_lookup(ifname="lo") == [1]
# and what only some daemons need (issue #17, RSS): a metrics endpoint, OCF meta-data
heavy = [m for m in ("pyroute2.ndb", "pyroute2.ipdb", "pyroute2.conntrack", "sqlite3",
                     "prometheus_client", "xml.etree.ElementTree") if m in sys.modules]
print(",".join(heavy) or "lean")
"""


def test_the_daemon_imports_only_the_pyroute2_it_uses() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], check=False, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lean"


def test_lean_does_nothing_once_pyroute2_is_imported() -> None:
    import pyroute2  # noqa: F401, PLC0415 (the point: imported as a whole first)

    from twinbeat.daemon.lean import lean  # noqa: PLC0415

    assert lean() is False
