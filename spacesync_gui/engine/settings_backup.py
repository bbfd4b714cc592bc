"""A copy of the user's settings (locations and conduits) beside the database.

The index is disposable; the settings are not. Every change to locations or conduits
rewrites `settings.json`, so a damaged database can be rebuilt (`spacesync library
rebuild`) without the user re-entering anything. The rebuilt library starts with an
empty index and base: the next sync of a bidirectional conduit then behaves like a first
sync (union of both sides, differences become conflicts), which deletes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .constants import ONLINE
from .db import Library, open_library, quarantine_database

SETTINGS_NAME = "settings.json"
_LOCATION_FIELDS = ("uuid", "path", "ignore", "watch", "created_at")
_CONDUIT_FIELDS = (
    "name",
    "source_prefix",
    "target_prefix",
    "mode",
    "schedule",
    "conflict",
    "deletes",
    "ignore",
    "transfers",
    "bwlimit",
    "keep_versions_days",
    "keep_versions_count",
    "paused",
    "created_at",
)


_BOOLEANS = ("watch", "paused")  # SQLite stores 0 and 1; the file says false and true


def _fields(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {f: bool(row[f]) if f in _BOOLEANS else row[f] for f in names}


def save_settings(lib: Library) -> Path:
    with lib.connect() as db:
        locs = db.execute("SELECT * FROM locations ORDER BY id").fetchall()
        uuid_of = {loc["id"]: loc["uuid"] for loc in locs}
        data = {
            "locations": [{"id": loc["id"], **_fields(loc, _LOCATION_FIELDS)} for loc in locs],
            "conduits": [
                {
                    "id": c["id"],
                    "source_location": uuid_of[c["source_location_id"]],
                    "target_location": uuid_of[c["target_location_id"]],
                    **_fields(c, _CONDUIT_FIELDS),
                }
                for c in db.execute("SELECT * FROM conduits ORDER BY id")
            ],
        }
    path = lib.data_dir / SETTINGS_NAME
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def rebuild_library(data_dir: Path) -> tuple[Library, Path | None, int, int]:
    """Move a damaged database aside and recreate it from settings.json.

    Returns the new library, where the old file went, and how many locations and
    conduits were restored.
    """
    settings_path = data_dir / SETTINGS_NAME
    data: dict[str, Any] = {"locations": [], "conduits": []}
    if settings_path.exists():
        data = json.loads(settings_path.read_text(encoding="utf-8"))
    from sqlalchemy import insert  # only a rebuild needs it here

    from . import tables

    moved = quarantine_database(data_dir)
    lib = open_library(data_dir)
    with lib.engine.begin() as conn:
        ids: dict[str, int] = {}
        for loc in data["locations"]:
            row = {f: loc[f] for f in _LOCATION_FIELDS}
            conn.execute(insert(tables.locations).values(id=loc["id"], state=ONLINE, **row))
            ids[loc["uuid"]] = loc["id"]
        for c in data["conduits"]:
            conn.execute(
                insert(tables.conduits).values(
                    id=c["id"],
                    source_location_id=ids[c["source_location"]],
                    target_location_id=ids[c["target_location"]],
                    **{f: c[f] for f in _CONDUIT_FIELDS},
                )
            )
    return lib, moved, len(data["locations"]), len(data["conduits"])
