"""After a small run that ended clean, give the folders it wrote in their digests back.

A folder's listing digest (listing.py) vouches that its index entries match the disk; the
quick no-op (quick_noop.py) needs one on every folder to prove a sync has nothing to do
without loading the engine. Each entry a run writes clears its folder's digest (a
trigger), and so does the new mtime of the folder it wrote in, in that folder's parent.
The verify of a small run compares the touched paths, not whole listings, so without this
the next sync, with nothing to do, still loaded the engine and rescanned those folders
(0.26 s instead of 0.05 s on a 2,500-file tree).

So the parent of each folder written in is rescanned, stepping over (`skip`) every
subfolder the run did not write in or below: their entries are compared, their listings
and digests are left as they are. Only a few folders (a bigger run leaves it to the next
sync), and only after the run ended clean. Should the rescan find anything (another
writer's change after the verify), the run is no longer clean and says so
(service._restore_digests): the next run plans it.
"""

from __future__ import annotations

import os

from .db import Library
from .errors import SpaceSyncError
from .journal import with_ancestors
from .locations import scan
from .paths import ancestors
from .plan import Plan
from .snapshots import Side
from .weighing import plain_folders

# Above this many folders written in on a side, the next sync rescans them instead (each
# costs its listing and its files' stat calls: a few ms for a few dozen files).
MAX_FOLDERS = 32


def _parent(key: str) -> str:
    return key.rpartition("/")[0]


def _rescans(plan: Plan) -> dict[str, dict[str, set[str]]]:
    """Side name -> folder to rescan (endpoint key, "" for the endpoint) -> the written
    folders at or below it. A side written in too many folders is left out."""
    written: dict[str, set[str]] = {}
    for a in plan.actions:
        for path in (a.path, a.from_path):
            if path is not None:
                written.setdefault(a.side, set()).add(_parent(path))
    out: dict[str, dict[str, set[str]]] = {}
    for side, folders in written.items():
        if len(folders) > MAX_FOLDERS:
            continue
        # A folder written in has a new mtime, which its parent's listing includes.
        parents: dict[str, set[str]] = {}
        for f in folders:
            parents.setdefault(_parent(f) if f else "", set()).add(f)
        out[side] = parents
    return out


def rescan_written(lib: Library, sides: dict[str, Side], plan: Plan) -> None:
    """The rescans `_rescans(plan)` names (best effort: a side that went offline is left to
    the next sync, as a folder the run removed is to its parent's rescan)."""
    for name, parents in _rescans(plan).items():
        side = sides[name]
        written = set().union(*parents.values())
        touched = {p for a in plan.actions if a.side == name for p in (a.path, a.from_path) if p}
        keep = with_ancestors(written | touched)
        # Below every folder on the way down to those written in, what is not on the way.
        # What the run created or moved is walked whole (a move rewrote all it holds).
        skip = frozenset(
            side.full_key(k)
            for folder in set(parents) | with_ancestors(written)
            for k in _subfolders(side, folder)
            if k not in keep
        )
        for folder in sorted(parents):
            if folder and any(a in parents for a in ("", *ancestors(folder))):
                continue  # an enclosing rescan walks down to it (nothing it holds is skipped)
            if not os.path.isdir(os.path.join(side.endpoint, folder)):
                continue
            key = side.full_key(folder) if folder else side.prefix
            try:
                scan(lib, side.location_id, key or None, skip=skip)
            except SpaceSyncError:
                return


def _subfolders(side: Side, folder: str) -> list[str]:
    """Endpoint keys of the subfolders of `folder` whose names are their keys."""
    prefix = folder + "/" if folder else ""
    return [prefix + n for n in plain_folders(os.path.join(side.endpoint, folder))]
