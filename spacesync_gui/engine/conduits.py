"""Conduits: sync relationships between two folders, with their settings.

Validation lives here so the CLI and the GUI editor (which validates as the user types)
give the same answers. Plain SQL through `Library.connect`, as in locations.py: the CLI's
settings commands never import SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import journal
from .db import Library
from .errors import NotFound, UserError
from .locations import LocationInfo, add_location, check_folder, find_containing
from .paths import is_within
from .rules import leaves_out, validate_patterns
from .scheduler import parse_schedule

MIRROR = "mirror"
BIDIRECTIONAL = "bidirectional"
MODES = (MIRROR, BIDIRECTIONAL)
STRATEGIES = ("ask", "newest", "source", "target", "largest", "keep-both")
DELETES = ("versioning", "trash", "permanent")
MAX_TRANSFERS = 64


@dataclass(frozen=True)
class ConduitInfo:
    id: int
    name: str
    source: str
    target: str
    mode: str
    schedule: str
    conflict: str
    deletes: str
    ignore: tuple[str, ...]
    transfers: int
    bwlimit: float | None
    keep_versions_days: int | None
    keep_versions_count: int | None
    paused: bool
    last_sync: float | None
    last_status: str | None
    source_location_id: int
    source_prefix: str
    target_location_id: int
    target_prefix: str
    source_root: str  # the location root holding `.spacesync/` for each side
    target_root: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ignore"] = list(self.ignore)
        return d


def _endpoint(root: str, prefix: str) -> str:
    return str(Path(root) / prefix) if prefix else root


def _info(row: sqlite3.Row, roots: dict[int, str]) -> ConduitInfo:
    src_root, dst_root = roots[row["source_location_id"]], roots[row["target_location_id"]]
    return ConduitInfo(
        id=row["id"],
        name=row["name"],
        source=_endpoint(src_root, row["source_prefix"]),
        target=_endpoint(dst_root, row["target_prefix"]),
        mode=row["mode"],
        schedule=row["schedule"],
        conflict=row["conflict"],
        deletes=row["deletes"],
        ignore=tuple(json.loads(row["ignore"] or "[]")),
        transfers=row["transfers"],
        bwlimit=row["bwlimit"],
        keep_versions_days=row["keep_versions_days"],
        keep_versions_count=row["keep_versions_count"],
        paused=bool(row["paused"]),
        last_sync=row["last_sync"],
        last_status=row["last_status"],
        source_location_id=row["source_location_id"],
        source_prefix=row["source_prefix"],
        target_location_id=row["target_location_id"],
        target_prefix=row["target_prefix"],
        source_root=src_root,
        target_root=dst_root,
    )


def _roots(db: sqlite3.Connection) -> dict[int, str]:
    return dict(db.execute("SELECT id, path FROM locations").fetchall())


def _one(db: sqlite3.Connection, conduit_id: int) -> ConduitInfo:
    row = db.execute("SELECT * FROM conduits WHERE id = ?", (conduit_id,)).fetchone()
    if row is None:
        raise NotFound(f"no conduit with id {conduit_id}")
    return _info(row, _roots(db))


def _assignments(columns: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`"a" = ?, "b" = ?` and the values, for columns named by this module's code."""
    return ", ".join(f'"{c}" = ?' for c in columns), tuple(columns.values())


def validate_endpoints(
    source: str | os.PathLike[str], target: str | os.PathLike[str]
) -> tuple[Path, Path]:
    src = check_folder(source, "source")
    dst = check_folder(target, "target")
    if src == dst:
        raise UserError(f"source and target are the same folder ({src})")
    if is_within(dst, src):
        raise UserError(f"target {dst} is inside source {src}; choose folders apart")
    if is_within(src, dst):
        raise UserError(f"source {src} is inside target {dst}; choose folders apart")
    return src, dst


