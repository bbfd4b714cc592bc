"""A folder's listing, its digest, and the walk that proves a whole tree matches its index.

A listing is a folder's items (built-in ignores left out) with their lstat. Its digest
(names and stat data) is stored on the folder's entry at a clean scan and cleared by a
trigger whenever a child entry changes (db.DIGEST_TRIGGERS), so a folder listing the same
digest again has entries that still match the disk. The indexer uses this to skip such
folders; `changed_folders` uses it to find the folders of a location that changed since
(none: a no-op sync; a few: rescan just those; quick_noop.py).

SQLAlchemy-free: the quick no-op sync imports this without loading the engine.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import stat
from collections.abc import Callable, Iterator

import xxhash

from .paths import TMP_PREFIX, key_for, raw_for, subtree_bounds
from .rules import BUILTIN_NAMES, IgnoreRules, builtin_ignored

try:  # the C accelerator (csrc/fastcopy.c), where it was built: see list_flat
    from . import _fastcopy as _fast  # type: ignore[attr-defined]
except ImportError:
    _fast = None

CHECK_EVERY = 256  # items between clock / should_stop checks inside one folder

# First characters of the names `builtin_ignored` can match: most names skip the call.
_MAYBE_IGNORED = frozenset(n[0] for n in (*BUILTIN_NAMES, "~$", TMP_PREFIX, ".~lock."))
# A listed item: its DirEntry and its lstat, or the error lstat raised.
Listed = tuple[os.DirEntry[str], "os.stat_result | OSError"]
# A listed item as its folder's digest takes it: (name, mode, size, mtime_ns, inode).
Flat = tuple[str, int, int, int, int]
# Part of every folder digest: a new digest recipe, or other ignore rules, change them all.
_DIGEST_RECIPE = b"spacesync folder digest 1\0"
# A folder waiting to be listed: (absolute path, key, disk-relative path, disk != key).
Pending = tuple[str, str, str, bool]

_BY_FD = os.scandir in os.supports_fd
DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_S_IFMT = 0o170000
_S_IFREG = stat.S_IFREG
_S_IFDIR = stat.S_IFDIR


def list_dir(
    dir_path: str, tick: Callable[[], bool] | None = None
) -> tuple[list[Listed], bool, OSError | None] | None:
    """The folder's items with their lstat, whether the listing is whole (no item vanished
    or failed, no error part-way), and the error that stopped the listing if one did (a
    folder gone since its parent was listed is not an error: what was below it is gone).
    None once `tick()` (polled every CHECK_EVERY items) says to stop.

    Where the OS allows it, the folder is listed through an open descriptor, so that each
    lstat is an `fstatat` relative to it rather than a lookup of the whole path (10-20 %
    faster on W1); the items' `path` is then their bare name: callers join `dir_path`."""
    fd = -1
    try:
        if _BY_FD:
            fd = os.open(dir_path, DIR_FLAGS)
            it = os.scandir(fd)
        else:
            it = os.scandir(dir_path)
    except (FileNotFoundError, NotADirectoryError):
        return [], False, None
    except OSError as e:
        return [], False, e
    try:
        return _list(it, tick)
    finally:
        if fd >= 0:
            os.close(fd)


def _list(
    it: Iterator[os.DirEntry[str]], tick: Callable[[], bool] | None
) -> tuple[list[Listed], bool, OSError | None] | None:
    listing: list[Listed] = []
    append = listing.append
    whole = True
    n = 0
    with it:  # type: ignore[attr-defined]
        try:
            for de in it:
                n += 1
                if tick is not None and n % CHECK_EVERY == 0 and tick():
                    return None
                if de.name[0] in _MAYBE_IGNORED and builtin_ignored(de.name):
                    continue
                try:
                    append((de, de.stat(follow_symlinks=False)))
                except FileNotFoundError:
                    whole = False  # vanished since listed: its stored entry (if any) goes
                except OSError as e:
                    append((de, e))
                    whole = False
        except OSError as e:
            # The listing broke off half-way: what was not listed must not look deleted.
            return listing, False, e
    return listing, whole, None


def digest_seed(rules: IgnoreRules) -> bytes:
    return _DIGEST_RECIPE + repr(rules.patterns).encode()


def digest(seed: bytes, listing: list[Listed]) -> str:
    """What a folder's whole listing says about its children: names and stat data."""
    parts = [
        (de.name, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)  # type: ignore[union-attr]
        for de, st in listing
    ]
    return flat_digest(seed, parts)


def flat_digest(seed: bytes, listing: list[Flat]) -> str:
    """`digest` of a listing made by `list_flat` (the same digest for the same items)."""
    # pickle: a faithful byte form of names (surrogates included) and ints, fast.
    return xxhash.xxh3_128_hexdigest(seed + pickle.dumps(listing, 5))


