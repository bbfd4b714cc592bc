"""The indexer: walk a location root (or one subtree of it) and bring its entries up to date.

Design (SPEC section 2):
- Each folder is listed (names + lstat) and its listing reduced to a digest. A folder
  whose digest equals the one stored at its last clean scan has entries that match the
  disk: nothing of it is loaded or compared, which keeps a no-op rescan at about the cost
  of the directory walk itself. Any write to a child entry by anyone clears the folder's
  digest (a trigger, `db.DIGEST_TRIGGERS`), so a digest never vouches for entries that
  changed behind the scanner's back.
- Any other folder loads its children's entries (one indexed SELECT), the listing pops
  what it sees, and what is left was deleted (with everything stored below it).
- A file whose (size, mtime_ns, inode) is unchanged keeps its stored hash unread.
- Whatever the scan cannot read is recorded as a scan error and *protected*: its old entry
  and everything stored below it are kept, so a permission glitch never turns into a mass
  delete in the next sync.
- Writes are Core statements in batches, each its own short transaction, so other
  processes are never blocked for long and a stopped or crashed scan leaves every row
  individually true. Deletes and digests are applied only after a complete walk.
- Location totals (files, bytes) are kept by triggers, whoever writes the entries.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import xxhash
from sqlalchemy import (
    Connection,
    and_,
    delete,
    func,
    insert,
    select,
    true,
    update,
)

from . import journal, tables
from .constants import DIR, FILE, SYMLINK
from .db import Library
from .errors import NotFound, SpaceSyncError, UserError
from .events import Emit, ScanProgress, ignore_events
from .listing import CHECK_EVERY, digest_seed, known_children, list_dir, load_digests
from .listing import Listed as _Listed
from .listing import Pending as _Pending
from .listing import digest as listing_digest
from .paths import key_for, raw_for, subtree_bounds
from .results import ScanResult
from .rules import IgnoreRules, builtin_ignored
from .snapshots import (
    ENTRY_UPSERT,
    bulk_delete,
    bulk_update,
    bulk_write,
    children_where,
    dbapi_of,
    entries_update,
)

CHUNK_SIZE = 1 << 20  # hashing read size: large enough that syscalls never dominate
WRITE_BATCH = 4000  # rows per write transaction
PROGRESS_INTERVAL = 0.2  # seconds between ScanProgress events
_SQL_IN_MAX = 500  # keys per `IN (...)`: stays far below SQLite's bound-parameter limit

CHANGED_WHILE_READ = "changed while being read"
GONE_SINCE_SCAN = "deleted since the scan"
NOT_REGULAR = "not a regular file"


def read_problem(side: str, why: str) -> str:
    """What a run reports about an item of its `side` ("source"/"target") that a scan or a
    hash could not read (`why`): a change made meanwhile is no failure, just news."""
    if why == CHANGED_WHILE_READ:
        return f"changed on the {side} side while being read; it will be synced on the next run"
    if why == GONE_SINCE_SCAN:
        return f"deleted on the {side} side since the scan; it will be synced on the next run"
    return f"could not read on the {side} side: {why}"


_ENTRIES = tables.entries
_ERRORS = tables.scan_errors
_LOCATIONS = tables.locations

_S_IFMT = 0o170000
_S_IFREG = stat.S_IFREG
_S_IFDIR = stat.S_IFDIR
_S_IFLNK = stat.S_IFLNK
_FILE, _DIR, _SYMLINK = FILE, DIR, SYMLINK

# O_NOFOLLOW: the item was lstat'ed as a file; should a symlink have replaced it since, do
# not follow it. O_NONBLOCK: should a fifo have replaced it, open must not hang (the fstat
# check then reports the change). O_BINARY: no newline translation on Windows.
_O_BINARY = getattr(os, "O_BINARY", 0)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | _O_BINARY

# A stored entry as loaded: (path, mtime_ns, size, inode, tag, raw, link). The row is
# narrow: SQLite folds kind, mode and "the name bytes differ" into one integer `tag`, which
# one compare checks. The hash is not needed to decide (an unchanged file keeps the stored
# one untouched).
_KIND_BITS = {_FILE: 0, _DIR: 1 << 12, _SYMLINK: 2 << 12}  # above the 12 permission bits
_KIND_MASK = 3 << 12
_RAW_BIT = 1 << 14
# A file whose hash a sync's scan left for its copy to compute (`defer_hashes`): never
# equal to a tag made from the disk, so every later scan looks at it again.
_NOHASH_BIT = 1 << 15
_TAG_SQL = (
    "mode + CASE kind"
    + "".join(f" WHEN '{kind}' THEN {bits}" for kind, bits in _KIND_BITS.items())
    + f" ELSE {_KIND_MASK} END + CASE WHEN raw IS NULL THEN 0 ELSE {_RAW_BIT} END"
    + f" + CASE WHEN kind = '{_FILE}' AND hash IS NULL THEN {_NOHASH_BIT} ELSE 0 END"
)
_STORED_COLS = f"path, mtime_ns, size, inode, {_TAG_SQL}, raw, link"
_PATH, _MTIME, _SIZE, _INODE, _TAG, _RAW, _LINK = range(7)
Stored = tuple[Any, ...]


class _Stopped(Exception):
    """should_stop() said so while a large file was being hashed."""


class _Unreachable(Exception):
    """The subtree to scan cannot be reached (permission): keep everything as it is."""


def _unreadable(e: OSError) -> str:
    """Why a file listed as a regular file could not be read (for `read_problem`)."""
    if e.errno == errno.ELOOP:  # O_NOFOLLOW met the symlink it has become since
        return CHANGED_WHILE_READ
    return f"cannot read file: {_reason(e)}"


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def hash_file(path: str | bytes) -> tuple[str, int]:
    """The xxh3-128 hex digest of a file's bytes, and how many bytes were read."""
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
        return _hash_fd(fd, -1, None)
    finally:
        os.close(fd)


