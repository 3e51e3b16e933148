"""Which configuration the peer runs, and reading its groups during a rolling reload.

Owns `Layouts`, the group lists (keys in haresources order) of this run's earlier
configurations by fingerprint, and the rule that says whether a frame's group bytes can be
read (`peer_groups`), and in which layout our own go out (`Layouts.outgoing`).

A frame carries the sender's configuration fingerprint and one byte per group, in the
sender's haresources order. The bytes mean something only to a node that knows that order:

- **Same fingerprint**: the same groups in the same order; read as they are.
- **A fingerprint of one of our earlier configurations** (a reload changed ours, and the peer
  has not reloaded yet): we know that order, so its bytes are read by group key into ours. A
  group the peer's files do not have shows NONE (the peer never starts it) and is *absent*:
  not claimed here until the peer has it too, for it may take over what one of the peer's
  groups still runs (an address moved from a removed line to a new one); one it has and
  ours no longer does is ignored. Meanwhile our own frames go out *in the peer's layout*,
  with its fingerprint and NODE_FLAG_TRANSLATED, so that the peer, which cannot know our new
  files, reads them as its own: each of its groups shows our state for that key (NONE for
  one we removed and stopped). So both nodes keep judging each other, and a split brain, a
  failback or a takeover request during the window between the two reloads is handled as
  always. A translated frame tells the receiver nothing of the sender's own files, only that
  they changed since its last untranslated frame: it is answered in the receiver's own layout.
  So two nodes that both reloaded never keep translating for each other: each sends its own
  layout, and they match, or one translates for the other, or they mismatch for real.
- **Anything else**: a mismatch. The peer's groups are unknown: nothing is acquired on its
  account and nothing is handed over (groups.py), logged once per episode.

Must import nothing doing I/O, and no other core module's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .events import Action, FrameReceived, Log
from .ownership import GroupView
from .states import NODE_FLAG_TRANSLATED, WireGroupState, decode_group

# Earlier configurations remembered (each reload adds one).
KEPT = 4
NOT_HELD = GroupView(WireGroupState.NONE, False, False)


@dataclass
class Layouts:
    """The group keys of this run's earlier configurations, by fingerprint."""

    known: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def remember(self, fingerprint: int, keys: tuple[str, ...], current: int) -> None:
        """A reload replaced the configuration `fingerprint` (its groups `keys`) by `current`."""
        self.known.pop(current, None)
        if fingerprint != current:
            self.known[fingerprint] = keys
        while len(self.known) > KEPT:
            del self.known[next(iter(self.known))]

    def outgoing(self, peer_fingerprint: int | None) -> tuple[int, tuple[str, ...]] | None:
        """The layout our frames go out in (fingerprint, keys), when the peer last said it
        runs one of our earlier configurations; None: our own."""
        if peer_fingerprint is None or peer_fingerprint not in self.known:
            return None
        return peer_fingerprint, self.known[peer_fingerprint]


@dataclass
class ConfigView:
    """What membership keeps of the peer's configuration (on its `PeerTracker`)."""

    fingerprint: int | None = None  # of the peer's own files (its untranslated frames)
    translating: bool = False  # reading it in one of our earlier layouts (logged once)
    absent: frozenset[int] = frozenset()  # our groups (indices) its files do not have


def peer_groups(ev: FrameReceived, out: list[Action], *, fingerprint: int,
                keys: Sequence[str], layouts: Layouts, name: str, view: ConfigView
                ) -> tuple[GroupView, ...] | None:
    """The peer's groups in our layout (our `keys`, our `fingerprint`), or None when its
    configuration cannot be read (see the module docstring)."""
    translated = bool(ev.node_flags & NODE_FLAG_TRANSLATED)
    # A translated frame says the peer changed its files since its last frame in its own
    # layout: what it said then is stale, so ours go out in our own layout again.
    view.fingerprint = None if translated else ev.fingerprint
    theirs = tuple(GroupView(*decode_group(byte)) for byte in ev.groups)
    view.absent = frozenset()
    if ev.fingerprint == fingerprint and len(theirs) == len(keys):
        view.translating = False
        return theirs
    earlier = None if translated else layouts.known.get(ev.fingerprint)
    if earlier is None or len(earlier) != len(theirs):
        return None
    if not view.translating:
        view.translating = True
        out.append(Log("info", f"node {name} runs this node's previous configuration "
                               f"(fingerprint {ev.fingerprint:08x}): reading its groups by "
                               "name until it reloads"))
    by_key = dict(zip(earlier, theirs, strict=True))
    view.absent = frozenset(i for i, key in enumerate(keys) if key not in by_key)
    return tuple(by_key.get(key, NOT_HELD) for key in keys)
