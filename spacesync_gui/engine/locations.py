"""Locations: indexed folder roots, their `.spacesync/` marker and their state.

The marker (`.spacesync/location-id` holding the location's uuid) is how a run tells a
real root from an empty mount point or another drive mounted at the same path: such a
root is *replaced*, a missing root is *offline*, and neither is ever synced.

Plain SQL through `Library.connect` (no SQLAlchemy): the CLI's settings commands import
this module, and nothing here is a hot path.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid as uuidlib
from pathlib import Path

from .constants import OFFLINE, ONLINE
from .db import Library
from .errors import NotFound, Refused, SpaceSyncError, UserError
from .events import Emit, LocationStateChanged, ignore_events
from .location_info import COLUMNS, LocationInfo, from_row, path_match, read_info
from .markers import probe_state, read_marker, write_marker
from .paths import is_within, key_for, marker_path
from .results import ScanResult
from .rules import validate_patterns


def check_folder(path: str | os.PathLike[str], what: str = "folder") -> Path:
    """Resolve a folder the user named, or raise UserError saying what is wrong."""
    p = Path(os.path.expanduser(os.fspath(path)))
    if not p.exists():
        raise UserError(f"{what} {p} does not exist")
    if not p.is_dir():
        raise UserError(f"{what} {p} is a file, not a folder")
    return p.resolve()


def _all(lib: Library) -> list[LocationInfo]:
    with lib.connect() as db:
        return [from_row(r) for r in db.execute(f"SELECT {COLUMNS} FROM locations ORDER BY id")]


def _one(db: sqlite3.Connection, location_id: int) -> LocationInfo:
    info = read_info(db, location_id)
    if info is None:
        raise NotFound(f"no location with id {location_id}")
    return info


def find_containing(lib: Library, folder: Path) -> tuple[LocationInfo, str] | None:
    """The location whose root holds `folder`, and the folder's key inside it."""
    for loc in _all(lib):
        root = Path(loc.path)
        if is_within(folder, root):
            rel = folder.relative_to(root).as_posix()
            return loc, "" if rel == "." else key_for(rel)
    return None


def add_location(
    lib: Library,
    path: str | os.PathLike[str],
    ignore: list[str] | tuple[str, ...] = (),
    watch: bool = True,
) -> LocationInfo:
    """Register a folder as a location and write its marker (no scan yet)."""
    root = check_folder(path)
    patterns = validate_patterns(ignore)
    known = _all(lib)
    for loc in known:
        other = Path(loc.path)
        if other == root:
            raise UserError(f"{root} is already location {loc.id}")
        if is_within(root, other):
            raise UserError(f"{root} is inside location {loc.id} ({other}); it is indexed already")
        if is_within(other, root):
            raise UserError(
                f"{root} contains location {loc.id} ({other}); remove that location first"
            )
    uuid = read_marker(root)
    try:
        uuidlib.UUID(uuid or "")
    except ValueError:
        uuid = None
    if uuid in {loc.uuid for loc in known}:
        uuid = None  # a copied marker: this folder is a new location
    uuid = uuid or str(uuidlib.uuid4())
    try:
        write_marker(root, uuid)
    except OSError as e:
        raise UserError(f"cannot write the location marker in {root}: {e.strerror or e}") from None
    with lib.connect(write=True) as db:
        cur = db.execute(
            "INSERT INTO locations (uuid, path, state, ignore, watch, created_at, files, "
            "bytes, scan_errors) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0)",
            (uuid, str(root), ONLINE, json.dumps(patterns), watch, time.time()),
        )
        info = _one(db, cur.lastrowid or 0)
    from .settings_backup import save_settings

    save_settings(lib)
    return info


def list_locations(lib: Library) -> list[LocationInfo]:
    return _all(lib)


def change_counters(lib: Library) -> dict[int, int]:
    """Each location's change counter (kept by triggers on its entries, db.py): it moves
    whenever anything in that location's index changes, whoever changed it."""
    with lib.connect() as db:
        return dict(db.execute("SELECT id, changes FROM locations").fetchall())