def _hash_fd(fd: int, size: int, on_chunk: Callable[[int], None] | None) -> tuple[str, int]:
    """Hash an open file; `size` (from stat, -1 if unknown) lets a small file take one read."""
    first = b""
    if 0 <= size < CHUNK_SIZE:
        # One byte more than expected: receiving exactly `size` bytes means the whole file
        # came in one read (a file that grew meanwhile is caught by the caller's fstat).
        first = os.read(fd, size + 1)
        if len(first) == size:
            return xxhash.xxh3_128_hexdigest(first), size
    h = xxhash.xxh3_128(first)
    total = len(first)
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    with open(fd, "rb", buffering=0, closefd=False) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
            total += n
            if on_chunk is not None:
                on_chunk(total)
    return h.hexdigest(), total


def _tag(kind: str, st: os.stat_result, raw: bytes | None) -> int:
    return (st.st_mode & 0o7777) | _KIND_BITS[kind] | (0 if raw is None else _RAW_BIT)


def _is_file(old: Stored | None) -> bool:
    return old is not None and old[_TAG] & _KIND_MASK == _KIND_BITS[_FILE]


def _is_dir(old: Stored) -> bool:
    return old[_TAG] & _KIND_MASK == _KIND_BITS[_DIR]


def _link_text(target: str) -> str:
    """A symlink target as storable text: undecodable bytes are spelled `\\xNN`."""
    try:
        target.encode("utf-8")
        return target
    except UnicodeEncodeError:
        return target.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _scope_parts(col: Any, subtree: str) -> list[Any]:
    """SQL conditions whose union is the scope: `subtree` itself, and the range below it.

    Two conditions rather than one OR: SQLite then searches the (location_id, path) index
    for each, where with an OR it would filter every row of the location.
    """
    if not subtree:
        return [true()]
    lo, hi = subtree_bounds(subtree)
    return [col == subtree, and_(col >= lo, col < hi)]


def _twin_message(name: str) -> str:
    return (
        f"skipped: the name {os.fsencode(name)!r} has the same key as another item in "
        "this folder (Unicode normalisation)"
    )


def _normalise_subtree(subtree: str | None) -> str:
    if not subtree:
        return ""
    key = key_for(subtree).strip("/")
    if key and any(part in ("", ".", "..") for part in key.split("/")):
        raise UserError(f"invalid subtree {subtree!r}: it must be a plain relative path")
    return key


_TOUCHED = ("raw", "size", "mtime_ns", "inode", "mode", "indexed_at")
_TOUCH = entries_update(_TOUCHED, ("location_id", "path"))
_SET_DIGEST = entries_update(("digest",), ("location_id", "path"))


