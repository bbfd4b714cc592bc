"""Reading the index into snapshots, and writing back what a run changed.

Hot path: a conduit endpoint may hold 100k entries, so rows are read as tuples with one
SELECT and written with executemany, never as ORM objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, insert, select, text

from . import models
from .db import Library
from .paths import disk_rel, subtree_bounds
from .plan import Item, Snapshot

_E = models.Entry.__table__
_B = models.BaseEntry.__table__


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

    @property
    def endpoint(self) -> Path:
        return self.root / self.prefix if self.prefix else self.root

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
        return f"{self.endpoint}/{key if rel is None else rel}"

    def raw(self, key: str, other: Side | None = None) -> bytes | None:
        """The `Entry.raw` of `key` on this side (None when the name on disk is the key)."""
        rel = self._disk_rel(key, other)
        if rel is None:
            return None
        return os.fsencode(f"{self.prefix}/{rel}" if self.prefix else rel)


def load_side(lib: Library, side: Side) -> None:
    """Fill `side.snapshot` and `side.disk` from the index."""
    q = select(
        _E.c.path,
        _E.c.raw,
        _E.c.kind,
        _E.c.size,
        _E.c.mtime_ns,
        _E.c.hash,
        _E.c.link,
        _E.c.mode,
        _E.c.inode,
    ).where(_E.c.location_id == side.location_id)
    cut = 0
    prefix_disk = ""
    if side.prefix:
        lo, hi = subtree_bounds(side.prefix)
        q = q.where(_E.c.path >= lo, _E.c.path < hi)
        cut = len(side.prefix) + 1
        prefix_disk = side.prefix + "/"
    snap: Snapshot = {}
    disk: dict[str, str] = {}
    with lib.engine.connect() as conn:
        for path, raw, kind, size, mtime_ns, hsh, link, mode, inode in conn.execute(q):
            key = path[cut:]
            snap[key] = Item(kind, size, mtime_ns, hsh, link, mode, inode)
            if raw is not None:
                rel = disk_rel(path, raw)
                disk[key] = rel[len(prefix_disk) :] if rel.startswith(prefix_disk) else rel
    side.snapshot, side.disk = snap, disk


def load_base(lib: Library, conduit_id: int, under: str | None = None) -> Snapshot:
    q = select(_B.c.path, _B.c.kind, _B.c.size, _B.c.mtime_ns, _B.c.hash, _B.c.link).where(
        _B.c.conduit_id == conduit_id
    )
    if under:
        lo, hi = subtree_bounds(under)
        q = q.where((_B.c.path == under) | ((_B.c.path >= lo) & (_B.c.path < hi)))
    with lib.engine.connect() as conn:
        return {p: Item(k, s, m, h, lk) for p, k, s, m, h, lk in conn.execute(q)}


class IndexWriter:
    """Buffers base and index changes made by a run; flushes them in batches.

    Writing the engine's own changes into the index (with the hash it verified while
    copying) means the verify rescan only stats files instead of reading them again.
    """

    BATCH = 500
    INTERVAL = 1.0

    def __init__(self, lib: Library, conduit_id: int) -> None:
        self.lib = lib
        self.conduit_id = conduit_id
        self._base: dict[str, Item | None] = {}
        self._entries: dict[tuple[int, str], tuple[Item, bytes | None] | None] = {}
        self._last = time.monotonic()

    def set_base(self, key: str, item: Item | None) -> None:
        self._base[key] = item
        self._maybe_flush()

    def set_entry(
        self, side: Side, key: str, item: Item | None, disk_path: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        """Record what `side` now holds at `key` (None: nothing). With `disk_path`, the
        item's metadata is taken from the disk; otherwise `item` must already be exact."""
        if item is not None and disk_path is not None:
            try:
                st = os.lstat(disk_path)
                item = item._replace(
                    mtime_ns=st.st_mtime_ns, inode=st.st_ino, mode=st.st_mode & 0o7777,
                    size=st.st_size if item.kind == models.FILE else 0,
                )
            except OSError:
                item = None  # vanished again: let the next scan tell
        full = side.full_key(key)
        self._entries[(side.location_id, full)] = (item, raw) if item is not None else None
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if (
            len(self._base) + len(self._entries) >= self.BATCH
            or time.monotonic() - self._last > self.INTERVAL
        ):
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._base and not self._entries:
            return
        base, entries = self._base, self._entries
        self._base, self._entries = {}, {}
        with self.lib.engine.begin() as conn:
            _write_base(conn, self.conduit_id, base)
            _write_entries(conn, entries)


def _write_base(conn: Connection, conduit_id: int, base: dict[str, Item | None]) -> None:
    if not base:
        return
    conn.execute(
        text("DELETE FROM base_entries WHERE conduit_id = :c AND path = :p"),
        [{"c": conduit_id, "p": p} for p in base],
    )
    rows = [
        {
            "conduit_id": conduit_id,
            "path": p,
            "kind": it.kind,
            "size": it.size,
            "mtime_ns": it.mtime_ns,
            "hash": it.hash,
            "link": it.link,
        }
        for p, it in base.items()
        if it is not None
    ]
    if rows:
        conn.execute(insert(_B), rows)


def _write_entries(
    conn: Connection, entries: dict[tuple[int, str], tuple[Item, bytes | None] | None]
) -> None:
    if not entries:
        return
    conn.execute(
        text("DELETE FROM entries WHERE location_id = :l AND path = :p"),
        [{"l": loc, "p": p} for loc, p in entries],
    )
    now = time.time()
    rows = [
        {
            "location_id": loc,
            "path": p,
            "raw": raw,
            "kind": it.kind,
            "size": it.size,
            "mtime_ns": it.mtime_ns,
            "inode": it.inode,
            "mode": it.mode,
            "hash": it.hash,
            "link": it.link,
            "indexed_at": now,
        }
        for (loc, p), v in entries.items()
        if v is not None
        for it, raw in [v]
    ]
    if rows:
        conn.execute(insert(_E), rows)


def drop_base(lib: Library, conduit_id: int, keys: Iterable[str]) -> None:
    with lib.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM base_entries WHERE conduit_id = :c AND path = :p"),
            [{"c": conduit_id, "p": k} for k in keys],
        )
