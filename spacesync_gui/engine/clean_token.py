"""A conduit's clean token: what its last clean run vouches for (SPEC 7, no-op runs).

"source changes:target changes:base changes:settings": the two locations' change counters
and the conduit's base counter (kept by triggers, db.CHANGE_TRIGGERS) plus a digest of the
settings that shape a plan. A run that ends clean stores it; while the current token
equals the stored one, nothing in either index nor in the base changed since both sides
were verified equal. Plain DB-API, so the quick no-op sync (quick_noop.py) reads it
without loading the engine.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import NamedTuple


class Token(NamedTuple):
    current: str
    stored: str | None
    seq: int  # the change journal's position now (journal.py)
    stored_seq: int | None  # the one stored with the token


def settings_digest(
    mode: str,
    conflict: str,
    ignore: tuple[str, ...],
    source_prefix: str,
    target_prefix: str,
    source_location_id: int,
    target_location_id: int,
) -> str:
    settings = "\x1f".join(
        str(x)
        for x in (
            mode,
            conflict,
            ignore,
            source_prefix,
            target_prefix,
            source_location_id,
            target_location_id,
        )
    )
    return hashlib.blake2b(settings.encode(), digest_size=8).hexdigest()


def read_token(
    db: sqlite3.Connection, conduit_id: int, source_id: int, target_id: int, settings: str
) -> Token:
    """The conduit's current token, the stored one, and the journal positions, read in
    one query (one snapshot of the database)."""
    row = db.execute(
        "SELECT (SELECT changes FROM locations WHERE id = ?),"
        " (SELECT changes FROM locations WHERE id = ?), base_changes, clean_token,"
        " clean_seq, coalesce((SELECT seq FROM sqlite_sequence"
        " WHERE name = 'changes'), 0) FROM conduits WHERE id = ?",
        (source_id, target_id, conduit_id),
    ).fetchone()
    return Token(f"{row[0]}:{row[1]}:{row[2]}:{settings}", row[3], row[5], row[4])
