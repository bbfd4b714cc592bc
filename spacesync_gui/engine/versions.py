"""Deletion handling (SPEC 3.7) and the versions store with its retention.

A `Remover` serves one endpoint root (the folder holding `.spacesync/`). Under
`versioning` an item that is deleted or overwritten goes to
`root/.spacesync/versions/<stamp>/<relative path>` (stamp = the run's local
YYYY-MM-DD_HHMMSS; if that path is taken the stamp folder gets a `-2`, `-3`... suffix);
under `trash` to the OS recycle bin; under `permanent` it is deleted. Every move into the
store is a no-replace rename or a hard link, so concurrent copy threads can never clobber
one another's versions.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator

from .constants import DIR, SYMLINK
from .paths import META_DIR
from .paths import versions_dir as root_versions_dir
from .plan import Item
from .transfer import (
    DestinationChanged,
    DirectoryNotEmpty,
    StrPath,
    kind_of,
    mismatch,
    rename_noreplace,
    temp_name,
)

VERSIONING = "versioning"
TRASH = "trash"
PERMANENT = "permanent"
MODES = (VERSIONING, TRASH, PERMANENT)

STAMP_FORMAT = "%Y-%m-%d_%H%M%S"
_STAMP_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}_\d{6})(?:-(\d+))?$")
_MAX_SUFFIX = 10_000


def make_stamp(now: float | None = None) -> str:
    """The versions folder name of a run started at `now` (local time)."""
    return time.strftime(STAMP_FORMAT, time.localtime(now))


def _parse_stamp(name: str) -> tuple[float, int] | None:
    """(epoch seconds, suffix) of a stamp folder name, None for anything else."""
    m = _STAMP_RE.match(name)
    if not m:
        return None
    try:
        t = time.mktime(time.strptime(m.group(1), STAMP_FORMAT))
    except (ValueError, OverflowError):
        return None
    return t, int(m.group(2) or 1)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- trash --------------------------------------------------------------------------------

# send2trash's freedesktop backend picks a free name and then renames onto it without a
# no-replace check, so two threads trashing same-named files could overwrite one another:
# trash one item at a time.
_TRASH_LOCK = threading.Lock()


def _send_to_trash(path: str) -> None:
    from send2trash import send2trash

    with _TRASH_LOCK:
        if sys.platform not in ("darwin", "win32"):
            _refresh_xdg_trash()
        send2trash(path)


def _refresh_xdg_trash() -> None:
    # plat_other reads XDG_DATA_HOME once at import; follow the current environment so the
    # trash is the one the user (or the test) has now.
    try:
        from send2trash import plat_other
    except ImportError:  # pragma: no cover
        return
    if not hasattr(plat_other, "HOMETRASH_B"):
        return
    xdg = os.path.expanduser(os.environb.get(b"XDG_DATA_HOME", b"~/.local/share"))
    plat_other.XDG_DATA_HOME = xdg
    plat_other.HOMETRASH_B = os.path.join(xdg, b"Trash")
    plat_other.HOMETRASH = os.fsdecode(plat_other.HOMETRASH_B)


# --- the Remover ----------------------------------------------------------------------------


class Remover:
    """Deletes and preserves items of one endpoint root according to the deletion mode."""

    def __init__(self, root: StrPath, mode: str = VERSIONING, stamp: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown deletion handling {mode!r}: use {', '.join(MODES)}")
        if stamp is not None and not _STAMP_RE.match(stamp):
            raise ValueError(f"bad versions stamp {stamp!r}: expected YYYY-MM-DD_HHMMSS")
        self.root = os.path.abspath(os.fspath(root))
        self.mode = mode
        self.stamp = stamp or make_stamp()

    def __repr__(self) -> str:
        return f"Remover({self.root!r}, {self.mode!r}, {self.stamp!r})"

    # -- public API

    def delete(self, path: StrPath, expect: Item) -> str | None:
        """Remove a file or symlink that must still match `expect` (else
        DestinationChanged, nothing touched). Folders go through `rmdir`: whatever is left
        in them was not planned for deletion. Returns where the item went (versioning).
        """
        path = self._check_path(path)
        reason = mismatch(path, expect)
        if reason:
            raise DestinationChanged(path, reason)
        if expect.kind == DIR:
            self.rmdir(path)
            return None
        if self.mode == VERSIONING:
            return self._move_to_versions(path, expect)
        if self.mode == TRASH:
            return self._trash(path, expect)
        self._unlink_checked(path, expect)
        return None

    def rmdir(self, path: StrPath) -> None:
        """Remove an empty folder; a folder that still holds anything is left (raises
        DirectoryNotEmpty). A folder already gone is fine."""
        path = self._check_path(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            raise DestinationChanged(path, f"it is now a {kind_of(st)}, not a folder")
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise DirectoryNotEmpty(path, "it still holds items that were not synced") from None
            raise

    def preserve(self, path: StrPath, expect: Item | None = None) -> str | None:
        """Keep what is at `path` recoverable before it is overwritten.

        versioning: a file or symlink is hard-linked into the store (copied where links
        are impossible), so the real name never goes missing; a folder is moved there
        whole. trash: the item goes to the recycle bin. permanent: a file is left for the
        replace to overwrite; a folder is removed. With `expect`, the preserved item is
        checked to be the one the scan saw (else DestinationChanged). Returns the version's
        path under versioning.
        """
        path = self._check_path(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        kind = kind_of(st)
        if self.mode == TRASH:
            return self._trash(path, expect)
        if self.mode == PERMANENT:
            if kind == DIR:
                self._remove_tree(path)
            return None
        if kind == DIR:
            return self._move_to_versions(path, expect)
        dest = self._link_to_versions(path)
        if expect is not None:
            check = expect if kind == SYMLINK else expect._replace(inode=0)
            reason = mismatch(dest, check)
            if reason:
                # The version is a spare copy of what is there now; the real item stays.
                self._discard(dest)
                raise DestinationChanged(path, reason)
        return dest

    def version_path(self, rel: str, stamp: str | None = None) -> str:
        """Where `rel` (relative to the root) goes in the store for `stamp`."""
        return os.path.join(root_versions_dir(self.root), stamp or self.stamp, rel)

    # -- internals

    def _check_path(self, path: StrPath) -> str:
        path = os.path.abspath(os.fspath(path))
        rel = os.path.relpath(path, self.root)
        if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise ValueError(f"{path} is not inside {self.root}")
        if rel.split(os.sep, 1)[0] == META_DIR:
            raise ValueError(f"{path} is inside the app's own {META_DIR} folder")
        return path

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def _candidates(self, rel: str) -> Iterator[str]:
        yield self.version_path(rel)
        for n in range(2, _MAX_SUFFIX):
            yield self.version_path(rel, f"{self.stamp}-{n}")

    def _place(self, rel: str, put: Callable[[str], None]) -> str:
        """Run put(dest) on the first free version path (put raises FileExistsError if
        taken)."""
        for dest in self._candidates(rel):
            for _ in range(3):
                # A file or symlink kept under this stamp may stand where a folder would go
                # (a run in the same second kept `d`, this one keeps `d/b`): next name.
                # Never through a kept symlink: that would put the version wherever it
                # points, outside the store.
                if self._not_a_folder_on_the_way(os.path.dirname(dest)):
                    break
                try:
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    break  # made meanwhile by someone else
                try:
                    put(dest)
                    return dest
                except FileExistsError:
                    break
                except FileNotFoundError:
                    # A concurrent prune removed the freshly made (still empty) folder.
                    if not os.path.lexists(os.path.dirname(dest)):
                        continue
                    raise
        raise OSError(errno.EEXIST, "no free name in the versions store", rel)

    def _trash(self, path: str, expect: Item | None) -> str | None:
        """To the trash; a symlink the trash refuses goes to the versions store instead
        (returns where). Send2Trash follows links to check them: a dangling link, or one
        to something the user may not write, is "not found" or "permission denied"."""
        try:
            _send_to_trash(path)
            return None
        except OSError:
            if not os.path.islink(path):
                raise
        return self._move_to_versions(path, expect)

    def _not_a_folder_on_the_way(self, folder: str) -> bool:
        """Whether a component of `folder` (below the store's root) exists as anything but
        a real folder."""
        path = os.fspath(root_versions_dir(self.root))
        for part in os.path.relpath(folder, path).split(os.sep):
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                return False  # makedirs makes the rest
            if not stat.S_ISDIR(st.st_mode):
                return True
        return False

    def _move_to_versions(self, path: str, expect: Item | None) -> str:
        try:
            dest = self._place(self._rel(path), lambda d: rename_noreplace(path, d))
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            dest = self._place(self._rel(path), lambda d: self._copy_away(path, d))
            self._remove_original(path, dest)
            return dest
        if expect is not None and expect.kind != DIR:
            reason = mismatch(dest, expect)
            if reason:
                # It changed between our check and the rename: put the unseen change back.
                rename_noreplace(dest, path)
                raise DestinationChanged(path, reason)
        return dest

    def _link_to_versions(self, path: str) -> str:
        rel = self._rel(path)
        try:
            return self._place(rel, lambda d: os.link(path, d, follow_symlinks=False))
        except FileExistsError:
            raise
        except OSError as exc:
            # EPERM (protected_hardlinks, someone else's file), EXDEV, EMLINK, no links
            # on this file system: a verified copy does the same job.
            if exc.errno not in (
                errno.EPERM,
                errno.EXDEV,
                errno.EMLINK,
                errno.ENOTSUP,
                errno.EACCES,
                errno.ENOSYS,
            ):
                raise
        return self._place(rel, lambda d: self._copy_away(path, d))

    def _copy_away(self, src: str, dest: str) -> None:
        """Copy a file, symlink or tree to `dest` (which must not exist), durably."""
        if os.path.lexists(dest):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dest)
        tmp = os.path.join(os.path.dirname(dest), temp_name())
        st = os.lstat(src)
        try:
            if stat.S_ISDIR(st.st_mode):
                shutil.copytree(src, tmp, symlinks=True)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), tmp)
                if os.utime in os.supports_follow_symlinks:
                    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            else:
                shutil.copy2(src, tmp)
                _fsync_file(tmp)
            rename_noreplace(tmp, dest)
        except BaseException:
            self._discard(tmp)
            raise

    def _remove_original(self, path: str, dest: str) -> None:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def _unlink_checked(self, path: str, expect: Item) -> None:
        # Rename aside first, so the check and the unlink concern the same item: if it
        # changed in between, it is put back instead of deleted.
        aside = os.path.join(os.path.dirname(path), temp_name())
        rename_noreplace(path, aside)
        reason = mismatch(aside, expect)
        if reason:
            rename_noreplace(aside, path)
            raise DestinationChanged(path, reason)
        os.unlink(aside)

    def _remove_tree(self, path: str) -> None:
        aside = os.path.join(os.path.dirname(path), temp_name())
        rename_noreplace(path, aside)
        shutil.rmtree(aside)

    @staticmethod
    def _discard(path: str) -> None:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass


# --- the store: listing and retention ---------------------------------------------------------


def _stamps(root: StrPath) -> list[tuple[tuple[float, int], str]]:
    """Stamp folders of a root's store, oldest first."""
    store = root_versions_dir(root)
    try:
        names = os.listdir(store)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        key = _parse_stamp(name)
        if key is not None and os.path.isdir(os.path.join(store, name)):
            out.append((key, name))
    out.sort()
    return out


def list_versions(root: StrPath, rel: str) -> list[tuple[str, str]]:
    """Versions of `rel` (a `/`-separated path below the root), newest first, as
    (stamp, absolute path)."""
    store = root_versions_dir(root)
    rel_os = rel.replace("/", os.sep)
    found = []
    for _, name in reversed(_stamps(root)):
        p = os.path.join(store, name, rel_os)
        if os.path.lexists(p):
            found.append((name, p))
    return found


def prune_versions(
    root: StrPath,
    keep_days: int | None,
    keep_count: int | None,
    now: float | None = None,
) -> int:
    """Apply retention to a root's versions store; return how many versions were removed.

    A version is one file or symlink in the store (a folder versioned whole counts per
    file inside it). Older than `keep_days` (by its stamp) goes; beyond the newest
    `keep_count` of the same relative path goes. Emptied folders are removed.
    """
    now = time.time() if now is None else now
    store = str(root_versions_dir(root))
    cutoff = None if keep_days is None else now - keep_days * 86400
    removed = 0
    by_rel: dict[str, list[tuple[tuple[float, int], str]]] = {}
    for key, name in _stamps(root):
        base = os.path.join(store, name)
        leaves = list(_leaves(base))
        if cutoff is not None and key[0] < cutoff:
            # The whole run's snapshot expired (empty folders in it included).
            shutil.rmtree(base, ignore_errors=True)
            removed += len(leaves)
            continue
        for full in leaves:
            by_rel.setdefault(os.path.relpath(full, base), []).append((key, full))
    if keep_count is not None:
        for versions in by_rel.values():
            versions.sort(reverse=True)  # newest first
            for _, full in versions[max(keep_count, 0) :]:
                try:
                    os.unlink(full)
                except FileNotFoundError:
                    continue
                removed += 1
                _remove_empty_parents(os.path.dirname(full), store)
    return removed


def _leaves(base: str) -> Iterator[str]:
    """Files and symlinks below a stamp folder: one version each."""
    for dirpath, dirnames, filenames in os.walk(base):
        for name in filenames:
            yield os.path.join(dirpath, name)
        # os.walk lists symlinks to folders among dirnames (and does not follow them).
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                yield full


def _remove_empty_parents(folder: str, store: str) -> None:
    """rmdir `folder` and its parents while empty, up to (not including) the store."""
    store = os.path.abspath(store)
    folder = os.path.abspath(folder)
    while folder != store and folder.startswith(store + os.sep):
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty (or already gone): stop here
        folder = os.path.dirname(folder)
