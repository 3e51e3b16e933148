"""What the wire can carry, checked when the files are read (not at the first heartbeat).

These mirror `csrc/twinbeat_wire.h` (`TB_MAX_NAME`, `TB_MAX_GROUPS`); a unit test asserts
they are equal. They are copied rather than imported because config/ must not import the
cffi module: `twinbeat check` has to work where the C extension is not built.

This module must not import anything.
"""

from __future__ import annotations

#: A node name on the wire: 1-64 printable ASCII characters without spaces (TB_MAX_NAME).
MAX_NODE_NAME = 64
#: Per-group states in one frame, one byte each (TB_MAX_GROUPS).
MAX_GROUPS = 64
#: A frame carries its sender and is meant for one peer: two nodes are the product.
MAX_NODES = 2


def is_wire_name(name: str) -> bool:
    """True if the wire can carry `name` as a sender (the C codec's `name_ok`)."""
    return 0 < len(name) <= MAX_NODE_NAME and all("\x21" <= ch <= "\x7e" for ch in name)