def validate_settings(
    *,
    mode: str | None = None,
    schedule: str | None = None,
    conflict: str | None = None,
    deletes: str | None = None,
    ignore: list[str] | None = None,
    transfers: int | None = None,
    bwlimit: float | None = None,
    keep_versions_days: int | None = None,
    keep_versions_count: int | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Check each given setting; return them normalised (only the ones given)."""
    out: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise UserError("the conduit name must not be empty")
        out["name"] = name.strip()
    if mode is not None:
        if mode not in MODES:
            raise UserError(f"invalid mode {mode!r}: use mirror or bidirectional")
        out["mode"] = mode
    if schedule is not None:
        out["schedule"] = str(parse_schedule(schedule))
    if conflict is not None:
        if conflict not in STRATEGIES:
            raise UserError(f"invalid conflict strategy {conflict!r}: use {', '.join(STRATEGIES)}")
        out["conflict"] = conflict
    if deletes is not None:
        if deletes not in DELETES:
            raise UserError(f"invalid deletion handling {deletes!r}: use {', '.join(DELETES)}")
        out["deletes"] = deletes
    if ignore is not None:
        out["ignore"] = json.dumps(validate_patterns(ignore))
    if transfers is not None:
        if not 1 <= transfers <= MAX_TRANSFERS:
            raise UserError(f"invalid transfers {transfers}: use 1 to {MAX_TRANSFERS}")
        out["transfers"] = transfers
    if bwlimit is not None:
        if not bwlimit > 0:
            raise UserError(f"invalid bandwidth limit {bwlimit}: use a number of MB/s above 0")
        out["bwlimit"] = float(bwlimit)
    for key, val in (
        ("keep_versions_days", keep_versions_days),
        ("keep_versions_count", keep_versions_count),
    ):
        if val is not None:
            if val < 1:
                raise UserError(f"invalid {key.replace('_', ' ')} {val}: use 1 or more")
            out[key] = val
    return out


def _check_not_ignored(lib: Library, folder: Path, what: str) -> None:
    """Refuse an endpoint its location's own patterns leave out: the location never
    indexes it, so every run would sync nothing and call that a success."""
    found = find_containing(lib, folder)
    if found is not None and leaves_out(found[0].ignore, found[1]):
        raise UserError(f"the {what} folder {folder} {left_out(found[0])}")


def left_out(loc: LocationInfo) -> str:
    """The end of the message about an endpoint `loc`'s patterns leave out."""
    shown = ", ".join(repr(p) for p in loc.ignore) or "built-in"
    return (
        f"is inside location {loc.id} ({loc.path}), whose ignore patterns ({shown}) leave it "
        "out: it would never be synced"
    )


def _locate(lib: Library, folder: Path) -> tuple[int, str]:
    """The location id and key prefix for an endpoint, creating the location if needed."""
    found = find_containing(lib, folder)
    if found is not None:
        return found[0].id, found[1]
    return add_location(lib, folder).id, ""


def add_conduit(
    lib: Library,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    mode: str,
    *,
    name: str | None = None,
    schedule: str = "manual",
    conflict: str | None = None,
    deletes: str = "versioning",
    ignore: list[str] | None = None,
    transfers: int = 4,
    bwlimit: float | None = None,
    keep_versions_days: int | None = None,
    keep_versions_count: int | None = None,
) -> ConduitInfo:
    src, dst = validate_endpoints(source, target)
    settings = validate_settings(
        mode=mode,
        schedule=schedule,
        conflict=conflict or "ask",
        deletes=deletes,
        ignore=ignore or [],
        transfers=transfers,
        bwlimit=bwlimit,
        keep_versions_days=keep_versions_days,
        keep_versions_count=keep_versions_count,
        name=name if name is not None else f"{src.name or src} → {dst.name or dst}",
    )
    # Locations are created only after every setting is known to be valid.
    _check_not_ignored(lib, src, "source")
    _check_not_ignored(lib, dst, "target")
    src_loc, src_prefix = _locate(lib, src)
    dst_loc, dst_prefix = _locate(lib, dst)
    row = {
        "bwlimit": None,
        "keep_versions_days": None,
        "keep_versions_count": None,
        **settings,
        "source_location_id": src_loc,
        "source_prefix": src_prefix,
        "target_location_id": dst_loc,
        "target_prefix": dst_prefix,
        "created_at": time.time(),
        "paused": False,
    }
    columns = ", ".join(f'"{c}"' for c in row)
    with lib.connect(write=True) as db:
        cur = db.execute(
            f"INSERT INTO conduits ({columns}) VALUES ({', '.join('?' for _ in row)})",
            tuple(row.values()),
        )
        info = _one(db, cur.lastrowid or 0)
    from .settings_backup import save_settings

    save_settings(lib)
    return info


def list_conduits(lib: Library) -> list[ConduitInfo]:
    with lib.connect() as db:
        roots = _roots(db)
        return [_info(r, roots) for r in db.execute("SELECT * FROM conduits ORDER BY id")]


def get_conduit(lib: Library, conduit_id: int) -> ConduitInfo:
    with lib.connect() as db:
        return _one(db, conduit_id)


CLEARABLE = ("bwlimit", "keep_versions_days", "keep_versions_count")


def edit_conduit(
    lib: Library, conduit_id: int, *, clear: tuple[str, ...] | set[str] = (), **changes: Any
) -> ConduitInfo:
    """Change settings (the keyword names of `validate_settings`); None means unchanged.

    `clear` names optional limits to remove (no bandwidth limit, keep versions forever).
    """
    bad = set(clear) - set(CLEARABLE)
    if bad:
        raise UserError(f"cannot clear {', '.join(sorted(bad))}; only {', '.join(CLEARABLE)}")
    settings = validate_settings(**{k: v for k, v in changes.items() if v is not None})
    with lib.connect(write=True) as db:
        _one(db, conduit_id)
        changed = {**settings, **dict.fromkeys(clear)}
        if changed:
            sets, values = _assignments(changed)
            db.execute(f"UPDATE conduits SET {sets} WHERE id = ?", (*values, conduit_id))
    from .settings_backup import save_settings

    save_settings(lib)
    return get_conduit(lib, conduit_id)


def set_paused(lib: Library, conduit_id: int, paused: bool) -> ConduitInfo:
    with lib.connect(write=True) as db:
        _one(db, conduit_id)
        db.execute("UPDATE conduits SET paused = ? WHERE id = ?", (paused, conduit_id))
    from .settings_backup import save_settings

    save_settings(lib)
    return get_conduit(lib, conduit_id)


def remove_conduit(lib: Library, conduit_id: int) -> ConduitInfo:
    """Forget a conduit and its history; files on both sides stay as they are."""
    info = get_conduit(lib, conduit_id)
    with lib.connect(write=True) as db:
        for table in ("conflicts", "base_entries", "generations"):
            db.execute(f"DELETE FROM {table} WHERE conduit_id = ?", (conduit_id,))
        db.execute("DELETE FROM conduits WHERE id = ?", (conduit_id,))
        # Its locations' journal (if it was their only clean conduit) is nobody's now.
        journal.settle(db, {info.source_location_id, info.target_location_id})
    from .settings_backup import save_settings

    save_settings(lib)
    return info
