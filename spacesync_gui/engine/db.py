"""The library database: one SQLite file in the data dir, opened the same way everywhere.

WAL so readers (the GUI) never wait for the writer (a sync); a busy timeout so two
processes (CLI and daemon) queue instead of failing; foreign keys on. The schema carries
a version; older files are backed up, then migrated step by step, in one transaction.

Opening, creating and migrating use plain sqlite3 (the tables' SQL is in schema.py), and
SQLAlchemy is imported when a Library's engine or first session is: the settings
commands (locations.py, conduits.py) work through `Library.connect` alone, so `spacesync
conduit add` or `location list` never pay the ~0.2 s of importing it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorruptLibrary, LibraryError
from .library_file import DB_NAME, SCHEMA_VERSION, set_pragmas
from .schema import TABLES

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

Connection = sqlite3.Connection


def _migrate_1_to_2(conn: Connection) -> None:
    # Version retention per conduit (SPEC 3.7).
    conn.execute("ALTER TABLE conduits ADD COLUMN keep_versions_days INTEGER")
    conn.execute("ALTER TABLE conduits ADD COLUMN keep_versions_count INTEGER")


# Change counters (schema 3): every real change of an index entry bumps its location's
# counter, every change of a base entry its conduit's counter. Maintained by SQLite itself,
# so no writer (indexer, executor, another process) can forget it. `indexed_at` alone is
# not a change.
# A folder's size, mtime and inode are not compared by the planner (a folder's mtime moves
# whenever a child changes), so they alone are not a change either.
_ENTRY_COLS = ("location_id", "path", "raw", "kind", "mode", "hash", "link")
_FILE_COLS = ("size", "mtime_ns", "inode")
_BASE_COLS = ("conduit_id", "path", "kind", "size", "mtime_ns", "hash", "link")


def _differs(cols: tuple[str, ...]) -> str:
    return " OR ".join(f"old.{c} IS NOT new.{c}" for c in cols)


_ENTRY_CHANGED = f"{_differs(_ENTRY_COLS)} OR (new.kind != 'dir' AND ({_differs(_FILE_COLS)}))"

# Schema 3's triggers, frozen: the 2 -> 3 migration creates exactly these.
_V3_TRIGGERS = {
    "trg_entries_ins": "AFTER INSERT ON entries BEGIN UPDATE locations SET changes = "
    "changes + 1 WHERE id = new.location_id; END",
    "trg_entries_del": "AFTER DELETE ON entries BEGIN UPDATE locations SET changes = "
    "changes + 1 WHERE id = old.location_id; END",
    "trg_entries_upd": f"AFTER UPDATE ON entries WHEN {_ENTRY_CHANGED} BEGIN "
    "UPDATE locations SET changes = changes + 1 WHERE id IN (old.location_id, "
    "new.location_id); END",
    "trg_base_ins": "AFTER INSERT ON base_entries BEGIN UPDATE conduits SET base_changes = "
    "base_changes + 1 WHERE id = new.conduit_id; END",
    "trg_base_del": "AFTER DELETE ON base_entries BEGIN UPDATE conduits SET base_changes = "
    "base_changes + 1 WHERE id = old.conduit_id; END",
    "trg_base_upd": f"AFTER UPDATE ON base_entries WHEN {_differs(_BASE_COLS)} BEGIN "
    "UPDATE conduits SET base_changes = base_changes + 1 WHERE id IN (old.conduit_id, "
    "new.conduit_id); END",
}


# Schema 4: the entry triggers also keep the location's file and byte totals, and any
# change of an entry clears the digest of the folder holding it (the indexer's proof that
# a folder's entries match its listing; see indexer.py), whoever made the change.
def _totals(row: str, sign: str) -> str:
    return (
        f"files = files {sign} ({row}.kind = 'file'), bytes = bytes {sign} "
        f"(CASE WHEN {row}.kind = 'file' THEN {row}.size ELSE 0 END)"
    )


def _clear_digest(row: str) -> str:
    parent = f"substr({row}.path, 1, length(rtrim({row}.path, replace({row}.path, '/', ''))) - 1)"
    return (
        f"UPDATE entries SET digest = NULL WHERE location_id = {row}.location_id AND "
        f"path = {parent} AND kind = 'dir' AND digest IS NOT NULL; "
        f"UPDATE locations SET root_digest = NULL WHERE id = {row}.location_id AND "
        f"instr({row}.path, '/') = 0 AND root_digest IS NOT NULL;"
    )


_DIGEST_COLS = (*_ENTRY_COLS, *_FILE_COLS)
# Schema 5: a hash filled in where there was none (a mirror's copy hashing a file its scan
# left unread, see deferred.py) is not a change: the file is what it was, and a run plans
# only once every file it compares has its hash. A hash that changes or goes still is.
_HASH_CHANGED = "(old.hash IS NOT NULL AND old.hash IS NOT new.hash)"
_NOT_HASH = tuple(c for c in _ENTRY_COLS if c != "hash")
_ENTRY_CHANGED_5 = (
    f"{_differs(_NOT_HASH)} OR {_HASH_CHANGED} OR (new.kind != 'dir' AND ({_differs(_FILE_COLS)}))"
)
# Schema 8: the insert triggers stand aside while `bulk_inserts` holds a row, which it
# does only inside the transaction of a writer that keeps the counters, totals and digests
# itself (snapshots.IndexWriter `fresh`: ~1.5 µs a row less, ~0.5 CPU-s of a W1 first mirror).
_NOT_BULK = "NOT EXISTS (SELECT 1 FROM bulk_inserts)"
CHANGE_TRIGGERS = {
    **_V3_TRIGGERS,
    "trg_entries_ins": f"AFTER INSERT ON entries WHEN {_NOT_BULK} BEGIN UPDATE locations "
    f"SET changes = changes + 1, {_totals('new', '+')} WHERE id = new.location_id; END",
    "trg_base_ins": f"AFTER INSERT ON base_entries WHEN {_NOT_BULK} BEGIN UPDATE conduits "
    "SET base_changes = base_changes + 1 WHERE id = new.conduit_id; END",
    "trg_entries_del": "AFTER DELETE ON entries BEGIN UPDATE locations SET changes = "
    f"changes + 1, {_totals('old', '-')} WHERE id = old.location_id; END",
    "trg_entries_upd": f"AFTER UPDATE ON entries WHEN {_ENTRY_CHANGED_5} BEGIN "
    f"UPDATE locations SET changes = changes + 1, {_totals('old', '-')} "
    f"WHERE id = old.location_id; UPDATE locations SET {_totals('new', '+')} "
    "WHERE id = new.location_id; END",
}


def _cut_below(row: str) -> str:
    return (
        f"DELETE FROM entries WHERE location_id = {row}.location_id AND "
        f"path >= {row}.path || '/' AND path < {row}.path || '0';"
    )


# Nothing can be stored below a key that is not a folder: whoever deletes a folder's entry
# or turns it into a file deletes what was below it too (the indexer counts these itself).
CASCADE_TRIGGERS = {
    "trg_entries_cut_del": f"AFTER DELETE ON entries WHEN old.kind = 'dir' BEGIN "
    f"{_cut_below('old')} END",
    "trg_entries_cut_upd": f"AFTER UPDATE ON entries WHEN old.kind = 'dir' AND "
    f"new.kind != 'dir' BEGIN {_cut_below('new')} END",
}
# Nor does it change what a folder's listing digest vouches for.
_DIGEST_CHANGED = f"{_differs((*_NOT_HASH, *_FILE_COLS))} OR {_HASH_CHANGED}"


# Schema 7: the triggers fire only while the location holds a digest at all (an indexed
# probe). Finding the parent of a path in SQL costs ~2 us a row (rtrim against the
# path's own characters): an initial scan or mirror writing 100k entries into a location
# without digests paid it for nothing.
def _digested(row: str) -> str:
    return (
        f"(EXISTS (SELECT 1 FROM entries WHERE location_id = {row}.location_id AND "
        "kind = 'dir' AND digest IS NOT NULL) OR (SELECT root_digest FROM locations "
        f"WHERE id = {row}.location_id) IS NOT NULL)"
    )


DIGEST_TRIGGERS = {
    "trg_entries_digest_ins": f"AFTER INSERT ON entries WHEN {_NOT_BULK} AND {_digested('new')} "
    f"BEGIN {_clear_digest('new')} END",
    "trg_entries_digest_del": f"AFTER DELETE ON entries WHEN {_digested('old')} "
    f"BEGIN {_clear_digest('old')} END",
    "trg_entries_digest_upd": f"AFTER UPDATE ON entries WHEN ({_DIGEST_CHANGED}) AND "
    f"({_digested('old')} OR {_digested('new')}) "
    f"BEGIN {_clear_digest('old')} {_clear_digest('new')} END",
}
# What `_digested` probes: the folders holding a digest, by location.
DIGESTED_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_entries_digested ON entries (location_id) "
    "WHERE kind = 'dir' AND digest IS NOT NULL"
)
# Folders by location, with their digests: what a rescan loads instead of every entry.
DIR_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_entries_dirs ON entries (location_id, path, digest) "
    "WHERE kind = 'dir'"
)


# Schema 6: while a location is journaled, every change that moves its counter also
# writes the path to `changes`, so a run can plan just those paths (journal.py).
_JOURNALED = "(SELECT journal FROM locations WHERE id = {row}.location_id)"


def _journal(row: str) -> str:
    return f"INSERT INTO changes (location_id, path) VALUES ({row}.location_id, {row}.path);"


JOURNAL_TRIGGERS = {
    "trg_entries_journal_ins": f"AFTER INSERT ON entries WHEN {_NOT_BULK} AND "
    f"{_JOURNALED.format(row='new')} "
    f"BEGIN {_journal('new')} END",
    "trg_entries_journal_del": f"AFTER DELETE ON entries WHEN {_JOURNALED.format(row='old')} "
    f"BEGIN {_journal('old')} END",
    "trg_entries_journal_upd": f"AFTER UPDATE ON entries WHEN ({_ENTRY_CHANGED_5}) AND "
    f"({_JOURNALED.format(row='old')} OR {_JOURNALED.format(row='new')}) "
    f"BEGIN {_journal('new')} INSERT INTO changes (location_id, path) SELECT old.location_id, "
    "old.path WHERE old.path IS NOT new.path OR old.location_id IS NOT new.location_id; END",
}


# The triggers a `bulk_inserts` row stands aside (schema 8), and whether, for a location
# (the parameter), they would only have counted: not while it is journaled, nor while it
# holds a digest. A writer standing them aside asks first (snapshots `_insert_fresh`).
ONLY_COUNTED = (
    f"SELECT NOT {_JOURNALED.format(row='l')} AND NOT {_digested('l')} "
    "FROM (SELECT ? AS location_id) AS l"
)
INSERT_TRIGGERS = (
    "trg_entries_ins",
    "trg_base_ins",
    "trg_entries_digest_ins",
    "trg_entries_journal_ins",
)


def _create_triggers(conn: Connection, triggers: dict[str, str]) -> None:
    for name, body in triggers.items():
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


# Files still waiting for their hash (normally none): their folders' digests do not count.
NOHASH_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_entries_nohash ON entries (location_id, path) "
    "WHERE kind = 'file' AND hash IS NULL"
)


def create_triggers(conn: Connection) -> None:
    _create_triggers(
        conn, {**CHANGE_TRIGGERS, **CASCADE_TRIGGERS, **DIGEST_TRIGGERS, **JOURNAL_TRIGGERS}
    )
    conn.execute(DIR_INDEX)
    conn.execute(NOHASH_INDEX)
    conn.execute(DIGESTED_INDEX)


def _migrate_2_to_3(conn: Connection) -> None:
    # Change counters and the conduit's clean token (trusted no-op runs, SPEC 7).
    conn.execute("ALTER TABLE locations ADD COLUMN changes INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE conduits ADD COLUMN base_changes INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE conduits ADD COLUMN clean_token TEXT")
    _create_triggers(conn, _V3_TRIGGERS)


def _migrate_3_to_4(conn: Connection) -> None:
    # Folder digests (fast no-op rescans); totals and orphan deletes kept by triggers.
    conn.execute("ALTER TABLE entries ADD COLUMN digest VARCHAR(32)")
    conn.execute("ALTER TABLE locations ADD COLUMN root_digest VARCHAR(32)")
    for name in ("trg_entries_ins", "trg_entries_del", "trg_entries_upd"):
        conn.execute(f"DROP TRIGGER {name}")
    create_triggers(conn)
    conn.execute(
        "UPDATE locations SET files = (SELECT count(*) FROM entries e WHERE "
        "e.location_id = locations.id AND e.kind = 'file'), bytes = (SELECT "
        "coalesce(sum(size), 0) FROM entries e WHERE e.location_id = locations.id "
        "AND e.kind = 'file')"
    )


def _migrate_4_to_5(conn: Connection) -> None:
    # Deferred hashes: filling one in keeps the folder's digest; an index finds the files
    # still waiting for theirs.
    for name in ("trg_entries_upd", "trg_entries_digest_upd"):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    create_triggers(conn)


def _migrate_5_to_6(conn: Connection) -> None:
    # The change journal: runs plan only the paths changed since their last clean run.
    conn.execute("ALTER TABLE locations ADD COLUMN journal BOOLEAN NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE conduits ADD COLUMN clean_seq INTEGER")
    for statement in TABLES["changes"]:
        conn.execute(statement)
    create_triggers(conn)


def _migrate_6_to_7(conn: Connection) -> None:
    # Digest triggers that skip locations without digests (and the index they probe).
    for name in DIGEST_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    create_triggers(conn)


def _migrate_7_to_8(conn: Connection) -> None:
    # Insert triggers that stand aside for a writer keeping the counters itself.
    (table,) = TABLES["bulk_inserts"]
    conn.execute(table.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
    for name in INSERT_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    create_triggers(conn)


# MIGRATIONS[n] turns a version-n database into version n+1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
    5: _migrate_5_to_6,
    6: _migrate_6_to_7,
    7: _migrate_7_to_8,
}


def _set_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    set_pragmas(dbapi_conn)


def connect(db_path: Path) -> sqlite3.Connection:
    """A plain connection with the library's pragmas, in autocommit mode: the caller
    says BEGIN where it wants a transaction."""
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        set_pragmas(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class Library:
    """An open library. Sessions (SQLAlchemy) and `connect` (plain sqlite3) are
    short-lived; the engine is made on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db_path = data_dir / DB_NAME
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.db_path)
            return self._engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        if self._sessions is None:
            from sqlalchemy.orm import sessionmaker

            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self._sessions() as s, s.begin():
            yield s

    @contextlib.contextmanager
    def connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A plain connection in one transaction, committed on success and rolled back
        on error. `write`: take the write lock at the start (BEGIN IMMEDIATE), so a
        read-then-write waits its turn (busy timeout) instead of failing half-way."""
        conn = connect(self.db_path)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            conn.close()

    def forget_connections(self) -> None:
        """In a forked child: drop the parent's pooled connections without closing them
        (they are the parent's to close). The lock is new too: another thread of the
        parent may have held it at the fork."""
        self._lock = threading.Lock()
        if self._engine is not None:
            self._engine.dispose(close=False)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _check_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise LibraryError(
            f"data dir {data_dir} is not writable ({e.strerror or e}); "
            "choose another with --data-dir"
        ) from None


def _corrupt(db_path: Path, why: object) -> CorruptLibrary:
    return CorruptLibrary(
        f"the library database {db_path} is damaged ({why}); run "
        "`spacesync library rebuild` to rebuild the index from your saved settings"
    )


def make_engine(db_path: Path) -> Engine:
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{db_path}", future=True)
    event.listen(engine, "connect", _set_pragmas)
    return engine


def _read_version(conn: Connection) -> int | None:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if not has_meta:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise ValueError("not a SpaceSync library")
        return None
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else None


def backup_database(db_path: Path, version: int) -> Path:
    """Copy the database (consistently, via SQLite's backup API) before migrating it."""
    dest = db_path.with_name(f"{db_path.name}.v{version}-{time.strftime('%Y%m%d-%H%M%S')}.bak")
    src = sqlite3.connect(db_path)
    try:
        dst = sqlite3.connect(dest)
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    return dest


def _create(conn: Connection) -> None:
    for statements in TABLES.values():
        for statement in statements:
            conn.execute(statement)
    create_triggers(conn)
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )


def _migrate(conn: Connection, db_path: Path, version: int) -> None:
    backup_database(db_path, version)
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))


