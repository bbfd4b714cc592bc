"""A no-op sync proven without loading the engine (SPEC 7: a no-op in a fresh process).

`spacesync sync ID` in a new process spends as long importing SQLAlchemy and the ORM as
rescanning both sides. When the conduit's last run ended clean (clean_token.py), a sync
has work to do only if something changed on disk or in the library since; this checks
exactly that with the standard library and the folder digests (listing.py), both sides at
once (one of them in a forked child), and records the run as the full sync would have.

It decides nothing on its own: whatever it cannot prove unchanged (a settings or index
change, a location not online, an endpoint below a name that is not plain ASCII, a schema
to migrate, a busy database, folders whose listing differs) it leaves, unchanged, to the
real sync. When only some folders differ (a few: listing.changed_folders), it names them,
and the real sync rescans just those subtrees, as it does for a watcher's dirty list: the
walk that found them is not paid for twice. What it writes for a no-op is what the full
path writes: the scans' bookkeeping (errors, last_scan, journal cap), one completed and
verified generation, the conduit's last sync and its clean token, the journal position.

`location scan` gets the same shortcut (`try_scan`): a location whose folders all match
their digests is recorded as scanned, as the full scan records a scan that found nothing;
for one where a few folders differ, it names them for the engine to rescan.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR

from . import journal
from .clean_token import Token, read_token, settings_digest
from .constants import DIR, ONLINE
from .db import connect
from .errors import Refused
from .forking import can_fork, fork_child
from .library_file import DB_NAME, SCHEMA_VERSION
from .listing import changed_folders, load_digests
from .location_info import LocationInfo, path_match, read_info
from .markers import probe_state
from .paths import overlap, tmp_dir
from .results import RunReport
from .rules import IgnoreRules, builtin_ignored
from .runlock import conduit_lock

# How long to wait for another process's write transaction (the full sync waits longer).
BUSY_TIMEOUT_S = 2.0
_CONDUIT_COLS = (
    "mode, conflict, ignore, source_prefix, target_prefix, source_location_id,"
    " target_location_id, paused, keep_versions_days, keep_versions_count"
)


# A walk of one side: the folders that changed (None: too many); polls its argument to
# stop early.
_Walk = Callable[[Callable[[], bool]], "list[str] | None"]


class _NotProven(Exception):
    """Something the quick check does not vouch for: the full sync runs instead."""


class _Changed(Exception):
    """The walks found these folders changed (location id -> keys), all else unchanged."""

    def __init__(self, folders: dict[int, set[str]]) -> None:
        super().__init__()
        self.folders = folders


@dataclass
class Outcome:
    """What the quick check found: the recorded report of a no-op, or else (when the walks
    could tell) the folders that changed, location id -> keys: every other folder matches
    its index entries, so the full sync need rescan only these (its `trusted_dirty`)."""

    report: RunReport | None = None
    changed: dict[int, set[str]] | None = None


def try_sync(data_dir: Path, conduit_id: int) -> Outcome:
    """A sync of `conduit_id` that finds nothing to do, recorded in the library (the
    outcome's report); else nothing was changed, and the outcome may name the folders
    that changed."""
    db = connect_library(data_dir)
    if db is None:
        return Outcome()
    try:
        with conduit_lock(data_dir, conduit_id):
            return Outcome(report=_sync(db, conduit_id))
    except _Changed as e:
        return Outcome(changed=e.folders)
    except (_NotProven, Refused, sqlite3.Error, OSError, ValueError):
        return Outcome()
    finally:
        db.close()


@dataclass
class ScanOutcome:
    """What `try_scan` found, by location id: `done`, nothing changed (recorded as
    scanned; the location as it now is); `changed`, the folders (keys) whose listing
    differs, all others matching their index entries: a rescan of just these subtrees
    finds what a full scan finds. A location in neither needs the engine's full scan."""

    asked: list[int]
    done: dict[int, LocationInfo]
    changed: dict[int, list[str]]

    @property
    def complete(self) -> bool:
        """Every location asked for is done: the engine is not needed."""
        return set(self.asked) == set(self.done)


def try_scan(data_dir: Path, ref: str | None) -> ScanOutcome | None:
    """A `location scan` of location `ref` (its id or its path; None: every location),
    as far as it can be proven without the engine (see ScanOutcome). None: nothing
    proven or recorded (an unknown location: the engine says what is wrong; a library
    it cannot read as it is)."""
    db = connect_library(data_dir)
    if db is None:
        return None
    try:
        roots = db.execute("SELECT id, path FROM locations ORDER BY id").fetchall()
        if ref is None:
            ids = [i for i, _ in roots]
        else:
            found = int(ref) if ref.isdigit() else path_match(ref, roots)
            if found is None:
                raise _NotProven
            ids = [found]
        same, changed = [], {}
        for loc in ids:
            try:  # not online, or with unreadable items: the engine's full scan
                root, patterns = _online_root(db, loc)
            except _NotProven:
                continue
            folders = _walker(db, loc, root, patterns, "")(_never)
            if folders == []:
                same.append(loc)
            elif folders is not None:
                changed[loc] = folders
        if same:
            db.execute("BEGIN IMMEDIATE")
            try:
                _scans_done(db, same)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        done = {loc: read_info(db, loc) for loc in same}
        return ScanOutcome(ids, {k: v for k, v in done.items() if v is not None}, changed)
    except (_NotProven, sqlite3.Error, OSError, ValueError):
        return None
    finally:
        db.close()


def conduits_to_sync(data_dir: Path) -> list[int] | None:
    """The conduits `sync --all` runs (the ones not paused, by id), or None when the
    library cannot be read as it is (missing, to migrate, busy: the engine opens it)."""
    db = connect_library(data_dir)
    if db is None:
        return None
    try:
        return [i for (i,) in db.execute("SELECT id FROM conduits WHERE NOT paused ORDER BY id")]
    except sqlite3.Error:
        return None
    finally:
        db.close()


def connect_library(data_dir: Path) -> sqlite3.Connection | None:
    """The library, opened as the engine opens it, if it exists at this schema version."""
    db_path = data_dir / DB_NAME
    if not db_path.is_file():
        return None
    try:
        db = connect(db_path)
    except sqlite3.Error:
        return None
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if version is not None and version[0] == str(SCHEMA_VERSION):
            return db
    except sqlite3.Error:
        pass
    db.close()
    return None


def _sync(db: sqlite3.Connection, conduit_id: int) -> RunReport:
    row = db.execute(f"SELECT {_CONDUIT_COLS} FROM conduits WHERE id = ?", (conduit_id,))
    c = row.fetchone()
    if c is None:
        raise _NotProven
    mode, conflict, ignore, sprefix, tprefix, src, dst, paused, keep_days, keep_count = c
    if paused:
        raise _NotProven  # the full path refuses it, with the reason
    settings = settings_digest(
        mode, conflict, tuple(json.loads(ignore or "[]")), sprefix, tprefix, src, dst
    )
    token = read_token(db, conduit_id, src, dst, settings)
    if token.stored is None or token.current != token.stored:
        raise _NotProven
    roots = {loc: _online_root(db, loc) for loc in (src, dst)}
    sides = ((src, sprefix), (dst, tprefix))
    a, b = (Path(roots[loc][0], prefix).resolve() for loc, prefix in sides)
    if overlap(a, b):
        raise _NotProven
    checks = [_walker(db, loc, *roots[loc], prefix) for loc, prefix in sides]
    found = _walk_both(*checks)
    if found != ([], []):
        if None in found:
            raise _NotProven
        changed: dict[int, set[str]] = {}
        for (loc, _), keys in zip(sides, found, strict=True):
            changed.setdefault(loc, set()).update(keys or ())
        raise _Changed(changed)
    if keep_days or keep_count:
        from .versions import prune_versions

        for root, _ in roots.values():
            prune_versions(root, keep_days, keep_count)
    return RunReport(
        conduit_id, generation=_record(db, conduit_id, token, settings, src, dst), verified=True
    )


def _online_root(db: sqlite3.Connection, loc: int) -> tuple[str, list[str]]:
    """The location's root and ignore patterns, if it is online and was scanned without
    errors (the full scan would refresh those)."""
    info = read_info(db, loc)
    if info is None:
        raise _NotProven
    root = info.path
    (errors,) = db.execute(
        "SELECT count(*) FROM scan_errors WHERE location_id = ?", (loc,)
    ).fetchone()
    if info.state != ONLINE or errors or probe_state(root, info.uuid) != ONLINE:
        raise _NotProven
    if _has_temps(root):
        from .transfer import clean_temp  # as the full scan does first: dead writers' temps

        clean_temp(root)
    return root, list(info.ignore)


def _has_temps(root: str) -> bool:
    try:
        with os.scandir(tmp_dir(root)) as it:
            return any(True for _ in it)
    except FileNotFoundError:
        return False


def _walker(db: sqlite3.Connection, loc: int, root: str, patterns: list[str], key: str) -> _Walk:
    """The walk of the endpoint at `key` in the location (its whole tree when key is "")."""
    rules = IgnoreRules(patterns)
    if key:
        _check_endpoint(db, loc, root, key, rules)
    digests = load_digests(db, loc, key)
    return lambda should_stop: changed_folders(root, digests, rules, should_stop, key)


def _check_endpoint(
    db: sqlite3.Connection, loc: int, root: str, key: str, rules: IgnoreRules
) -> None:
    """An endpoint inside its location: what a scan of that subtree checks before walking
    it (indexer `start_subtree`). Every folder on the way must be a folder (not a symlink),
    not ignored, and the endpoint's own entry must hold its stat data, else that scan would
    write it. Names that are not plain ASCII (keys that may differ from the disk) are left
    to the full scan."""
    if not key.isascii() or "\\" in key:
        raise _NotProven
    parts = key.split("/")
    st = None
    for i, name in enumerate(parts):
        sub = "/".join(parts[: i + 1])
        st = os.lstat(os.path.join(root, sub))
        if not S_ISDIR(st.st_mode) or builtin_ignored(name) or rules.user_ignored(sub, True):
            raise _NotProven
    assert st is not None
    row = db.execute(
        "SELECT kind, mtime_ns, inode, mode, raw FROM entries WHERE location_id = ? AND path = ?",
        (loc, key),
    ).fetchone()
    if row != (DIR, st.st_mtime_ns, st.st_ino, st.st_mode & 0o7777, None):
        raise _NotProven


def _walk_both(first: _Walk, second: _Walk) -> tuple[list[str] | None, list[str] | None]:
    """Both walks at once where this process may fork (the second in a child, which sends
    its answer through a pipe); either one giving up (too much changed) ends the other."""
    if not can_fork():
        mine = first(_never)
        return mine, (second(_never) if mine is not None else None)
    read_fd, write_fd = os.pipe()

    def child() -> None:
        os.close(read_fd)
        found = second(_never)
        if found is None:
            raise _NotProven  # exit status 1: the parent stops its own walk
        with os.fdopen(write_fd, "wb") as out:
            out.write(pickle.dumps(found))

    pid = fork_child(child)
    os.close(write_fd)
    ended: list[int] = []  # the child's wait status, once reaped

    def child_gave_up() -> bool:
        if not ended:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                ended.append(status)
        return bool(ended) and not _succeeded(ended[0])

    mine = None
    try:
        mine = first(child_gave_up)
    finally:
        if mine is None and not ended:
            os.kill(pid, signal.SIGKILL)  # only reads: nothing to clean up
        with os.fdopen(read_fd, "rb") as answer:
            data = answer.read()  # until the child ends: before waiting, so it never blocks
        if not ended:
            ended.append(os.waitpid(pid, 0)[1])
    theirs = pickle.loads(data) if data and _succeeded(ended[0]) else None
    return mine, theirs


def _succeeded(status: int) -> bool:
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _never() -> bool:
    return False


def _scans_done(db: sqlite3.Connection, locations: Iterable[int], now: float | None = None) -> None:
    """What a complete scan that found nothing records (indexer.scan_location), inside
    the caller's transaction."""
    now = time.time() if now is None else now
    for loc in locations:
        db.execute("DELETE FROM scan_errors WHERE location_id = ?", (loc,))
        db.execute("UPDATE locations SET scan_errors = 0, last_scan = ? WHERE id = ?", (now, loc))
        journal.cap(db, loc)


def _record(
    db: sqlite3.Connection, conduit_id: int, token: Token, settings: str, src: int, dst: int
) -> int:
    """Write what the full path writes for a clean no-op, in one transaction, provided the
    token still holds (else someone changed the index meanwhile: the full sync runs)."""
    now = time.time()
    db.execute("BEGIN IMMEDIATE")
    try:
        again = read_token(db, conduit_id, src, dst, settings)
        if again.current != token.current or again.stored != token.stored:
            raise _NotProven
        _scans_done(db, (src, dst), now)
        cur = db.execute(
            "INSERT INTO generations (conduit_id, started_at, finished_at, status, reason,"
            " copied, deleted, moved, conflicts, conflicts_resolved, bytes, errors,"
            " error_details, verified) VALUES (?, ?, ?, 'completed', NULL, 0, 0, 0, 0, 0, 0,"
            " 0, '[]', 1)",
            (conduit_id, now, now),
        )
        db.execute(
            "UPDATE conduits SET last_sync = ?, last_status = 'completed', clean_token = ?"
            " WHERE id = ?",
            (now, token.current, conduit_id),
        )
        counters = ":".join(token.current.split(":")[:2])
        journal.record_clean(db, conduit_id, (src, dst), counters, token.seq)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    generation = cur.lastrowid
    assert generation is not None
    return generation