def list_flat(dir_path: str) -> tuple[list[Flat], bool]:
    """`list_dir`'s listing in the form its digest takes (`Flat`), and whether it is whole;
    an item whose lstat failed is left out (the listing is not whole then). For the walks
    that need no DirEntry: the C accelerator lists a folder without making one per item
    (a first mirror's walk and verify of W1: ~2 us an item instead of ~4)."""
    got = _fast.list_stats(dir_path) if _fast is not None else None
    if got is not None:
        items, whole = got
        return [
            t for t in items if t[0][0] not in _MAYBE_IGNORED or not builtin_ignored(t[0])
        ], whole
    listing, whole, _ = list_dir(dir_path) or ([], False, None)  # its errors: not whole
    return [
        (de.name, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        for de, st in listing
        if not isinstance(st, OSError)
    ], whole


def key_of(de: os.DirEntry[str], prefix: str, differs: bool) -> str:
    name = de.name
    return prefix + (key_for(name) if differs or not name.isascii() else name)


def known_children(
    listing: list[Listed],
    dir_path: str,
    prefix: str,
    disk_prefix: str,
    differs: bool,
    rules: IgnoreRules | None,
) -> tuple[int, int, list[Pending]]:
    """Of a folder whose entries are right: its files and their bytes (user-ignored ones
    left out), and the subfolders to walk next."""
    seen = seen_bytes = 0
    folders: list[Pending] = []
    for de, st in listing:
        fmt = st.st_mode & _S_IFMT  # type: ignore[union-attr]
        if fmt == _S_IFREG:
            if rules is None or not rules.user_ignored(key_of(de, prefix, differs)):
                seen += 1
                seen_bytes += st.st_size  # type: ignore[union-attr]
        elif fmt == _S_IFDIR:
            key = key_of(de, prefix, differs)
            if rules is not None and rules.user_ignored(key, True):
                continue
            disk_rel = disk_prefix + de.name
            child_differs = differs or raw_for(disk_rel, key) is not None
            folders.append((os.path.join(dir_path, de.name), key, disk_rel, child_differs))
    return seen, seen_bytes, folders


def load_digests(db: sqlite3.Connection, location_id: int, subtree: str) -> dict[str, str]:
    """Folder digests of the scope (the partial index of folders answers this), except
    those of folders holding a file still waiting for its hash (a later scan must see it)."""
    base = (
        "SELECT path, digest FROM entries INDEXED BY ix_entries_dirs "
        "WHERE location_id = ? AND kind = 'dir' AND "
    )
    unhashed = (
        "SELECT path FROM entries INDEXED BY ix_entries_nohash "
        "WHERE location_id = ? AND kind = 'file' AND hash IS NULL"
    )
    if subtree:
        lo, hi = subtree_bounds(subtree)
        sql = f"{base}digest IS NOT NULL AND (path = ? OR (path >= ? AND path < ?))"
        digests = dict(db.execute(sql, (location_id, subtree, lo, hi)))
        waiting = db.execute(f"{unhashed} AND path >= ? AND path < ?", (location_id, lo, hi))
    else:
        digests = dict(db.execute(base + "digest IS NOT NULL", (location_id,)))
        (root,) = db.execute(
            "SELECT root_digest FROM locations WHERE id = ?", (location_id,)
        ).fetchone()
        if root is not None:
            digests[""] = root
        waiting = db.execute(unhashed, (location_id,))
    for (path,) in waiting:
        digests.pop(path.rpartition("/")[0], None)
    return digests


def changed_folders(
    root: str,
    digests: dict[str, str],
    rules: IgnoreRules,
    should_stop: Callable[[], bool],
    subtree: str = "",
    limit: int = 32,
) -> list[str] | None:
    """The folders of the location at `root` (at and below the folder `subtree`, a plain
    ASCII key) whose listing is not the one their stored digest vouches for (`digests`,
    from load_digests): changed, unreadable, or without a digest. Every other folder's
    entries match the disk, so a rescan of just these subtrees finds what a full rescan
    finds ([] : nothing). None once more than `limit` differ (rescan everything) or
    `should_stop()` says so."""
    seed = digest_seed(rules)
    user_rules = rules if rules else None  # None: skip pathspec entirely
    top = os.path.join(root, subtree) if subtree else root
    stack: list[Pending] = [(top, subtree, subtree, False)]
    changed: list[str] = []
    while stack:
        if should_stop():
            return None
        path, key, disk, differs = stack.pop()
        listing, whole, _ = list_dir(path) or ([], False, None)
        stored = digests.get(key)
        if not whole or stored is None or digest(seed, listing) != stored:
            changed.append(key)  # its rescan covers everything below it
            if len(changed) > limit:
                return None
            continue
        prefix = key + "/" if key else ""
        disk_prefix = disk + "/" if disk else ""
        stack.extend(known_children(listing, path, prefix, disk_prefix, differs, user_rules)[2])
    return changed