def _prepare(conn: Connection, db_path: Path) -> None:
    """Create or migrate the schema as needed, in one write transaction (so a second
    process opening the same new library waits, then finds it made)."""
    if _read_version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _read_version(conn)
        if version is None:
            _create(conn)
        elif version > SCHEMA_VERSION:
            raise LibraryError(
                f"the library {db_path} was written by a newer SpaceSync "
                f"(schema {version}, this one knows {SCHEMA_VERSION}); please upgrade"
            )
        elif version < SCHEMA_VERSION:
            _migrate(conn, db_path, version)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def open_library(data_dir: Path) -> Library:
    """Open (creating or migrating as needed) the library in `data_dir`."""
    _check_writable(data_dir)
    db_path = data_dir / DB_NAME
    try:
        conn = connect(db_path)
        try:
            _prepare(conn, db_path)
        finally:
            conn.close()
    except (sqlite3.DatabaseError, ValueError) as e:
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
            raise LibraryError(f"the library {db_path} is locked by another program") from None
        raise _corrupt(db_path, e) from None
    return Library(data_dir)


def quarantine_database(data_dir: Path) -> Path | None:
    """Move a damaged database (and its WAL files) aside; returns where it went."""
    db_path = data_dir / DB_NAME
    if not db_path.exists():
        return None
    dest = db_path.with_name(f"{DB_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    shutil.move(db_path, dest)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(DB_NAME + suffix)
        if side.exists():
            shutil.move(side, dest.with_name(dest.name + suffix))
    return dest
