"""`twinbeat run`'s entry: the daemon's imports, lean, then the composition root.

pyroute2's package `__init__` imports the whole library — IPDB, NDB (with sqlite3), conntrack,
nl80211, ipset, IPVS, WireGuard, the asyncio event sockets, even unittest — where the daemon
uses IPRoute and the rtnl message classes. That cost the lab's daemon about 24 MB of RSS and
0.4-0.7 s of its start-up (a failback starts with a daemon's start: issue #17). `lean()`
registers the package without running its `__init__`, so that importing the submodules the
daemon names (`pyroute2.iproute.linux`, `pyroute2.netlink...`) loads only what they need.

Only the daemon does this, before anything imports pyroute2: the rest of twinbeat (the CLI's
other commands, the lab, the tests) loads the package as usual, and the daemon's modules
import submodules only, which works either way.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys


def lean() -> bool:
    """Register pyroute2 without its `__init__`; False if it is already imported (or
    missing, which the import that needs it will say)."""
    if "pyroute2" in sys.modules:
        return False
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.submodule_search_locations is None:
        return False
    sys.modules["pyroute2"] = importlib.util.module_from_spec(spec)  # its code not run
    return True


def main(args: argparse.Namespace) -> int:
    lean()
    from twinbeat.daemon.start import main as run  # noqa: PLC0415 (after lean(), on purpose)

    return run(args)
