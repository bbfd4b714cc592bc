"""Reading the index into snapshots, and writing back what a run changed.

Hot path: a conduit endpoint may hold 100k entries, so rows are read as tuples with one
SELECT and written through the plain DB-API many rows per statement (`bulk_write`),
never as ORM objects.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from . import tables
from .constants import DIR, FILE
from .db import ONLY_COUNTED, Library
from .paths import disk_rel, subtree_bounds
from .plan import Item, Snapshot

_E = tables.entries
_B = tables.base_entries


@dataclass
class Side:
    """One endpoint of a conduit as a run sees it."""

    name: str  # plan.SOURCE | plan.TARGET
    location_id: int
    root: Path  # the location root (holds `.spacesync/`)
    prefix: str  # the endpoint's key inside the location ('' for the root)
    snapshot: Snapshot = field(default_factory=dict)
    # Keys whose on-disk relative path differs from the key (NFD, non-UTF-8 names).
    disk: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()  # the location's own patterns (relative to `root`)

    @property
    def endpoint(self) -> Path:
        return self.root / self.prefix if self.prefix else self.root

    @functools.cached_property
    def _endpoint_str(self) -> str:
        # abs_path runs several times per file: build the endpoint string once.
        return str(self.endpoint)

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _disk_rel(self, key: str, other: Side | None) -> str | None:
        rel = self.disk.get(key)
        if rel is None and other is not None:
            rel = other.disk.get(key)
        return rel

    def abs_path(self, key: str, other: Side | None = None) -> str:
        """Where `key` lives on this side; a new item takes the other side's disk name.

        Plain strings: this runs several times per file of a run.
        """
        rel = self._disk_rel(key, other)
        return f"{self._endpoint_str}/{key if rel is None else rel}"

    def abs_paths(self, keys: list[str], other: Side | None = None) -> list[str]:
        """`abs_path` of each of `keys`, in one loop (100k of them: no call per key)."""
        end, mine, theirs = self._endpoint_str, self.disk, other.disk if other else {}
        if not mine and not theirs:
            return [f"{end}/{k}" for k in keys]
        out = []
        for k in keys:
            rel = mine.get(k)
            if rel is None:
                rel = theirs.get(k)
            out.append(f"{end}/{k if rel is None else rel}")
        return out

    def disk_key(self, full: str, raw: bytes) -> str:
        """`side.disk`'s value for an entry of this side stored at `full` with `raw`."""
        rel = disk_rel(full, raw)
        cut = self.prefix + "/" if self.prefix else ""
        return rel[len(cut) :] if rel.startswith(cut) else rel

    def raw(self, key: str, other: Side | None = None) -> bytes | None:
        """The `Entry.raw` of `key` on this side (None when the name on disk is the key)."""
        rel = self._disk_rel(key, other)
        if rel is None:
            return None
        return os.fsencode(f"{self.prefix}/{rel}" if self.prefix else rel)


def load_side(lib: Library, side: Side) -> None:
    """Fill `side.snapshot` and `side.disk` from the index (plain DBAPI rows: 100k add up)."""
    where, args = prefix_range(side)
    with lib.engine.connect() as conn:
        rows = (
            dbapi_of(conn)
            .execute(
                f"SELECT {_SIDE_COLS} FROM entries WHERE location_id = ?{where}",
                (side.location_id, *args),
            )
            .fetchall()
        )
    side.snapshot, side.disk = _side_rows(side, rows)


def _rows_for_keys(db, sql: str, owner: int, keys: list[str]) -> list[tuple]:  # noqa: ANN001
    """Run `sql` (ending in `path IN `) for these keys: one JSON array, or chunks of ?s."""
    if _has_json(db):
        return db.execute(
            sql + "(SELECT value FROM json_each(?))", (owner, json.dumps(keys, ensure_ascii=False))
        ).fetchall()
    rows: list[tuple] = []
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        rows += db.execute(sql + f"({', '.join('?' * len(part))})", (owner, *part)).fetchall()
    return rows


def prefix_range(side: Side) -> tuple[str, tuple[object, ...]]:
    if not side.prefix:
        return "", ()
    lo, hi = subtree_bounds(side.prefix)
    return " AND path >= ? AND path < ?", (lo, hi)


