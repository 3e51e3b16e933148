"""Files only root may write: authkeys and the secret files (fence passwords).

Both are judged on the `fstat` of the descriptor already open (never on the path again, so a
file swapped after the check is not the one read), by the same three rules, as heartbeat
judged its keyfile: a plain file (a FIFO would hang the reader, a device or directory is no
key), owned by root (whoever owns it may rewrite it, whatever its mode), and no group/other
bits. Each caller words the remedy for its own file and reports in its own way.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


@dataclass(frozen=True)
class Problem:
    """One broken rule; `fatal`: the file must not even be read."""

    message: str
    fatal: bool = False


def root_file_problems(st: os.stat_result, *, must: str, owner_fix: str,
                       mode_fix: str = "") -> list[Problem]:
    """What is wrong with the file `st` describes. `must` ends the not-a-plain-file message
    ("authkeys must be a plain file"); `owner_fix` names what root alone may own and how
    ("the keys (chown root authkeys)"); `mode_fix` follows "600 recommended"."""
    if not stat.S_ISREG(st.st_mode):
        kind = FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a plain file")
        return [Problem(f"not a regular file ({kind}); {must}", fatal=True)]
    problems = []
    if st.st_uid != 0:
        problems.append(Problem(f"owned by uid {st.st_uid}, not root; only root may own "
                                f"{owner_fix}"))
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        # heartbeat: "Bad permissions on keyfile [...], 600 recommended." (it checks only
        # the read bits; a group- or world-writable file is as bad).
        problems.append(Problem(f"bad permissions {mode:04o} (group/other may read or write "
                                f"it); 600 recommended{mode_fix}"))
    return problems
