"""Share a whole-endpoint scan between this process and a forked child.

A sync scans its two endpoints at once, one in a forked child (forked_scans.py). When one
of them is nearly empty (the target of an initial sync) or only one is scanned (the verify
of a big run), that leaves a core idle while the other scans 100,000 files. So a whole
endpoint's scan is split: the child scans some of its top-level folders as subtrees, and
this process scans the rest of the endpoint, stepping over those folders (their entries
are visited, what is below them is not: `scan_location(skip=...)`). Each scan writes its
own part of the index; no two write the same rows but the folders' own entries, which both
stat alike.
"""

from __future__ import annotations

import os

from .rules import builtin_ignored
from .snapshots import Side

# Each of the child's folders is a scan of its own (a connection, a transaction): a few ms.
MAX_CHILD_FOLDERS = 32


def _plain(name: str) -> bool:
    """A name that is its own key (no NFC, backslash or undecodable-byte handling)."""
    return name.isascii() and "\\" not in name and not builtin_ignored(name)


def child_folders(side: Side) -> frozenset[str]:
    """Keys of the endpoint's top-level folders for the child: every second one by name.

    Empty when the endpoint cannot be listed (its own scan reports that) or has fewer than
    two folders (nothing worth sharing)."""
    try:
        with os.scandir(side.endpoint) as it:
            names = sorted(
                de.name for de in it if _plain(de.name) and de.is_dir(follow_symlinks=False)
            )
    except OSError:
        return frozenset()
    return frozenset(side.full_key(n) for n in names[1::2][:MAX_CHILD_FOLDERS])
