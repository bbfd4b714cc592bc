"""A first mirror's workers started before the engine is imported (the CLI's `sync ID`).

The CLI takes ~0.3 s on one core to import the engine (SQLAlchemy above all), while a
first mirror's workers begin with a walk of the source that needs none of it. So `start`
checks with plain sqlite3 what lets a run begin with the pass (first_mirror.eligible),
weighs the source and forks the workers (first_walk.start): they walk while the engine
loads, on the core it leaves idle. They only read until told to copy. The engine checks
everything again and takes them only when its own pass would start exactly these
(first_mirror.takes); else they are let go, having copied nothing.

A first mirror of fewer files than the pass takes gets its large files staged instead
(early_copies.py): there the disk, not the walk, is what the engine's import leaves idle.

SQLAlchemy-free, as what it imports.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from . import early_copies, first_walk, forked_copies
from .constants import ONLINE
from .location_info import read_info
from .markers import probe_state
from .paths import overlap
from .quick_noop import connect_library
from .rules import builtin_ignored
from .versions import make_stamp
from .weighing import weigh

_CONDUIT = (
    "SELECT mode, paused, ignore, bwlimit, deletes, transfers, source_location_id, "
    "source_prefix, target_location_id, target_prefix FROM conduits WHERE id = ?"
)


# Whether a source's index may be dropped for a first mirror's pass (first_mirror
# `_forget`): no other conduit has the location as a side, and it keeps no journal.
_FORGETTABLE = (
    "SELECT NOT journal AND NOT EXISTS (SELECT 1 FROM conduits WHERE id != ? AND "
    "? IN (source_location_id, target_location_id)) FROM locations WHERE id = ?"
)


def forgettable(db: sqlite3.Connection, conduit_id: int, source_location_id: int) -> bool:
    """Whether the conduit's first mirror may drop its source's index (see _FORGETTABLE)."""
    row = db.execute(_FORGETTABLE, (conduit_id, source_location_id, source_location_id))
    found = row.fetchone()
    return bool(found and found[0])


def start(data_dir: Path, conduit_id: int) -> first_walk.Started | early_copies.Started | None:
    """The workers of the conduit's first mirror, walking, or for a source of few files
    the children staging its large ones; None when its run would not begin with the pass
    as far as the library and the folders tell (stricter than the engine: an index of
    the target location at all, not only of its endpoint, says no; of the source, unless
    the pass may drop it)."""
    if not forked_copies.can_fork():
        return None
    db = connect_library(data_dir)
    if db is None:
        return None
    try:
        found = _first_mirror(db, conduit_id)
    except (sqlite3.Error, ValueError, TypeError):
        found = None
    finally:
        db.close()
    if found is None:
        return None
    ends, transfers, deletes = found
    try:
        if not os.path.isdir(ends.src) or any(
            not builtin_ignored(name) for name in os.listdir(ends.dst)
        ):
            return None
    except OSError:
        return None
    weighed = weigh(ends.src)
    if weighed[0].get("", 0.0) < forked_copies.FORK_MIN_FILES:
        try:
            return early_copies.start(conduit_id, ends, transfers, forked_copies.FORK_MIN_FILES)
        except OSError:
            return None  # no fork now: the run copies them
    try:
        return first_walk.start(conduit_id, ends, weighed, transfers, deletes, make_stamp())
    except OSError:
        return None  # no fork now (out of memory, process limits): the engine's own try


def _first_mirror(
    db: sqlite3.Connection, conduit_id: int
) -> tuple[first_walk.Ends, int, str] | None:
    row = db.execute(_CONDUIT, (conduit_id,)).fetchone()
    if row is None:
        return None
    mode, paused, ignore, bwlimit, deletes, transfers, src, sprefix, dst, tprefix = row
    if mode != "mirror" or paused or json.loads(ignore or "[]") or bwlimit:
        return None
    roots = {}
    for loc in (src, dst):
        info = read_info(db, loc)
        # Offline or replaced (an empty mount point): the run refuses, so nothing is read
        # or staged for it.
        if info is None or info.ignore or probe_state(info.path, info.uuid) != ONLINE:
            return None
        roots[loc] = Path(info.path)
    indexed = "SELECT 1 FROM entries WHERE location_id = ? LIMIT 1"
    if (
        db.execute(indexed, (dst,)).fetchone()
        or db.execute(
            "SELECT 1 FROM base_entries WHERE conduit_id = ? LIMIT 1", (conduit_id,)
        ).fetchone()
        or (db.execute(indexed, (src,)).fetchone() and not forgettable(db, conduit_id, src))
    ):
        return None
    # As Side.endpoint and Side.root make them: the engine compares (first_mirror.takes).
    ends = first_walk.Ends(
        str(roots[src] / sprefix if sprefix else roots[src]),
        str(roots[dst] / tprefix if tprefix else roots[dst]),
        str(roots[dst]),
    )
    if overlap(Path(ends.src).resolve(), Path(ends.dst).resolve()):
        return None  # the run refuses
    return ends, int(transfers), str(deletes)