def get_location(lib: Library, location_id: int) -> LocationInfo:
    with lib.connect() as db:
        return _one(db, location_id)


def resolve_location(lib: Library, ref: str) -> LocationInfo:
    """A location named by id or by (a folder inside) its path."""
    if ref.isdigit():
        return get_location(lib, int(ref))
    known = {loc.id: loc for loc in _all(lib)}
    found = path_match(ref, ((i, loc.path) for i, loc in known.items()))
    if found is None:
        raise NotFound(f"no location at {Path(os.path.expanduser(ref)).absolute()}")
    return known[found]


def refresh_state(lib: Library, location_id: int, emit: Emit = ignore_events) -> str:
    """Probe the root, store the state, and report a change."""
    with lib.connect() as db:  # the write lock only when the state changed
        loc = _one(db, location_id)
        state = probe_state(loc.path, loc.uuid)
        changed = state != loc.state
        if changed:
            db.execute("UPDATE locations SET state = ? WHERE id = ?", (state, location_id))
    if changed:
        emit(LocationStateChanged(location_id, state))
    return state


def state_problem(info: LocationInfo) -> str:
    if info.state == OFFLINE:
        return f"location {info.id} is offline: {info.path} is missing (drive not mounted?)"
    return (
        f"location {info.id} looks replaced: {info.path} does not hold its "
        ".spacesync marker (another drive or an empty mount point?)"
    )


def scan(
    lib: Library,
    location_id: int,
    subtree: str | None = None,
    emit: Emit = ignore_events,
    defer_hashes: bool = False,
    skip: frozenset[str] = frozenset(),
):
    """Refresh the state, then scan; an offline or replaced root is refused."""
    from .indexer import scan_location

    state = refresh_state(lib, location_id, emit)
    if state != ONLINE:
        raise Refused(state_problem(get_location(lib, location_id)))
    return scan_location(lib, location_id, subtree, emit=emit, defer_hashes=defer_hashes, skip=skip)


def scan_folders(lib: Library, location_id: int, folders: list[str] | None) -> ScanResult:
    """A location's scan where a walk found only `folders` (keys) changed and every other
    folder listing what its digest vouches for (quick_noop.try_scan): just those subtrees
    are scanned, and the result reads as the whole scan's (the files and bytes seen are the
    location's). None, or the root among them: the whole scan."""
    if not folders or "" in folders:
        return scan(lib, location_id)
    total = ScanResult()
    for key in folders:
        total.add(scan(lib, location_id, key))
    info = get_location(lib, location_id)
    total.files_seen, total.bytes_seen = info.files, info.bytes
    return total


def set_ignore(lib: Library, location_id: int, patterns: list[str]) -> LocationInfo:
    patterns = validate_patterns(patterns)
    with lib.connect(write=True) as db:
        _one(db, location_id)
        db.execute(
            "UPDATE locations SET ignore = ? WHERE id = ?", (json.dumps(patterns), location_id)
        )
    from .settings_backup import save_settings

    save_settings(lib)
    return get_location(lib, location_id)


def remove_location(lib: Library, location_id: int) -> LocationInfo:
    """Forget a location (its files and versions stay on disk; only the marker goes)."""
    info = get_location(lib, location_id)
    with lib.connect(write=True) as db:
        users = db.execute(
            "SELECT id FROM conduits WHERE ? IN (source_location_id, target_location_id) "
            "ORDER BY id",
            (location_id,),
        ).fetchall()
        if users:
            ids = ", ".join(str(i) for (i,) in users)
            raise UserError(f"location {location_id} is used by conduit {ids}; remove it first")
        for table in ("entries", "scan_errors", "locations"):
            key = "id" if table == "locations" else "location_id"
            db.execute(f"DELETE FROM {table} WHERE {key} = ?", (location_id,))
    if read_marker(info.path) == info.uuid:
        try:
            marker_path(info.path).unlink()
        except OSError as e:
            # The library no longer knows it; a stale marker is harmless, so only say so.
            raise SpaceSyncError(
                f"location {location_id} removed, but its marker could not be deleted: {e}"
            ) from None
    from .settings_backup import save_settings

    save_settings(lib)
    return info