class _Writer:
    """Buffers entry writes; each flush is one short transaction.

    Rows are addressed by (location_id, path), the unique index, so the scan needs no ids.
    """

    def __init__(self, conn: Connection, location_id: int) -> None:
        self.conn = conn
        self.location_id = location_id
        # Plain DBAPI rows: SQLAlchemy's per-row parameter processing cost more than SQLite.
        self.rows: list[tuple[Any, ...]] = []  # whole entries, in ENTRY_UPSERT's order
        self.touches: list[tuple[Any, ...]] = []  # stat data only: the hash stays
        self.deletes: list[str] = []
        self.cuts: list[str] = []  # keys whose stored descendants go
        self.cut_rows = 0  # entries the cuts deleted

    def put(
        self,
        key: str,
        raw: bytes | None,
        kind: str,
        st: os.stat_result,
        hash_: str | None,
        link: str | None,
    ) -> None:
        # Upserted rather than inserted: another process may have indexed the key since.
        self.rows.append(
            (
                self.location_id,
                key,
                raw,
                kind,
                0 if kind == _DIR else st.st_size,
                st.st_mtime_ns,
                st.st_ino,
                st.st_mode & 0o7777,
                hash_,
                link,
                time.time(),
            )
        )
        self.check()

    def touch(self, key: str, raw: bytes | None, st: os.stat_result) -> None:
        """A file whose content is unchanged by the index's rule: keep its stored hash."""
        values = (raw, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode & 0o7777, time.time())
        self.touches.append((*values, self.location_id, key))
        self.check()

    def delete(self, key: str) -> None:
        self.deletes.append(key)
        self.check()

    def cut(self, key: str) -> None:
        """Delete what is stored below `key` (counted: a trigger would do it uncounted)."""
        self.cuts.append(key)
        self.check()

    def check(self) -> None:
        if len(self.rows) + len(self.touches) + len(self.deletes) >= WRITE_BATCH:
            self.flush()

    def flush(self, commit: bool = True) -> None:
        for key in self.cuts:
            self.cut_rows += self.delete_below(key)
        self.cuts = []
        if self.rows or self.touches or self.deletes:
            if not self.conn.in_transaction():
                self.conn.begin()  # so that the commit below reaches SQLite
            db = dbapi_of(self.conn)
            if self.rows:
                bulk_write(db, ENTRY_UPSERT, 11, self.rows)
            if self.touches:
                bulk_update(db, _TOUCH, self.touches)
            if self.deletes:
                bulk_delete(db, "entries", "location_id", {self.location_id: self.deletes})
        self.rows, self.touches, self.deletes = [], [], []
        if commit:
            self.conn.commit()

    def delete_below(self, key: str) -> int:
        """Delete every entry strictly below `key`; returns how many there were."""
        lo, hi = subtree_bounds(key)
        e = _ENTRIES.c
        below = (e.location_id == self.location_id, e.path >= lo, e.path < hi)
        # Counted first: rows that triggers delete (below a deleted folder) are not in
        # the statement's rowcount.
        n = self.conn.execute(select(func.count()).select_from(_ENTRIES).where(*below)).scalar()
        if n:
            self.conn.execute(delete(_ENTRIES).where(*below))
        return n or 0

    def set_digests(self, digests: list[tuple[str, str]]) -> None:
        """Last of a scan's writes: each entry write clears its folder's digest (trigger)."""
        rows = [(d, self.location_id, k) for k, d in digests if k]
        if rows:
            if not self.conn.in_transaction():
                self.conn.begin()  # so that the caller's commit reaches SQLite
            bulk_update(dbapi_of(self.conn), _SET_DIGEST, rows)
        for key, digest in digests:
            if not key:
                self.conn.execute(
                    update(_LOCATIONS)
                    .where(_LOCATIONS.c.id == self.location_id)
                    .values(root_digest=digest)
                )


