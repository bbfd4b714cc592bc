"""A first mirror's few large files staged while the CLI imports the engine.

A first mirror of a few large files (W3: two of 1 GiB) waits on the disk, and the CLI's
start before its first copy (~0.4 s: importing the engine, opening the library, scanning,
planning) left that disk idle. So when early_mirror.start finds a first mirror whose
source holds too few files for the pass's workers (forked_copies.FORK_MIN_FILES), it forks
children that stage the large ones (`MIN_BYTES` and up) as the executor's threads would
(transfer.stage_file: hashed as read, written back as it goes, fsynced), each child into a
temp folder of the target location named for this process, which clean_temp leaves alone
while this process lives.

Nothing but temps is written before the engine has checked everything: its run plans the
copies as ever, and the executor takes a staged temp (`take`) only for a copy of that very
source file as its own scan found it (size, mtime, inode, bits), then commits it as its
own. Whatever it does not take is removed (`close`), a child still copying killed first.

SQLAlchemy-free, as what it imports.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from . import forked_copies, transfer
from .constants import FILE
from .first_walk import Ends
from .forking import fork_child
from .listing import list_flat
from .paths import key_for, tmp_dir
from .plan import TARGET, Item
from .safety import free_space_problem

# A copy this big is fsynced by itself in the run too: staged here, it costs the run nothing.
MIN_BYTES = transfer.DURABLE_ALONE_BYTES


def large_files(src: str, limit: int) -> list[tuple[str, Item]] | None:
    """The plain files of `MIN_BYTES` and up below `src` (its path, the item its lstat
    gives); None when the tree holds more than `limit` items. Names unlike their key, links
    and what cannot be listed are left to the run."""
    found: list[tuple[str, Item]] = []
    todo, seen = [src], 0
    while todo:
        folder = todo.pop()
        listing, _ = list_flat(folder)  # (the built-in ignored names left out)
        seen += len(listing)
        if seen > limit:
            return None
        for name, st_mode, size, mtime_ns, ino in listing:
            if not (name.isascii() or key_for(name) == name):
                continue
            path = f"{folder}/{name}"
            if stat.S_ISDIR(st_mode):
                todo.append(path)
            elif stat.S_ISREG(st_mode) and size >= MIN_BYTES:
                found.append((path, Item(FILE, size, mtime_ns, None, None, st_mode & 0o7777, ino)))
    return found


@dataclass
class _Child:
    """A forked child staging its share, in order; its reports: (place, Staged's fields)."""

    pid: int
    fd: int
    folder: str
    frames: forked_copies.Frames
    results: dict[int, tuple[Any, ...] | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ended: bool = False

    def result(self, place: int, should_stop: Callable[[], bool]) -> transfer.Staged | None:
        """The copy it staged at `place` in its share, once it is there (None: it failed,
        the child ended without it, or the run was stopped while waiting)."""
        with self.lock:
            while place not in self.results and self.fd >= 0 and not self.frames.eof:
                if should_stop():
                    return None
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if ready:
                    for msg in self.frames.read():
                        at, fields = cast(tuple[int, "tuple[Any, ...] | None"], msg)
                        self.results[at] = fields
            got = self.results.pop(place, None)
        return None if got is None else transfer.Staged(*got)


@dataclass
class Started:
    """A first mirror's large files being staged: what they were started for, and for each
    source path its child, its place in that child's share and the item it copies."""

    conduit_id: int
    ends: Ends
    files: dict[str, tuple[_Child, int, Item]]
    children: list[_Child]
    taken: int = 0  # copies the run took
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(
        self, src: str, item: Item, should_stop: Callable[[], bool] = lambda: False
    ) -> transfer.Staged | None:
        """The staged copy of `src`, if it is the file `item` (as the run's scan found it),
        waiting for it while it is being made; None: the run copies it itself. Each copy is
        taken at most once; one not taken is the caller's no more than before."""
        with self._lock:
            found = self.files.pop(src, None)
        if found is None:
            return None
        child, place, staged_item = found
        staged = child.result(place, should_stop)
        if staged is None:
            return None
        same = (item.size, item.mtime_ns, item.mode) == (
            staged_item.size,
            staged_item.mtime_ns,
            staged_item.mode,
        )
        if (
            not same
            or (item.inode and item.inode != staged_item.inode)
            or (item.hash is not None and item.hash != staged.hash)
        ):
            transfer.discard(staged)
            return None
        with self._lock:
            self.taken += 1
        return staged

    def allocated(self) -> int:
        """Bytes the temps not taken yet hold on disk now (the run's free-space check
        counts them as free: they become its copies)."""
        total = 0
        for child in self.children:
            try:
                with os.scandir(child.folder) as it:
                    for e in it:
                        try:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                        except OSError:
                            pass
            except OSError:
                pass
        return total

    def close(self) -> None:
        """Kill the children still copying, and remove every temp not taken."""
        with self._lock:
            self.files.clear()
        for child in self.children:
            if not child.ended:
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(child.pid, 0)
                except ChildProcessError:
                    pass  # reaped already (by a wait for any child)
                child.ended = True
            with child.lock:
                if child.fd >= 0:
                    os.close(child.fd)
                    child.fd = -1
                child.results.clear()
            shutil.rmtree(child.folder, ignore_errors=True)


def start(conduit_id: int, ends: Ends, transfers: int, limit: int) -> Started | None:
    """Children staging the large files of a first mirror's source (`ends`: source
    endpoint, target endpoint, target root), when it holds no more than `limit` items and
    the target's file system has room for them; None otherwise."""
    src, dst, dst_root = ends
    files = large_files(src, limit)
    if not files:
        return None
    if free_space_problem(TARGET, sum(it.size for _, it in files), Path(dst)):
        return None  # the run says so
    n = min(len(files), forked_copies.workers_for(transfers))
    shares: list[list[tuple[str, Item]]] = [[] for _ in range(n)]
    load = [0] * n
    for path, it in sorted(files, key=lambda f: -f[1].size):
        i = load.index(min(load))
        shares[i].append((path, it))
        load[i] += it.size
    started = Started(conduit_id, ends, {}, [])
    staging = str(tmp_dir(dst_root))
    try:
        for share in shares:
            folder = os.path.join(staging, transfer.temp_name())
            names = [transfer.temp_name() for _ in share]  # this process's: see clean_temp
            child = _fork(share, folder, names, started.children)
            started.children.append(child)
            for place, (path, it) in enumerate(share):
                started.files[path] = (child, place, it)
    except BaseException:
        started.close()
        raise
    return started


def _fork(
    share: list[tuple[str, Item]], folder: str, names: list[str], others: list[_Child]
) -> _Child:
    read_fd, write_fd = os.pipe()
    parent = os.getpid()

    def child() -> None:
        forked_copies.die_with(parent)
        for fd in (read_fd, *(c.fd for c in others if c.fd >= 0)):
            os.close(fd)
        for place, ((path, it), name) in enumerate(zip(share, names, strict=True)):
            got: tuple[object, ...] | None = None
            try:
                s = transfer.stage_file(path, it, folder, durable=True, name=name)
                got = (s.tmp_path, s.size, s.hash, s.sibling, s.durable, s.inode, s.mode, s.dev)
            except (transfer.TransferError, OSError):
                pass  # the run copies it, and tells why if it fails again
            forked_copies.send_frame(write_fd, (place, got))

    pid = fork_child(child)
    os.close(write_fd)
    return _Child(pid, read_fd, folder, forked_copies.Frames(read_fd))