def count_files(lib: Library, side: Side) -> int:
    """How many files the index holds on `side` (the location's trigger-kept total when
    the endpoint is the whole location)."""
    with lib.engine.connect() as conn:
        db = dbapi_of(conn)
        if not side.prefix:
            row = db.execute("SELECT files FROM locations WHERE id = ?", (side.location_id,))
        else:
            where, args = prefix_range(side)
            row = db.execute(
                f"SELECT count(*) FROM entries WHERE location_id = ? AND kind = 'file'{where}",
                (side.location_id, *args),
            )
        return int(row.fetchone()[0] or 0)


def _side_rows(side: Side, rows: Iterable[tuple]) -> tuple[Snapshot, dict[str, str]]:  # type: ignore[type-arg]
    cut = len(side.prefix) + 1 if side.prefix else 0
    snap: Snapshot = {}
    disk: dict[str, str] = {}
    for path, raw, kind, size, mtime_ns, hsh, link, mode, inode in rows:
        key = path[cut:] if cut else path
        snap[key] = Item(kind, size, mtime_ns, hsh, link, mode, inode)
        if raw is not None:
            disk[key] = side.disk_key(path, raw)
    return snap, disk


_SIDE_COLS = "path, raw, kind, size, mtime_ns, hash, link, mode, inode"


def load_keys(lib: Library, side: Side, keys: Iterable[str], *, disk: bool = False) -> Snapshot:
    """The index entries of just these keys of `side` (a sub-world: verify, or a run
    planning only what changed). With `disk`, `side.disk` learns their on-disk names."""
    full = [side.full_key(k) for k in keys]
    sql = f"SELECT {_SIDE_COLS} FROM entries WHERE location_id = ? AND path IN "
    with lib.engine.connect() as conn:
        rows = _rows_for_keys(dbapi_of(conn), sql, side.location_id, full)
    snap, names = _side_rows(side, rows)
    if disk:
        side.disk.update(names)
    return snap


def children_where(folder: str) -> tuple[str, tuple[object, ...]]:
    """SQL condition (and its arguments) for the entries directly inside `folder`."""
    if not folder:
        return "instr(path, '/') = 0", ()
    lo, hi = subtree_bounds(folder)
    return "path >= ? AND path < ? AND instr(substr(path, ?), '/') = 0", (lo, hi, len(lo) + 1)


def load_children(lib: Library, side: Side, folders: Iterable[str]) -> Snapshot:
    """The index entries directly inside these folders (keys) of `side`; names taken
    there count when the planner picks a conflict copy's name. Fills `side.disk` too."""
    rows: list[tuple] = []  # type: ignore[type-arg]
    with lib.engine.connect() as conn:
        db = dbapi_of(conn)
        for folder in folders:
            where, args = children_where(side.full_key(folder) if folder else side.prefix)
            rows += db.execute(
                f"SELECT {_SIDE_COLS} FROM entries WHERE location_id = ? AND {where}",
                (side.location_id, *args),
            ).fetchall()
    snap, names = _side_rows(side, rows)
    side.disk.update(names)
    return snap


def load_base_children(lib: Library, conduit_id: int, folders: Iterable[str]) -> Snapshot:
    rows: list[tuple] = []  # type: ignore[type-arg]
    with lib.engine.connect() as conn:
        db = dbapi_of(conn)
        for folder in folders:
            where, args = children_where(folder)
            rows += db.execute(
                "SELECT path, kind, size, mtime_ns, hash, link FROM base_entries"
                f" WHERE conduit_id = ? AND {where}",
                (conduit_id, *args),
            ).fetchall()
    return {p: Item(k, s, m, h, lk) for p, k, s, m, h, lk in rows}


def load_base_keys(lib: Library, conduit_id: int, keys: Iterable[str]) -> Snapshot:
    sql = (
        "SELECT path, kind, size, mtime_ns, hash, link FROM base_entries"
        " WHERE conduit_id = ? AND path IN "
    )
    with lib.engine.connect() as conn:
        rows = _rows_for_keys(dbapi_of(conn), sql, conduit_id, list(keys))
    return {p: Item(k, s, m, h, lk) for p, k, s, m, h, lk in rows}


def load_base(lib: Library, conduit_id: int, under: str | None = None) -> Snapshot:
    sql = "SELECT path, kind, size, mtime_ns, hash, link FROM base_entries WHERE conduit_id = ?"
    args: tuple[object, ...] = (conduit_id,)
    if under:
        lo, hi = subtree_bounds(under)
        sql += " AND (path = ? OR (path >= ? AND path < ?))"
        args += (under, lo, hi)
    with lib.engine.connect() as conn:
        rows = dbapi_of(conn).execute(sql, args).fetchall()
    return {p: Item(k, s, m, h, lk) for p, k, s, m, h, lk in rows}


