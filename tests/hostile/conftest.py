"""tests/hostile/: every hostile-input test in one place (docs/security.md has the index).

Wire, serial line garbage, the control socket, floods, replays, corrupt state files and
hostile configuration: each test feeds the daemon (or one of its parts) input an attacker or
a broken machine could produce, and asserts it is refused or counted, never a crash and never
a state change. The namespace-based ones reuse the integration helpers (pair.py,
harness_fixtures.py), which live beside the integration tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
