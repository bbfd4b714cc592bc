"""The library database: creation, pragmas, migrations from a committed v1 file, errors."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from spacesync_gui.engine import models
from spacesync_gui.engine.db import DB_NAME, SCHEMA_VERSION, open_library
from spacesync_gui.engine.errors import LibraryError

FIXTURE = Path(__file__).parent.parent / "fixtures" / "library-v1.sqlite"


def _columns(db: Path) -> dict[str, list[tuple[str, str, int]]]:
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        return {
            t: sorted((r[1], r[2], r[3]) for r in conn.execute(f"PRAGMA table_info({t})"))
            for t in tables
        }
    finally:
        conn.close()


def test_new_library_uses_wal_foreign_keys_and_current_version(library):
    with library.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        version = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'"))
        assert int(version.scalar()) == SCHEMA_VERSION
        indexes = {
            r[0]
            for r in conn.execute(
                text("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='entries'")
            )
        }
    # The planner and the indexer look entries up by (location, path).
    assert any("entries" in name for name in indexes)


def _data_dir_with(fixture: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(fixture, data / DB_NAME)
    return data


def test_v1_fixture_is_migrated_with_a_backup_and_keeps_the_data(tmp_path):
    data = _data_dir_with(FIXTURE, tmp_path)
    lib = open_library(data)
    try:
        with lib.session() as s:
            conduit = s.scalars(select(models.Conduit)).one()
            assert conduit.name == "photos to usb"
            assert conduit.schedule == "interval:1h"
            assert conduit.keep_versions_days is None  # the column added by 1 -> 2
            assert [loc.path for loc in s.scalars(select(models.Location))] == [
                "/srv/photos",
                "/media/usb/photos",
            ]
            assert len(s.scalars(select(models.Entry)).all()) == 2
            assert s.scalars(select(models.BaseEntry)).one().path == "a.jpg"
        with lib.engine.connect() as conn:
            v = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar()
        assert int(v) == SCHEMA_VERSION
    finally:
        lib.close()
    backups = list(data.glob(f"{DB_NAME}.v1-*.bak"))
    assert len(backups) == 1
    # The backup is the untouched v1 file.
    conn = sqlite3.connect(backups[0])
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    conn.close()


def test_migrated_schema_equals_a_fresh_one(tmp_path):
    migrated, fresh = tmp_path / "m", tmp_path / "f"
    migrated.mkdir()
    fresh.mkdir()
    shutil.copy(FIXTURE, migrated / DB_NAME)
    open_library(migrated).close()
    open_library(fresh).close()
    assert _columns(migrated / DB_NAME) == _columns(fresh / DB_NAME)


def test_reopening_does_not_migrate_or_back_up_again(tmp_path):
    data = tmp_path / "data"
    open_library(data).close()
    open_library(data).close()
    assert not list(data.glob("*.bak"))


def test_corrupt_database_is_reported_and_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="damaged.*library rebuild"):
        open_library(data)
    assert (data / DB_NAME).read_bytes().startswith(b"this is not a database")


def test_newer_schema_is_refused(tmp_path):
    data = tmp_path / "data"
    open_library(data).close()
    conn = sqlite3.connect(data / DB_NAME)
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="newer SpaceSync"):
        open_library(data)


def test_unwritable_data_dir_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LibraryError, match="not writable"):
        open_library(blocker / "data")


FIXTURE_V2 = Path(__file__).parent.parent / "fixtures" / "library-v2.sqlite"


def _schema_sql(db: Path, kind: str) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(
            conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type=? AND sql IS NOT NULL", (kind,)
            )
        )
    finally:
        conn.close()


def _triggers(db: Path) -> dict[str, str]:
    return _schema_sql(db, "trigger")


def _indexes(db: Path) -> dict[str, str]:
    return _schema_sql(db, "index")


def test_v2_fixture_gets_change_counters_that_count(tmp_path):
    data = _data_dir_with(FIXTURE_V2, tmp_path)
    lib = open_library(data)
    try:
        with lib.session() as s:
            conduit = s.scalars(select(models.Conduit)).one()
            assert conduit.keep_versions_days == 30  # v2 data kept
            assert conduit.base_changes == 0 and conduit.clean_token is None
            assert [loc.changes for loc in s.scalars(select(models.Location))] == [0, 0]
        with lib.engine.begin() as conn:
            # A real change counts; re-writing the same values (only indexed_at) does not.
            conn.execute(text("UPDATE entries SET indexed_at = 1 WHERE path = 'a.jpg'"))
            conn.execute(text("UPDATE entries SET size = 101 WHERE path = 'a.jpg'"))
            conn.execute(text("DELETE FROM entries WHERE path = 'b.jpg'"))
            conn.execute(text("UPDATE base_entries SET hash = NULL"))
        with lib.session() as s:
            assert s.get(models.Location, 1).changes == 2
            assert s.get(models.Location, 2).changes == 0
            assert s.get(models.Conduit, 1).base_changes == 1
    finally:
        lib.close()
    assert len(list(data.glob(f"{DB_NAME}.v2-*.bak"))) == 1


def test_migrated_triggers_equal_fresh_ones(tmp_path):
    migrated, fresh = tmp_path / "m", tmp_path / "f"
    migrated.mkdir()
    fresh.mkdir()
    shutil.copy(FIXTURE_V2, migrated / DB_NAME)
    open_library(migrated).close()
    open_library(fresh).close()
    assert _columns(migrated / DB_NAME) == _columns(fresh / DB_NAME)
    assert _triggers(migrated / DB_NAME) == _triggers(fresh / DB_NAME)
    assert len(_triggers(fresh / DB_NAME)) == 14
    assert _indexes(migrated / DB_NAME) == _indexes(fresh / DB_NAME)


FIXTURE_V3 = Path(__file__).parent.parent / "fixtures" / "library-v3.sqlite"


def test_v3_fixture_gets_folder_digests_and_totals_kept_by_triggers(tmp_path):
    data = _data_dir_with(FIXTURE_V3, tmp_path)
    lib = open_library(data)
    try:
        with lib.session() as s:
            loc = s.get(models.Location, 1)
            # Recomputed from the entries (the v3 file said 2 files, 250 bytes).
            assert (loc.files, loc.bytes, loc.root_digest) == (2, 300, None)
            assert s.scalars(select(models.Entry.digest)).all() == [None, None, None]
            assert s.scalars(select(models.Conduit)).one().keep_versions_days == 30
        with lib.engine.begin() as conn:
            conn.execute(text("UPDATE entries SET digest = 'd' WHERE path = 'old'"))
            conn.execute(text("UPDATE locations SET root_digest = 'r' WHERE id = 1"))
            conn.execute(
                text(
                    "INSERT INTO entries (location_id, path, kind, size, mtime_ns, inode, mode, "
                    "indexed_at) VALUES (1, 'old/new.txt', 'file', 50, 1, 1, 420, 0)"
                )
            )
        with lib.session() as s:
            loc = s.get(models.Location, 1)
            assert (loc.files, loc.bytes, loc.root_digest) == (3, 350, "r")
            assert s.scalars(select(models.Entry.digest)).all() == [None, None, None, None]
        with lib.engine.begin() as conn:
            conn.execute(text("DELETE FROM entries WHERE path = 'a.jpg'"))
        with lib.session() as s:
            loc = s.get(models.Location, 1)
            assert (loc.files, loc.bytes, loc.root_digest) == (2, 250, None)
    finally:
        lib.close()
    assert len(list(data.glob(f"{DB_NAME}.v3-*.bak"))) == 1


FIXTURE_V4 = Path(__file__).parent.parent / "fixtures" / "library-v4.sqlite"


def test_v4_fixture_learns_that_filling_in_a_hash_is_not_a_change(tmp_path):
    data = _data_dir_with(FIXTURE_V4, tmp_path)
    open_library(data).close()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    open_library(fresh).close()

    def spaced(triggers: dict[str, str]) -> dict[str, str]:  # v3's SQL text was wrapped
        return {name: " ".join(sql.split()) for name, sql in triggers.items()}

    assert spaced(_triggers(data / DB_NAME)) == spaced(_triggers(fresh / DB_NAME))
    assert _indexes(data / DB_NAME) == _indexes(fresh / DB_NAME)
    lib = open_library(data)
    try:
        with lib.engine.begin() as conn:
            changes = conn.execute(text("SELECT changes FROM locations WHERE id = 1")).scalar()
            conn.execute(
                text(
                    "INSERT INTO entries (location_id, path, kind, size, mtime_ns, inode, mode, "
                    "indexed_at) VALUES (1, 'old/new.txt', 'file', 50, 1, 1, 420, 0)"
                )
            )
            conn.execute(text("UPDATE entries SET digest = 'd-old' WHERE path = 'old'"))
            after_insert = conn.execute(text("SELECT changes FROM locations WHERE id = 1")).scalar()
            assert after_insert == changes + 1
            # The copy's hash filled in: no change, the folder's digest stays.
            conn.execute(text("UPDATE entries SET hash = 'h' WHERE path = 'old/new.txt'"))
            row = conn.execute(
                text(
                    "SELECT (SELECT changes FROM locations WHERE id = 1), "
                    "(SELECT digest FROM entries WHERE path = 'old')"
                )
            ).one()
            assert tuple(row) == (after_insert, "d-old")
            # A hash that changes is a change, and voids the digest.
            conn.execute(text("UPDATE entries SET hash = 'h2' WHERE path = 'old/new.txt'"))
            row = conn.execute(
                text(
                    "SELECT (SELECT changes FROM locations WHERE id = 1), "
                    "(SELECT digest FROM entries WHERE path = 'old')"
                )
            ).one()
            assert tuple(row) == (after_insert + 1, None)
    finally:
        lib.close()
    assert len(list(data.glob(f"{DB_NAME}.v4-*.bak"))) == 1


def _migrated_from(
    tmp_path: Path, version: int, was: Callable[[str, str], str | None], undo: list[str]
) -> tuple[Path, Path]:
    """A library made now, taken back to schema `version` (each trigger's SQL as `was`
    gives it, None: as it is; then the `undo` statements), and opened again: migrated, its
    triggers those of a library made now (the second folder returned)."""
    old, fresh = tmp_path / f"v{version}", tmp_path / "f"
    open_library(old).close()
    open_library(fresh).close()
    conn = sqlite3.connect(old / DB_NAME)
    with conn:
        for name, sql in _triggers(old / DB_NAME).items():
            before = was(name, sql)
            if before is not None:
                conn.execute(f"DROP TRIGGER {name}")
                conn.execute(before)
        for statement in undo:
            conn.execute(statement)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.close()
    assert _triggers(old / DB_NAME) != _triggers(fresh / DB_NAME)
    open_library(old).close()
    assert _triggers(old / DB_NAME) == _triggers(fresh / DB_NAME)
    assert len(list(old.glob(f"{DB_NAME}.v{version}-*.bak"))) == 1
    return old, fresh


def test_v6_digest_triggers_are_replaced_by_the_ones_that_skip_undigested_locations(tmp_path):
    """Schema 6 -> 7: the same triggers, guarded by a probe of the location's digests."""

    def unguarded(name: str, sql: str) -> str | None:
        return sql.replace(sql[sql.index(" WHEN ") : sql.index(" BEGIN ")], "")

    v6, fresh = _migrated_from(
        tmp_path,
        6,
        lambda name, sql: unguarded(name, sql) if "digest" in name else None,
        ["DROP INDEX ix_entries_digested"],
    )
    assert _indexes(v6 / DB_NAME) == _indexes(fresh / DB_NAME)