class _Scanner:
    """One scan of one scope: the walk, the decisions per item, the counters."""

    def __init__(
        self,
        conn: Connection,
        location_id: int,
        root: str,
        rules: IgnoreRules,
        emit: Emit,
        should_stop: Callable[[], bool] | None,
        defer_hashes: bool = False,
    ) -> None:
        self.conn = conn
        self.defer_hashes = defer_hashes
        self.location_id = location_id
        self.root = root
        self.user_rules = rules if rules else None  # None: skip pathspec entirely
        self.emit = emit
        self.should_stop = should_stop
        self.writer = _Writer(conn, location_id)
        self.result = ScanResult()
        self.stored: dict[str, Stored] = {}  # stored children of the folder being compared
        self.digests: dict[str, str] = {}  # folder key -> digest of its last clean scan
        self.new_digests: list[tuple[str, str]] = []  # applied after a complete walk
        self.leftovers: list[Stored] = []  # stored, not seen: deleted after a complete walk
        self.gone_subtree: str | None = None  # a subtree scan's vanished item
        self.clean = True  # the folder being compared had no error and nothing unseen
        self.seed = digest_seed(rules)
        self.protected: set[str] = set()  # keys whose stored entry and subtree are kept
        self.normalised: set[str] = set()  # keys made from names unlike their key (twin check)
        self.stack: list[_Pending] = []
        self.skip: frozenset[str] = frozenset()  # folders another scan walks meanwhile
        self.stopped = False
        self._last_emit = time.monotonic()

    # -- bookkeeping -------------------------------------------------------------------

    def fail(self, key: str, reason: str, protect: bool = True) -> None:
        self.result.errors.append((key, reason))
        self.clean = False
        if protect:
            self.protected.add(key)

    def tick(self) -> bool:
        """Emit progress when due and poll should_stop; True once the scan must stop."""
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_INTERVAL:
            self._last_emit = now
            self.emit_progress(False)
        if self.should_stop is not None and not self.stopped and self.should_stop():
            self.stopped = True
        return self.stopped

    def emit_progress(self, done: bool) -> None:
        r = self.result
        self.emit(
            ScanProgress(
                self.location_id,
                r.files_seen,
                r.bytes_seen,
                r.files_hashed,
                r.bytes_hashed,
                done,
            )
        )

    def put(
        self,
        key: str,
        raw: bytes | None,
        kind: str,
        st: os.stat_result,
        hash_: str | None,
        link: str | None,
        old: Stored | None,
    ) -> None:
        self.writer.put(key, raw, kind, st, hash_, link)
        if old is None:
            self.result.added += 1
        else:
            self.result.modified += 1
            if kind != _DIR and _is_dir(old):
                self.writer.cut(key)  # a folder no more: what was below it is gone

    def touch(self, key: str, raw: bytes | None, st: os.stat_result) -> None:
        self.writer.touch(key, raw, st)
        self.result.modified += 1

    def forget(self, old: Stored | None) -> None:
        """The item vanished between listing and reading: its entry goes."""
        self.clean = False
        if old is not None:
            self.writer.delete(old[_PATH])
            self.result.deleted += 1

    def unseen(self) -> None:
        """An item was listed but its new state is not indexed: its old entry stays."""
        self.clean = False

    def is_protected(self, key: str) -> bool:
        protected = self.protected
        if "" in protected:
            return True
        while True:
            if key in protected:
                return True
            cut = key.rfind("/")
            if cut < 0:
                return False
            key = key[:cut]

    # -- the walk ----------------------------------------------------------------------

    def walk(self) -> None:
        stack, skip = self.stack, self.skip
        while stack and not self.tick():
            pending = stack.pop()
            if pending[1] not in skip:
                self.scan_dir(*pending)

    def scan_dir(self, dir_path: str, dir_key: str, dir_disk: str, differs: bool) -> None:
        listed = self.list_dir(dir_path, dir_key)
        if listed is None:
            return  # stopped
        listing, whole = listed
        prefix = dir_key + "/" if dir_key else ""
        disk_prefix = dir_disk + "/" if dir_disk else ""
        digest = listing_digest(self.seed, listing) if whole else None
        stored_digest = self.digests.get(dir_key)
        if digest is not None and digest == stored_digest:
            self.walk_known(listing, dir_path, prefix, disk_prefix, differs)
            return
        self.stored = _load_children(self.conn, self.location_id, dir_key)
        self.clean = whole
        if not self.compare(listing, prefix, disk_prefix, differs):
            return  # stopped half-way: nothing of this folder is deleted or vouched for
        self.leftovers.extend(self.stored.values())
        self.stored = {}
        if self.clean and digest is not None and digest != stored_digest:
            self.new_digests.append((dir_key, digest))

    def list_dir(self, dir_path: str, dir_key: str) -> tuple[list[_Listed], bool] | None:
        """The folder's listing and whether it is whole (listing.list_dir), a listing
        error recorded; None if stopped."""
        listed = list_dir(dir_path, self.tick)
        if listed is None:
            return None
        listing, whole, error = listed
        if error is not None:
            self.fail(dir_key, f"cannot list folder: {_reason(error)}")
        return listing, whole

    def walk_known(
        self, listing: list[_Listed], dir_path: str, prefix: str, disk_prefix: str, differs: bool
    ) -> None:
        """A folder whose digest matches: its entries are right; count, and go deeper."""
        seen, seen_bytes, folders = known_children(
            listing, dir_path, prefix, disk_prefix, differs, self.user_rules
        )
        self.stack.extend(folders)
        self.result.files_seen += seen
        self.result.bytes_seen += seen_bytes

    def compare(self, listing: list[_Listed], prefix: str, disk_prefix: str, differs: bool) -> bool:
        """Bring the entries of a folder's listed items up to date; False if stopped."""
        # This loop runs once per item of a changed folder (every item, on a first index):
        # locals, no calls on the common path.
        visit = self.visit
        stored_pop = self.stored.pop
        plain = self.user_rules is None
        r = self.result
        n = seen = seen_bytes = 0  # plain files seen, added to `r` at each check point
        try:
            for de, st in listing:
                n += 1
                if n % CHECK_EVERY == 0:
                    r.files_seen += seen
                    r.bytes_seen += seen_bytes
                    seen = seen_bytes = 0
                    if self.tick():
                        return False
                name = de.name
                if differs or not name.isascii():
                    self.visit_odd(de, st, prefix, disk_prefix + name, differs)
                    continue
                key = prefix + name
                if isinstance(st, OSError):
                    self.fail(key, f"cannot read: {_reason(st)}")
                    continue
                if not (plain and st.st_mode & _S_IFMT == _S_IFREG):
                    disk_rel = disk_prefix + name
                    visit(self.path_of(disk_rel), key, None, st, disk_rel, False)
                    continue
                # visit_file() inlined for the most common item: a plain file.
                size = st.st_size
                seen += 1
                seen_bytes += size
                old = stored_pop(key, None)
                if (
                    old is None
                    or old[_MTIME] != st.st_mtime_ns
                    or old[_SIZE] != size
                    or old[_INODE] != st.st_ino
                    or old[_TAG] != st.st_mode & 0o7777  # a file, same mode, no raw
                ):
                    self.file_changed(self.path_of(disk_prefix + name), key, None, st, old)
        finally:
            r.files_seen += seen
            r.bytes_seen += seen_bytes
        return not self.stopped

    def visit_odd(
        self,
        de: os.DirEntry[str],
        st: os.stat_result | OSError,
        prefix: str,
        disk_rel: str,
        differs: bool,
    ) -> None:
        """A name that is not plain ASCII (or below such a folder): its key may differ."""
        kname = key_for(de.name)
        key = prefix + kname
        if isinstance(st, OSError):
            self.fail(key, f"cannot read: {_reason(st)}")
            return
        path = self.path_of(disk_rel)
        if kname != de.name and self.collides(path, kname, key, st):
            self.fail(key, _twin_message(de.name), protect=False)
            return
        raw = raw_for(disk_rel, key)
        self.visit(path, key, raw, st, disk_rel, differs or raw is not None)

    def path_of(self, disk_rel: str) -> str:
        """The absolute path of an item (listings give bare names: see list_dir)."""
        return os.path.join(self.root, disk_rel)

    def collides(self, path: str, kname: str, key: str, st: os.stat_result) -> bool:
        """Another item of the same folder already owns this key (NFC vs NFD twins)."""
        if key in self.normalised:
            return True
        self.normalised.add(key)
        try:
            twin = os.lstat(os.path.join(os.path.dirname(path), kname))
        except OSError:
            return False
        # Normalisation-insensitive file systems (macOS) find the item itself.
        return twin.st_ino != st.st_ino or twin.st_dev != st.st_dev

    def visit(
        self,
        path: str,
        key: str,
        raw: bytes | None,
        st: os.stat_result,
        disk_rel: str,
        differs: bool,
    ) -> None:
        fmt = st.st_mode & _S_IFMT
        is_dir = fmt == _S_IFDIR
        if self.user_rules is not None and self.user_rules.user_ignored(key, is_dir):
            return
        if fmt == _S_IFREG:
            self.visit_file(path, key, raw, st)
        elif is_dir:
            old = self.stored.pop(key, None)
            if (
                old is None
                or old[_MTIME] != st.st_mtime_ns
                or old[_INODE] != st.st_ino
                or old[_TAG] != _tag(_DIR, st, raw)
                or old[_RAW] != raw
            ):
                self.put(key, raw, _DIR, st, None, None, old)
            self.stack.append((path, key, disk_rel, differs))
        elif fmt == _S_IFLNK:
            self.visit_link(path, key, raw, st)
        else:
            self.fail(key, NOT_REGULAR, protect=False)

    def visit_file(self, path: str, key: str, raw: bytes | None, st: os.stat_result) -> None:
        old = self.stored.pop(key, None)
        self.result.files_seen += 1
        self.result.bytes_seen += st.st_size
        if (
            old is None
            or old[_MTIME] != st.st_mtime_ns
            or old[_SIZE] != st.st_size
            or old[_INODE] != st.st_ino
            or old[_TAG] != _tag(_FILE, st, raw)
            or old[_RAW] != raw
        ):
            self.file_changed(path, key, raw, st, old)

    def file_changed(
        self, path: str, key: str, raw: bytes | None, st: os.stat_result, old: Stored | None
    ) -> None:
        if (
            old is not None
            and _is_file(old)
            and old[_SIZE] == st.st_size
            and old[_MTIME] == st.st_mtime_ns
            and old[_INODE] == st.st_ino
        ):
            if not old[_TAG] & _NOHASH_BIT:
                # Same content by the index's rule (only mode or name bytes changed): the
                # hash is kept without reading the file.
                self.touch(key, raw, st)
                return
            if self.defer_hashes and old[_TAG] == _tag(_FILE, st, raw) | _NOHASH_BIT:
                return  # still waiting for its hash, and otherwise as indexed
        self.hash_and_put(path, key, raw, st, old)

    def hash_and_put(
        self, path: str, key: str, raw: bytes | None, st: os.stat_result, old: Stored | None
    ) -> None:
        if self.defer_hashes:
            # The sync reads it anyway: its copy computes the hash (or the sync asks for it
            # before planning when a comparison needs it). While it has none, its folder's
            # digest is not trusted (`listing.load_digests`), so the next scan looks at it again.
            self.put(key, raw, _FILE, st, None, None, old)
            self.tick()
            return
        r = self.result
        hashed_before = r.bytes_hashed
        big = st.st_size >= CHUNK_SIZE

        def on_chunk(total: int) -> None:
            r.bytes_hashed = hashed_before + total
            if self.tick():
                raise _Stopped

        try:
            digest = _read_hash(
                path, st.st_size, st.st_mtime_ns, st.st_ino, on_chunk if big else None
            )
        except FileNotFoundError:
            self.forget(old)
            return
        except _Stopped:
            self.unseen()
            return  # the old entry stays; the next scan hashes this file
        except _Changed:
            self.unseen()
            self.fail(key, CHANGED_WHILE_READ)
            return
        except OSError as e:
            self.unseen()
            self.fail(key, _unreadable(e))
            return
        r.files_hashed += 1
        r.bytes_hashed = hashed_before + st.st_size
        self.put(key, raw, _FILE, st, digest, None, old)
        if not big:
            self.tick()  # big files ticked per chunk already

    def visit_link(self, path: str, key: str, raw: bytes | None, st: os.stat_result) -> None:
        old = self.stored.pop(key, None)
        try:
            link = _link_text(os.readlink(path))
        except FileNotFoundError:
            self.forget(old)
            return
        except OSError as e:
            self.unseen()
            self.fail(key, f"cannot read link: {_reason(e)}")
            return
        if (
            old is not None
            and old[_TAG] == _tag(_SYMLINK, st, raw)
            and old[_LINK] == link
            and old[_SIZE] == st.st_size
            and old[_MTIME] == st.st_mtime_ns
            and old[_INODE] == st.st_ino
            and old[_RAW] == raw
        ):
            return
        self.put(key, raw, _SYMLINK, st, None, link, old)

    # -- subtree scans -----------------------------------------------------------------

    def start_subtree(self, key: str) -> None:
        """Visit the subtree item itself (its folder, if it is one, then gets walked)."""
        self.stored = _load_item(self.conn, self.location_id, key)
        try:
            found = self.resolve(key)
        except _Unreachable as e:
            self.fail(key, str(e))
            found = None
        if found is None:
            # Gone, ignored, or below a symlink: its stored entries are deleted.
            self.gone_subtree = key
        else:
            disk_rel, st = found
            raw = raw_for(disk_rel, key)
            path = os.path.join(self.root, disk_rel)
            self.visit(path, key, raw, st, disk_rel, raw is not None)
        self.leftovers.extend(self.stored.values())
        self.stored = {}

    def resolve(self, key: str) -> tuple[str, os.stat_result] | None:
        """The on-disk relative path and lstat of a key, walking it one name at a time.

        None when the item is gone, ignored, or reached only through a symlink or a file
        (then it is not part of this location's tree).
        """
        parts = key.split("/")
        disk: list[str] = []
        st: os.stat_result | None = None
        for i, part in enumerate(parts):
            parent = os.path.join(self.root, *disk)
            found = self.find_name(parent, part)
            if found is None:
                return None
            name, st = found
            last = i == len(parts) - 1
            is_dir = stat.S_ISDIR(st.st_mode)
            if not last and not is_dir:
                return None
            sub_key = "/".join(parts[: i + 1])
            if builtin_ignored(name) or (
                self.user_rules is not None and self.user_rules.user_ignored(sub_key, is_dir)
            ):
                return None
            disk.append(name)
        assert st is not None
        if not parts[-1].isascii() or "\\" in parts[-1]:
            self.report_twins(parent, parts[-1], name, key)
        return "/".join(disk), st

    def report_twins(self, parent: str, part: str, chosen: str, key: str) -> None:
        """Report what a full scan reports: other names of the folder with the same key."""
        try:
            with os.scandir(parent) as it:
                twins = [de.name for de in it if de.name != chosen and key_for(de.name) == part]
        except OSError:
            return  # the item itself was found; the next full scan reports the rest
        for name in twins:
            self.fail(key, _twin_message(name), protect=False)

    @staticmethod
    def find_name(parent: str, part: str) -> tuple[str, os.stat_result] | None:
        """The entry of `parent` whose key is `part`: by its own name, else by listing."""
        try:
            return part, os.lstat(os.path.join(parent, part))
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as e:
            raise _Unreachable(f"cannot read: {_reason(e)}") from None
        try:
            with os.scandir(parent) as it:
                for de in it:
                    if key_for(de.name) == part:
                        return de.name, de.stat(follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise _Unreachable(f"cannot list folder: {_reason(e)}") from None
        return None

    # -- the end -----------------------------------------------------------------------

    def finish(self) -> None:
        """After a complete walk: delete what is gone, then vouch for the clean folders."""
        writer = self.writer
        if self.gone_subtree is not None and not self.is_protected(self.gone_subtree):
            writer.cut(self.gone_subtree)
        for old in self.leftovers:
            key = old[_PATH]
            if not self.is_protected(key):
                if _is_dir(old):
                    writer.cut(key)
                writer.delete(key)
                self.result.deleted += 1
        writer.flush(commit=False)
        self.result.deleted += writer.cut_rows
        writer.set_digests(self.new_digests)


def _load_location(conn: Connection, location_id: int) -> tuple[str, list[str]]:
    row = conn.execute(
        select(_LOCATIONS.c.path, _LOCATIONS.c.ignore).where(_LOCATIONS.c.id == location_id)
    ).first()
    if row is None:
        raise NotFound(f"no location with id {location_id}")
    root, ignore = row
    if not os.path.isdir(root):
        raise SpaceSyncError(
            f"cannot scan location {location_id}: its folder {root} is missing or not a "
            "folder (drive not mounted?); the index was left unchanged"
        )
    return root, list(json.loads(ignore or "[]"))


def _load_children(conn: Connection, location_id: int, folder: str) -> dict[str, Stored]:
    """The stored entries directly inside `folder` (the root: ""), key -> narrow row."""
    where, args = children_where(folder)
    sql = f"SELECT {_STORED_COLS} FROM entries WHERE location_id = ? AND {where}"
    rows = dbapi_of(conn).execute(sql, (location_id, *args)).fetchall()
    return dict(zip(map(itemgetter(_PATH), rows), rows, strict=True))


def _load_item(conn: Connection, location_id: int, key: str) -> dict[str, Stored]:
    sql = f"SELECT {_STORED_COLS} FROM entries WHERE location_id = ? AND path = ?"
    return {row[_PATH]: row for row in dbapi_of(conn).execute(sql, (location_id, key))}


def _within(key: str, folders: frozenset[str]) -> bool:
    return any(key == f or key.startswith(f + "/") for f in folders)


def _record_errors(
    conn: Connection,
    location_id: int,
    subtree: str,
    errors: list[tuple[str, str]],
    complete: bool,
    skip: frozenset[str] = frozenset(),
) -> None:
    """A complete scan replaces the scope's errors (but those of the `skip` folders, which
    their own scan records); a stopped one only refreshes its own."""
    t = _ERRORS.c
    if complete and not skip:
        for part in _scope_parts(t.path, subtree):
            conn.execute(delete(_ERRORS).where(t.location_id == location_id, part))
    else:
        keys = sorted({k for k, _ in errors})
        if complete:
            in_scope = [
                k
                for part in _scope_parts(t.path, subtree)
                for (k,) in conn.execute(select(t.path).where(t.location_id == location_id, part))
            ]
            keys = sorted(set(keys) | {k for k in in_scope if not _within(k, skip)})
        for i in range(0, len(keys), _SQL_IN_MAX):
            conn.execute(
                delete(_ERRORS).where(
                    t.location_id == location_id, t.path.in_(keys[i : i + _SQL_IN_MAX])
                )
            )
    if errors:
        now = time.time()
        conn.execute(
            insert(_ERRORS),
            [{"location_id": location_id, "path": k, "message": m, "at": now} for k, m in errors],
        )


def _update_location(conn: Connection, location_id: int, complete: bool) -> None:
    """Refresh the location's error count and (complete scans) last_scan; its file and
    byte totals are kept by triggers as entries change."""
    values: dict[str, Any] = {
        "scan_errors": select(func.count())
        .select_from(_ERRORS)
        .where(_ERRORS.c.location_id == location_id)
        .scalar_subquery()
    }
    if complete:
        values["last_scan"] = time.time()
    conn.execute(update(_LOCATIONS).where(_LOCATIONS.c.id == location_id).values(**values))


def record_walk(
    conn: Connection, location_id: int, subtree: str, digests: list[tuple[str, str]]
) -> None:
    """What a complete scan of `subtree` writes last, for a walk made elsewhere whose
    entries are already written (a first mirror's, first_mirror.py): the digests of the
    folders it listed whole (keys in the location), the scope's old errors gone, and the
    location's last scan now. What that walk could not index is scanned after it (and
    those scans record their errors)."""
    _Writer(conn, location_id).set_digests(digests)
    _record_errors(conn, location_id, subtree, [], True)
    _update_location(conn, location_id, True)


def scan_location(
    lib: Library,
    location_id: int,
    subtree: str | None = None,
    *,
    emit: Emit = ignore_events,
    should_stop: Callable[[], bool] | None = None,
    defer_hashes: bool = False,
    skip: frozenset[str] = frozenset(),
) -> ScanResult:
    """Bring the index of a location (or of the key `subtree` and below) up to date.

    The caller has checked that the location is online; a missing root raises
    SpaceSyncError and changes nothing. With `defer_hashes` (a sync's own scan), new and
    changed files are stored without a hash instead of being read: see `hash_deferred`.
    `skip`: keys of folders inside the scope that another scan brings up to date at the
    same time (scan_split.py): their entries are visited, what is below them is not.
    """
    key = _normalise_subtree(subtree)
    with lib.engine.connect() as conn:
        root, patterns = _load_location(conn, location_id)
        scanner = _Scanner(
            conn, location_id, root, IgnoreRules(patterns), emit, should_stop, defer_hashes
        )
        scanner.skip = skip
        scanner.digests = load_digests(dbapi_of(conn), location_id, key)
        conn.rollback()  # end the read before the walk: a long-lived reader pins the WAL
        if key:
            scanner.start_subtree(key)
        else:
            scanner.stack.append((root, "", "", False))
        scanner.walk()
        complete = not scanner.stopped
        if complete:
            scanner.finish()
        scanner.writer.flush(commit=False)
        _record_errors(conn, location_id, key, scanner.result.errors, complete, skip)
        _update_location(conn, location_id, complete)
        journal.cap(dbapi_of(conn), location_id)
        conn.commit()
    scanner.result.stopped = scanner.stopped
    scanner.emit_progress(True)
    return scanner.result


class _Changed(Exception):
    """The file read is no longer the one the stat data describes."""


def _read_hash(
    path: str,
    size: int,
    mtime_ns: int,
    inode: int,
    on_chunk: Callable[[int], None] | None = None,
) -> str:
    """The xxh3-128 of the file at `path`, which must be (and stay, while it is read) the
    regular file of this size, mtime and inode: else _Changed, since a hash of bytes that
    do not match the stat data would be a half-truth. OSError when it cannot be read."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        digest, nread = _hash_fd(fd, size, on_chunk)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (
        nread != size
        or (after.st_size, after.st_mtime_ns) != (size, mtime_ns)
        or (inode and after.st_ino != inode)
        or not stat.S_ISREG(after.st_mode)
    ):
        raise _Changed
    return digest


def hash_deferred(
    lib: Library, location_id: int, files: list[tuple[str, str, int, int, int]]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Hash files a `defer_hashes` scan stored without one, because a comparison needs it.

    `files`: (entry path, absolute path, size, mtime_ns, inode) as indexed. Returns the
    hashes by entry path, and (entry path, reason) for the ones that could not be read or
    no longer match the index (their entry keeps no hash; the next scan looks again).
    Each hash is written only onto the entry it was read for (same size and mtime).
    """
    hashes: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    for key, path, size, mtime_ns, inode in files:
        try:
            hashes[key] = _read_hash(path, size, mtime_ns, inode)
        except _Changed:
            errors.append((key, CHANGED_WHILE_READ))
        except (FileNotFoundError, NotADirectoryError):
            errors.append((key, GONE_SINCE_SCAN))
        except OSError as e:
            errors.append((key, _unreadable(e)))
    if hashes:
        by_key = {k: (s, m) for k, _, s, m, _ in files}
        with lib.engine.begin() as conn:
            dbapi_of(conn).executemany(
                "UPDATE entries SET hash = ? WHERE location_id = ? AND path = ? AND kind = ?"
                " AND hash IS NULL AND size = ? AND mtime_ns = ?",
                [(h, location_id, k, _FILE, *by_key[k]) for k, h in hashes.items()],
            )
    return hashes, errors
