"""What the library holds about a location, as the CLI and the app show it.

Its own module, without SQLAlchemy: the quick no-op scan (quick_noop.py) reports it too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LocationInfo:
    id: int
    uuid: str
    path: str
    state: str
    files: int
    bytes: int
    last_scan: float | None
    ignore: tuple[str, ...]
    watch: bool
    scan_errors: int

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["ignore"] = list(self.ignore)
        return d


# The columns `from_row` reads, in its order.
COLUMNS = "id, uuid, path, state, files, bytes, last_scan, ignore, watch, scan_errors"


def from_row(row: Sequence[Any]) -> LocationInfo:
    """A location from a row of COLUMNS."""
    lid, uuid, path, state, files, nbytes, last_scan, ignore, watch, errors = row
    return LocationInfo(
        lid,
        uuid,
        path,
        state,
        files,
        nbytes,
        last_scan,
        tuple(json.loads(ignore or "[]")),
        bool(watch),
        errors,
    )


def read_info(db: sqlite3.Connection, location_id: int) -> LocationInfo | None:
    """The location's row read with plain sqlite3 (None: no such location)."""
    row = db.execute(f"SELECT {COLUMNS} FROM locations WHERE id = ?", (location_id,)).fetchone()
    return None if row is None else from_row(row)


def path_match(ref: str, roots: Iterable[tuple[int, str]]) -> int | None:
    """The id of the location (id, root) that the folder `ref` names (None: none)."""
    folder = Path(os.path.expanduser(ref)).absolute()
    for lid, root in roots:
        if Path(root) == folder or Path(root) == folder.resolve():
            return lid
    return None
