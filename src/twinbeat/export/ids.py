"""XML ids for the CIB, made from heartbeat's words, unique within one export.

Pacemaker's schema types every `id` as an XML NCName (a letter or `_`, then letters, digits,
`.`, `-`, `_`), and crmsh and pcs refuse the rest too. haresources texts hold `::`, `/` and
`=`, so each id is the readable part of its source with everything else turned into `_`, and
a clash gets `-2`, `-3`. Pure.
"""

from __future__ import annotations

import re

_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def readable(text: str) -> str:
    """`text` as an id: runs of other characters become one `_`; never empty."""
    word = _NOT_ID.sub("_", text).strip("_.-")
    if not word:
        return "r"
    return word if word[0].isalpha() or word[0] == "_" else f"r{word}"


class Ids:
    """The ids given so far; `take` makes each new one unique."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, text: str) -> str:
        base = readable(text)
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{base}-{n}"
        self._taken.add(candidate)
        return candidate
