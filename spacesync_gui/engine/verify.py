"""Verify (SPEC 3.1 step 6), the cheap part: does the disk still hold, at every path a run
touched, what the index now records there?

The executor writes into the index what it put on disk (with the hash it verified while
copying), so a touched path whose stat data still match its entry needs no rescan. Only the
folders of paths that do not match are rescanned before planning again; a run of many
small changes no longer lists every folder of both sides.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from .plan import Item, Snapshot, other
from .snapshots import Side

_KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def matches(path: str, entry: Item | None) -> bool:
    """Whether `path` on disk is what `entry` records (None: nothing there)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return entry is None
    if entry is None or _KINDS.get(stat.S_IFMT(st.st_mode)) != entry.kind:
        return False
    if entry.kind == "file":
        return (
            st.st_size == entry.size
            and st.st_mtime_ns == entry.mtime_ns
            and st.st_ino == entry.inode
            and stat.S_IMODE(st.st_mode) == entry.mode
        )
    if entry.kind == "symlink":
        return os.readlink(path) == entry.link
    return True  # a folder's own stat data are not compared (its mtime follows its children)


def stale_folders(
    sides: dict[str, Side], keys: Iterable[str], entries: dict[str, Snapshot]
) -> dict[str, set[str]]:
    """Side name -> folders (keys) holding a touched path that differs from its entry.

    `entries`: side name -> the index entries of `keys` on that side (`load_keys`); a key
    without one is expected absent on disk."""
    out: dict[str, set[str]] = {}
    for name, side in sides.items():
        found = entries[name]
        twin = sides[other(name)]
        for key in keys:
            if not matches(side.abs_path(key, twin), found.get(key)):
                out.setdefault(name, set()).add(key.rpartition("/")[0])
    return out