def _put(snap: dict[str, Any], key: str, value: Any) -> None:  # noqa: ANN401
    if value is None:
        snap.pop(key, None)
    else:
        snap[key] = value


class IndexWriter:
    """Buffers base and index changes made by a run; flushes them in batches.

    Writing the engine's own changes into the index (with the hash it verified while
    copying) means the verify rescan only stats files instead of reading them again.
    """

    BATCH = 500
    INTERVAL = 1.0

    def __init__(
        self,
        lib: Library,
        conduit_id: int,
        track: Iterable[int] = (),
        base: Snapshot | None = None,
    ) -> None:
        self.lib = lib
        self.conduit_id = conduit_id
        # With `base` (the snapshot the run planned with), every change also goes into it
        # and into the side's snapshot, so they keep holding what the index holds: a verify
        # whose rescan changed nothing plans with them instead of reading 100k rows again.
        self.memory = base
        # How far this writer moved the change counters of the `track` locations: a run
        # tells its own index changes from anyone else's by them (service.py).
        self.track = tuple(sorted(set(track)))
        self.moved: dict[int, int] = dict.fromkeys(self.track, 0)
        self._marks = ", ".join("?" * len(self.track))
        self._base: dict[str, Item | None] = {}
        self._entries: dict[tuple[int, str], tuple[Item, bytes | None] | None] = {}
        self._hashes: list[tuple[str, int, str, int, int]] = []
        self._last = time.monotonic()
        # Called before each flush: what the flush records must be durable on disk first.
        self.before_flush: Callable[[], None] | None = None
        # Set by a writer whose rows are new (a first mirror's pass): they are inserted
        # with the insert triggers standing aside (`_insert_fresh`), until a row turns out
        # to be there already; from then on, the usual upserts.
        self.fresh = False

    def set_base(self, key: str, item: Item | None) -> None:
        self._base[key] = item
        if self.memory is not None:
            _put(self.memory, key, item)
        self._maybe_flush()

    def set_entry(
        self,
        side: Side,
        key: str,
        item: Item | None,
        disk_path: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        """Record what `side` now holds at `key` (None: nothing). With `disk_path`, the
        item's metadata is taken from the disk; otherwise `item` must already be exact."""
        if item is not None and disk_path is not None:
            try:
                st = os.lstat(disk_path)
                item = item._replace(
                    mtime_ns=st.st_mtime_ns,
                    inode=st.st_ino,
                    mode=st.st_mode & 0o7777,
                    # As the scanner stores it: a symlink's size is its target's length.
                    size=st.st_size if item.kind != DIR else 0,
                )
            except OSError:
                item = None  # vanished again: let the next scan tell
        full = side.full_key(key)
        self._entries[(side.location_id, full)] = (item, raw) if item is not None else None
        if self.memory is not None:
            _put(side.snapshot, key, item)
            rel = None if item is None or raw is None else side.disk_key(full, raw)
            _put(side.disk, key, rel)
        self._maybe_flush()

    def copies_landed(
        self,
        side: Side,
        src: Side,
        done: Iterable[tuple[str, Item, Item | None, Item]],
        *,
        sources: bool = False,
    ) -> None:
        """Record copies from `src` that landed on `side`: (key, the source item copied, its
        base before, the copy as it is on disk). What `set_base` and `set_entry` do, in one
        loop for a batch (a worker reports up to a thousand at a time, and 100k files add up),
        plus the source's hash where its scan left none (deferred.py): filled in only while
        its entry still holds the size and mtime the copy read. With `sources`, the source
        items (names that are their key) are its entries too: a first mirror's pass walked
        the source instead of scanning it."""
        loc, src_loc, memory = side.location_id, src.location_id, self.memory
        snap, disk, src_snap, src_disk = side.snapshot, side.disk, src.snapshot, src.disk
        for key, item, base, exact in done:
            if sources:
                self._entries[(src_loc, src.full_key(key))] = (item, None)
                if memory is not None:
                    src_snap[key] = item
                    src_disk.pop(key, None)
            digest = exact.hash
            if digest is not None:
                if item.hash is None:  # indexed without a hash: the copy computed it
                    self._hashes.append(
                        (digest, src_loc, src.full_key(key), item.size, item.mtime_ns)
                    )
                    if src_snap.get(key) == item:  # the verify plans with it
                        src_snap[key] = Item(item.kind, item.size, item.mtime_ns, digest, *item[4:])
                if base is not None and base.hash is None and base.kind == exact.kind:
                    base = Item(base.kind, base.size, base.mtime_ns, digest, *base[4:])
            self._base[key] = base
            raw = side.raw(key, src)
            full = side.full_key(key)
            self._entries[(loc, full)] = (exact, raw)
            if memory is not None:
                _put(memory, key, base)
                snap[key] = exact
                _put(disk, key, None if raw is None else side.disk_key(full, raw))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if (
            len(self._base) + len(self._entries) + len(self._hashes) >= self.BATCH
            or time.monotonic() - self._last > self.INTERVAL
        ):
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._base and not self._entries and not self._hashes:
            return
        if self.before_flush is not None:
            self.before_flush()
        base, entries, hashes = self._base, self._entries, self._hashes
        self._base, self._entries, self._hashes = {}, {}, []
        if self.fresh:
            try:
                self._write(base, entries, hashes, fresh=True)
                return
            except sqlite3.IntegrityError:  # all of it rolled back
                self.fresh = False
        self._write(base, entries, hashes, fresh=False)

    def _write(
        self,
        base: dict[str, Item | None],
        entries: dict[tuple[int, str], tuple[Item, bytes | None] | None],
        hashes: list[tuple[str, int, str, int, int]],
        fresh: bool,
    ) -> None:
        with self.lib.engine.begin() as conn:
            db = dbapi_of(conn)
            if self.track:
                # A write first: it takes the write lock, so nobody else's change can land
                # between the read below and this transaction's writes.
                db.execute(
                    f"UPDATE locations SET changes = changes WHERE id IN ({self._marks})",
                    self.track,
                )
            before = self._counters(db)
            if not (fresh and _insert_fresh(db, self.conduit_id, base, entries)):
                _write_base(conn, self.conduit_id, base)
                write_entries(conn, entries)
            if hashes:
                bulk_update(db, _FILL_HASH, hashes)
            for loc, n in self._counters(db).items():
                self.moved[loc] += n - before[loc]

    def _counters(self, db) -> dict[int, int]:  # noqa: ANN001 - a sqlite3 connection
        if not self.track:
            return {}
        sql = f"SELECT id, changes FROM locations WHERE id IN ({self._marks})"
        return dict(db.execute(sql, self.track))


def dbapi_of(conn: Connection):  # noqa: ANN201 - a sqlite3 connection
    """The sqlite3 connection under `conn`: plain DBAPI tuples, no result objects per row."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    return dbapi


# Plain DB-API statements: the run writes one row per item, and SQLAlchemy's per-row
# parameter processing cost more than SQLite itself. Upserts, not INSERT OR REPLACE: a
# replaced row fires no delete trigger, and the triggers keep totals and digests (db.py).
def _upsert(table: str, key: tuple[str, ...], cols: tuple[str, ...]) -> str:
    names = (*key, *cols)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        f" ON CONFLICT({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in cols)
    )


_BASE_UPSERT = _upsert(
    "base_entries", ("conduit_id", "path"), ("kind", "size", "mtime_ns", "hash", "link")
)
ENTRY_UPSERT = _upsert(
    "entries",
    ("location_id", "path"),
    ("raw", "kind", "size", "mtime_ns", "inode", "mode", "hash", "link", "indexed_at"),
)


# Rows go in many per statement (`INSERT ... VALUES (...), (...), ...`), never one per
# statement: every statement that can fire the entries' triggers pays for a statement
# journal and for the change journal's AUTOINCREMENT bookkeeping (100k entry upserts: 1.6 s
# with per-row executemany, 0.82 s read from one JSON array per batch as before, 0.52 s
# this way, which needs no encoding). One sqlite3_step per statement also releases and
# re-takes the GIL once, not once per row: copy threads keep it busy, and each re-take can
# wait. At most this many rows per statement, in power-of-two groups, so a handful of
# statement texts serve every batch size (sqlite3 caches them, parsed).
BULK_ROWS = 256


def bulk_write(db, sql: str, ncols: int, rows: Sequence[tuple[object, ...]]) -> None:  # noqa: ANN001
    """Run `sql` (an INSERT ... VALUES (?, ...), maybe an upsert) for every row."""
    head, values = sql.split(" VALUES ", 1)
    one = values[: values.index(")") + 1]
    tail = values[len(one) :]  # the ON CONFLICT clause, if any
    for n, params in _groups(db, ncols, rows):
        db.execute(f"{head} VALUES {', '.join([one] * n)}{tail}", params)


def _groups(db, ncols: int, rows: Sequence[tuple[object, ...]]) -> Iterable[tuple[int, list]]:  # type: ignore[type-arg]  # noqa: ANN001
    """(count, flat parameters) of each statement's rows (see BULK_ROWS)."""
    most = _rows_per_statement(db, ncols)
    i = 0
    while i < len(rows):
        n = min(most, 1 << ((len(rows) - i).bit_length() - 1))
        yield n, list(chain.from_iterable(rows[i : i + n]))
        i += n


def entries_update(set_cols: Sequence[str], match_cols: Sequence[str], also: str = "") -> Update:
    """The UPDATE of `entries` that sets `set_cols` on the row matching `match_cols` (and
    the condition `also`, its columns written `entries.x`): a row's parameters are the new
    values, then the matched ones. For `bulk_update`."""
    sets = ", ".join(f"{c} = ?" for c in set_cols)
    match = " AND ".join(f"entries.{c} = ?" for c in match_cols)
    cond = f" AND {also}" if also else ""
    n = len(set_cols)
    sets_v = ", ".join(f"{c} = v.column{i}" for i, c in enumerate(set_cols, 1))
    match_v = " AND ".join(f"entries.{c} = v.column{i}" for i, c in enumerate(match_cols, n + 1))
    return Update(
        f"UPDATE entries SET {sets} WHERE {match}{cond}",
        f"UPDATE entries SET {sets_v} FROM (VALUES {{}}) AS v WHERE {match_v}{cond}",
        n + len(match_cols),
    )


@dataclass(frozen=True)
class Update:
    plain: str  # one row per statement
    from_values: str  # many: `{}` takes the rows' VALUES list (UPDATE ... FROM, SQLite 3.33)
    ncols: int


def bulk_update(db, update: Update, rows: Sequence[tuple]) -> None:  # type: ignore[type-arg]  # noqa: ANN001
    """Run `update` (made by `entries_update`) for every row, many rows per statement where
    SQLite has UPDATE ... FROM (the source's hashes: 0.28 s per 100k instead of 0.40)."""
    if sqlite3.sqlite_version_info < (3, 33):
        db.executemany(update.plain, rows)
        return
    one = f"({', '.join('?' * update.ncols)})"
    for n, params in _groups(db, update.ncols, rows):
        db.execute(update.from_values.format(", ".join([one] * n)), params)


_vars_limit: dict[str, int] = {}


def _rows_per_statement(db, ncols: int) -> int:  # noqa: ANN001
    """BULK_ROWS, or the power of two of rows whose parameters this SQLite accepts."""
    if "n" not in _vars_limit:
        try:
            _vars_limit["n"] = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except (AttributeError, sqlite3.Error):  # Python < 3.11: the oldest default
            _vars_limit["n"] = 999
    fit = max(1, _vars_limit["n"] // ncols)
    return min(BULK_ROWS, 1 << (fit.bit_length() - 1))


def bulk_delete(db, table: str, owner: str, groups: dict[int, list[str]]) -> None:  # noqa: ANN001
    if not _has_json(db):
        for oid, paths in groups.items():
            db.executemany(
                f"DELETE FROM {table} WHERE {owner} = ? AND path = ?", [(oid, p) for p in paths]
            )
        return
    for oid, paths in groups.items():
        db.execute(
            f"DELETE FROM {table} WHERE {owner} = ? AND path IN (SELECT value FROM json_each(?))",
            (oid, json.dumps(paths, ensure_ascii=False)),
        )


_json_ok: dict[str, bool] = {}


def _has_json(db) -> bool:  # noqa: ANN001
    if "ok" not in _json_ok:
        try:
            db.execute("SELECT json_each.value FROM json_each('[1]')").fetchall()
            _json_ok["ok"] = True
        except sqlite3.OperationalError:
            _json_ok["ok"] = False
    return _json_ok["ok"]


# A copy hashed a file its scan left without a hash (deferred.py): the hash goes onto
# the entry only while that still holds the size and mtime the copy read.
_FILL_HASH = entries_update(
    ("hash",),
    ("location_id", "path", "size", "mtime_ns"),
    "entries.kind = 'file' AND entries.hash IS NULL",
)


def _write_base(conn: Connection, conduit_id: int, base: dict[str, Item | None]) -> None:
    if not base:
        return
    db = dbapi_of(conn)
    gone = [p for p, it in base.items() if it is None]
    if gone:
        bulk_delete(db, "base_entries", "conduit_id", {conduit_id: gone})
    rows = _base_rows(conduit_id, base)
    if rows:
        bulk_write(db, _BASE_UPSERT, 7, rows)


def _base_rows(conduit_id: int, base: dict[str, Item | None]) -> list[tuple[Any, ...]]:
    """The base's rows to write, in _BASE_UPSERT's order (None: a row to delete, left out)."""
    return [
        (conduit_id, p, it.kind, it.size, it.mtime_ns, it.hash, it.link)
        for p, it in base.items()
        if it is not None
    ]


def _entry_rows(
    entries: dict[tuple[int, str], tuple[Item, bytes | None] | None],
) -> list[tuple[Any, ...]]:
    """The entries' rows to write, in ENTRY_UPSERT's order (None: a row to delete, left
    out), indexed now."""
    now = time.time()
    return [
        (loc, p, raw, it.kind, it.size, it.mtime_ns, it.inode, it.mode, it.hash, it.link, now)
        for (loc, p), v in entries.items()
        if v is not None
        for it, raw in [v]
    ]


_BASE_INSERT = _BASE_UPSERT.partition(" ON CONFLICT")[0]
_ENTRY_INSERT = ENTRY_UPSERT.partition(" ON CONFLICT")[0]
_MOVE_COUNTERS = (
    "UPDATE locations SET changes = changes + ?, files = files + ?, bytes = bytes + ? WHERE id = ?"
)


def _insert_fresh(
    db,  # noqa: ANN001 - a sqlite3 connection, in the caller's transaction
    conduit_id: int,
    base: dict[str, Item | None],
    entries: dict[tuple[int, str], tuple[Item, bytes | None] | None],
) -> bool:
    """Insert the rows, all new, with the insert triggers standing aside (a `bulk_inserts`
    row, schema 8), and move the counters and totals as they would have, once for the
    batch. False, having written nothing, when that cannot stand for the triggers (a row
    to delete; a location journaled or holding digests): the caller writes them the usual
    way. Raises sqlite3.IntegrityError when a row is there already: the caller's
    transaction, rolled back, must not commit what was inserted here."""
    if any(v is None for v in base.values()) or any(v is None for v in entries.values()):
        return False
    totals: dict[int, list[int]] = {}
    for loc, _ in entries:
        if loc not in totals:
            if not db.execute(ONLY_COUNTED, (loc,)).fetchone()[0]:
                return False
            totals[loc] = [0, 0, 0]
    rows = _entry_rows(entries)
    for r in rows:  # as the insert trigger counts (db._totals); (loc, path, raw, kind, size, ...)
        t = totals[r[0]]
        t[0] += 1
        if r[3] == FILE:
            t[1] += 1
            t[2] += r[4]
    base_rows = _base_rows(conduit_id, base)
    db.execute("INSERT INTO bulk_inserts (id) VALUES (1)")
    bulk_write(db, _BASE_INSERT, 7, base_rows)
    bulk_write(db, _ENTRY_INSERT, 11, rows)
    db.execute("DELETE FROM bulk_inserts")
    db.executemany(_MOVE_COUNTERS, [(*t, loc) for loc, t in totals.items()])
    if base:
        sql = "UPDATE conduits SET base_changes = base_changes + ? WHERE id = ?"
        db.execute(sql, (len(base), conduit_id))
    return True


def write_entries(
    conn: Connection, entries: dict[tuple[int, str], tuple[Item, bytes | None] | None]
) -> None:
    if not entries:
        return
    db = dbapi_of(conn)
    gone: dict[int, list[str]] = {}
    for (loc, p), v in entries.items():
        if v is None:
            gone.setdefault(loc, []).append(p)
    if gone:
        bulk_delete(db, "entries", "location_id", gone)
    rows = _entry_rows(entries)
    if rows:
        bulk_write(db, ENTRY_UPSERT, 11, rows)
