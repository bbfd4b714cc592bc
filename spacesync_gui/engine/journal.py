"""The change journal (schema 6): the paths of a location that changed since a conduit's
last clean run, so that run plans those paths alone instead of loading whole snapshots.

A clean run ends with both sides and the base equal on every path. After it, a path can
only need work if its index entry changed, and every such change writes the path to
`changes` (db.JOURNAL_TRIGGERS) while its location is journaled. A location is journaled
from the end of the first clean run of one of its conduits (`record_clean`), and no longer
once none of its conduits is clean (or the last clean one is removed), so an initial sync
writes no journal rows. Rows no clean conduit needs are deleted after each run (`settle`);
a journal that grows past MAX_ROWS anyway (a clean conduit that is not run while its
folders keep changing) is dropped by the next scan (`cap`), and its conduits plan
everything once.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from .paths import subtree_bounds

if TYPE_CHECKING:  # the quick no-op (quick_noop.py) loads this without SQLAlchemy
    from .snapshots import Side

# Above this share of a side's entries, planning everything is as cheap (verify uses the
# same rule for its sub-world).
MAX_SHARE = 0.25
# A location's journal is dropped beyond this many rows (a clean conduit that does not run
# while its folders keep changing): its conduits then plan everything once, as after any
# run that did not end clean, and the journal starts again.
MAX_ROWS = 200_000


def changed_keys(db: sqlite3.Connection, side: Side, since: int) -> set[str]:
    """Keys of `side` whose entries changed after journal row `since`."""
    sql = "SELECT DISTINCT path FROM changes WHERE location_id = ? AND id > ?"
    args: tuple[object, ...] = (side.location_id, since)
    if not side.prefix:
        return {p for (p,) in db.execute(sql, args)}
    lo, hi = subtree_bounds(side.prefix)
    cut = len(side.prefix) + 1
    return {p[cut:] for (p,) in db.execute(sql + " AND path >= ? AND path < ?", (*args, lo, hi))}


def with_ancestors(keys: set[str]) -> set[str]:
    """`keys` and every folder above them (the planner decides folders before children)."""
    out = set(keys)
    for key in keys:
        parent = key.rpartition("/")[0]
        while parent and parent not in out:
            out.add(parent)
            parent = parent.rpartition("/")[0]
    return out


def record_clean(
    db: sqlite3.Connection,
    conduit_id: int,
    locations: tuple[int, int],
    counters: str | None,
    seq: int | None,
) -> None:
    """Store where a conduit's journal starts, journal its locations, drop unneeded rows.

    `counters` ("source:target" change counters) and `seq` (the last journal id) were read
    together with the clean token; None when this run did not end clean. The journal
    position is kept only if the counters did not move since: a change made between that
    read and now, while the location was not journaled yet, would otherwise be missed.
    """
    s, t = locations
    stored: int | None = None
    if counters is not None and seq is not None:
        now = db.execute(
            "SELECT (SELECT changes FROM locations WHERE id = ?),"
            " (SELECT changes FROM locations WHERE id = ?)",
            (s, t),
        ).fetchone()
        if f"{now[0]}:{now[1]}" == counters:
            stored = seq
    db.execute("UPDATE conduits SET clean_seq = ? WHERE id = ?", (stored, conduit_id))
    settle(db, {s, t})


def settle(db: sqlite3.Connection, locations: set[int]) -> None:
    """Journal each location only while one of its conduits is clean, and delete the rows
    none of them needs (after a run, and when a conduit is removed)."""
    for loc in locations:
        # The oldest journal position a clean conduit of this location still needs.
        need = db.execute(
            "SELECT count(*), min(clean_seq) FROM conduits WHERE clean_seq IS NOT NULL"
            " AND ? IN (source_location_id, target_location_id)",
            (loc,),
        ).fetchone()
        db.execute("UPDATE locations SET journal = ? WHERE id = ?", (need[0] > 0, loc))
        if need[0]:
            db.execute("DELETE FROM changes WHERE location_id = ? AND id <= ?", (loc, need[1]))
        else:
            db.execute("DELETE FROM changes WHERE location_id = ?", (loc,))


def cap(db: sqlite3.Connection, location_id: int) -> bool:
    """Drop the location's journal if it grew past MAX_ROWS (called after each scan)."""
    (rows,) = db.execute(
        "SELECT count(*) FROM changes WHERE location_id = ?", (location_id,)
    ).fetchone()
    if rows <= MAX_ROWS:
        return False
    db.execute(
        "UPDATE conduits SET clean_seq = NULL WHERE ? IN (source_location_id, target_location_id)",
        (location_id,),
    )
    db.execute("UPDATE locations SET journal = 0 WHERE id = ?", (location_id,))
    db.execute("DELETE FROM changes WHERE location_id = ?", (location_id,))
    return True