def test_v7_insert_triggers_learn_to_stand_aside_for_bulk_inserts(tmp_path):
    """Schema 7 -> 8: the same insert triggers, guarded by `bulk_inserts` (made too)."""
    guard = "NOT EXISTS (SELECT 1 FROM bulk_inserts)"

    def unguarded(name: str, sql: str) -> str | None:
        if guard not in sql:
            return None
        return sql.replace(f"WHEN {guard} AND ", "WHEN ").replace(f" WHEN {guard}", "")

    v7, fresh = _migrated_from(tmp_path, 7, unguarded, ["DROP TABLE bulk_inserts"])
    assert _columns(v7 / DB_NAME) == _columns(fresh / DB_NAME)


def test_digest_triggers_clear_what_a_change_makes_stale_and_only_that(library, tmp_path):
    """Whatever the guard skips, a folder's digest (or the root's) goes when a child
    changes, and a location without digests is written without touching any."""
    loc_sql = (
        "INSERT INTO locations (id, uuid, path, state, ignore, watch, created_at, files, "
        "bytes, scan_errors, changes, journal, root_digest) VALUES "
        "(?, ?, ?, 'online', '[]', 1, 0, 0, 0, 0, 0, 0, ?)"
    )
    entry_sql = (
        "INSERT INTO entries (location_id, path, kind, size, mtime_ns, inode, mode, "
        "indexed_at, digest) VALUES (?, ?, ?, 0, 0, 0, 0, 0, ?)"
    )

    def digests(db: sqlite3.Connection, loc: int) -> tuple[str | None, dict[str, str | None]]:
        root = db.execute("SELECT root_digest FROM locations WHERE id = ?", (loc,)).fetchone()
        rows = db.execute(
            "SELECT path, digest FROM entries WHERE location_id = ? AND kind = 'dir'", (loc,)
        )
        return root[0], dict(rows.fetchall())

    db = sqlite3.connect(library.db_path, isolation_level=None)
    try:
        db.execute(loc_sql, (1, "u1", str(tmp_path / "a"), "r1"))  # root digest only
        db.execute(loc_sql, (2, "u2", str(tmp_path / "b"), None))  # folder digests only
        db.execute(loc_sql, (3, "u3", str(tmp_path / "c"), None))  # no digest at all
        for loc, path in ((2, "d"), (2, "d/e"), (2, "f"), (3, "d")):
            db.execute(entry_sql, (loc, path, "dir", None))
        for path, digest in (("d", "dd"), ("d/e", "de"), ("f", "df")):  # as a scan's last write
            db.execute(
                "UPDATE entries SET digest = ? WHERE location_id = 2 AND path = ?", (digest, path)
            )
        assert digests(db, 2) == (None, {"d": "dd", "d/e": "de", "f": "df"})

        db.execute(entry_sql, (1, "x", "file", None))  # a new top-level entry
        assert digests(db, 1) == (None, {})
        db.execute(entry_sql, (2, "d/e/x", "file", None))
        assert digests(db, 2) == (None, {"d": "dd", "d/e": None, "f": "df"})
        db.execute("UPDATE entries SET size = 5 WHERE location_id = 2 AND path = 'd/e'")
        assert digests(db, 2) == (None, {"d": None, "d/e": None, "f": "df"})
        db.execute("DELETE FROM entries WHERE location_id = 2 AND path = 'f'")
        assert digests(db, 2) == (None, {"d": None, "d/e": None})
        db.execute("UPDATE entries SET digest = 'again' WHERE location_id = 2 AND path = 'd'")
        db.execute(  # a move out of a digested folder into another location's
            "UPDATE entries SET location_id = 3, path = 'd/e' WHERE location_id = 2 "
            "AND path = 'd/e'"
        )
        assert digests(db, 2) == (None, {"d": None})
        db.execute(entry_sql, (3, "d/y", "file", None))
        assert digests(db, 3) == (None, {"d": None, "d/e": None})
    finally:
        db.close()
