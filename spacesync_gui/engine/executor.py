"""Carries out a plan, phase by phase, through the transfer functions.

Order (SPEC 3.1): mkdirs, moves, copies, touches, deletes, rmdirs. Moves run before
copies because a rename can free the path a copy needs (a renamed file with a new file
under its old name) and costs no data; all copies still complete before any delete.
Each item commits on its own: its base entry and index entry are written as it lands,
so a run killed half-way resumes where it stopped. One exception to the order: a new
folder that will hold only new files the forked workers copy is made by them, with its
files, in the copies' phase (`new_folders`, forked_copies.NewFolder).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from . import early_copies, forked_copies, transfer
from .events import Emit, ItemFinished, Progress, ignore_events
from .paths import tmp_dir
from .plan import COPY, DELETE, RMDIR, TARGET, Action, Item, Plan, other
from .snapshots import IndexWriter, Side

# Runs copying fewer files than this fsync each file in its copy thread instead of a syncfs
# (measured on ext4, 2 vCPU: ~0.2 ms more per file than syncfs, while one syncfs costs
# 0.3-0.8 s on a shared disk, since it also flushes other programs' dirty data).
FSYNC_ALONE_MAX_FILES = 1024


@dataclass
class ExecResult:
    copied: int = 0
    deleted: int = 0
    moved: int = 0
    touched: int = 0
    bytes: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    stopped: bool = False


class ProgressCounter:
    """Counts files and bytes done (copy threads add bytes) and emits throttled events."""

    def __init__(self, conduit_id: int, files_total: int, bytes_total: int, emit: Emit) -> None:
        self.conduit_id = conduit_id
        self.emit = emit
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self.current = ""
        self.start = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()  # guards bytes_done (added from copy threads)

    def add_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes_done += n
        self.maybe_emit()

    def item_done(self, path: str) -> None:
        self.items_done(1, path)

    def items_done(self, n: int, last: str) -> None:
        self.files_done += n
        self.current = last
        self.maybe_emit()

    def maybe_emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-6)
        speed = self.bytes_done / elapsed
        left = self.bytes_total - self.bytes_done
        eta = left / speed if speed > 0 and left > 0 else (0.0 if not left else None)
        self.emit(
            Progress(
                self.conduit_id,
                self.files_done,
                self.files_total,
                self.bytes_done,
                self.bytes_total,
                self.current,
                speed,
                eta,
            )
        )


class Executor:
    def __init__(
        self,
        conduit_id: int,
        sides: dict[str, Side],
        deletes: str,
        transfers: int,
        bwlimit: float | None,
        writer: IndexWriter,
        emit: Emit,
        stamp: str,
        should_stop: Callable[[], bool] | None = None,
        *,
        fork: bool = False,
        staged: early_copies.Started | None = None,
    ) -> None:
        self.conduit_id = conduit_id
        self.fork = fork  # may copy in forked worker processes (forked_copies.py)
        self.staged = staged  # copies into the target staged before the run (early_copies.py)
        self.sides = sides
        self.transfers = max(1, transfers)
        self.limiter = transfer.BandwidthLimiter(bwlimit) if bwlimit else None
        self.writer = writer
        self.emit = emit
        self.should_stop = should_stop or (lambda: False)
        self.removers = {
            name: transfer.Remover(side.root, deletes, stamp) for name, side in sides.items()
        }
        self.result = ExecResult()
        self._tmp_dirs: dict[tuple[int, str], str] = {}
        self._fsync_alone = False
        # Folders where a move or delete renamed something since the writer last flushed:
        # made durable before the base records those actions (else a power loss could
        # undo a rename the base already calls done, and a deleted file would come back).
        self._renamed: set[str] = set()
        writer.before_flush = self._sync_renames

    def _sync_renames(self) -> None:
        dirs, self._renamed = self._renamed, set()
        if dirs:
            try:
                transfer.sync_dirs(dirs)
            except OSError:
                self._renamed |= dirs  # still owed: no later flush may skip them
                raise

    # -- helpers -------------------------------------------------------------------
    def _dst(self, a: Action) -> tuple[Side, Side, str]:
        side, src_side = self.sides[a.side], self.sides[other(a.side)]
        return side, src_side, side.abs_path(a.path, src_side)

    def _fail(self, a: Action, e: BaseException | str) -> None:
        msg = e if isinstance(e, str) else transfer.error_message(e)
        self.result.errors.append({"path": a.path, "message": msg, "action": a.op})
        self.emit(ItemFinished(self.conduit_id, a.op, a.path, False, msg))

    def _landed(self, a: Action, side: Side, disk_path: str | None) -> None:
        """The action committed: base, index entry (its metadata read from `disk_path`),
        events. Copies of files land in batches, with what the copy saw: `_copies_landed`."""
        self.writer.set_base(a.path, a.base)
        if a.op in (DELETE, RMDIR):
            self.writer.set_entry(side, a.path, None)
        else:
            raw = side.raw(a.path, self.sides[other(a.side)])
            self.writer.set_entry(side, a.path, a.item, disk_path, raw=raw)
        self.emit(ItemFinished(self.conduit_id, a.op, a.path, True))
        self.progress.item_done(a.path)

    def _copies_landed(self, done: list[tuple[Action, Item]]) -> None:
        """`_landed` for a batch of committed, durable file copies, each with the item
        as it now is on disk (no stat) and the hash the copy computed."""
        if not done:
            return
        by_side: dict[str, list[tuple[str, Item, Item | None, Item]]] = {}
        for a, exact in done:
            assert a.item is not None
            by_side.setdefault(a.side, []).append((a.path, a.item, a.base, exact))
        for name, rows in by_side.items():
            self.writer.copies_landed(self.sides[name], self.sides[other(name)], rows)
        cid, emit = self.conduit_id, self.emit
        if emit is not ignore_events:  # the CLI's: 100k events for nobody cost ~0.05 s
            for a, _ in done:
                emit(ItemFinished(cid, a.op, a.path, True))
        self.progress.items_done(len(done), done[-1][0].path)

    # -- phases --------------------------------------------------------------------
    def run(self, plan: Plan) -> ExecResult:
        nbytes = sum(
            a.item.size
            for a in plan.actions
            if a.op == COPY and a.item is not None and a.item.kind == "file"
        )
        self.progress = ProgressCounter(self.conduit_id, len(plan.actions), nbytes, self.emit)
        mkdirs, moves, copies, touches, deletes, rmdirs = plan.by_phase()
        simple = _simple(copies)
        self._forked = self._forkable(simple)
        # The forked workers make these folders themselves, whole, with their files.
        others = [*moves, *touches, *deletes, *rmdirs, *_without(copies, self._forked)]
        self._new_folders = new_folders(mkdirs, others, self._forked)
        mkdirs = [a for a in mkdirs if (a.side, a.path) not in self._new_folders]
        steps: list[tuple[list[Action], Callable[[Action], None]]] = [
            (sorted(mkdirs, key=lambda a: a.path.count("/")), self._mkdir),
            (moves, self._move),
        ]
        for actions, fn in steps:
            for a in actions:
                if self.should_stop():
                    self.result.stopped = True
                    return self._finish()
                self._guard(a, fn)
        self._copies(copies, simple)
        if self.result.stopped:
            return self._finish()
        for actions, fn in (
            (touches, self._touch),
            (sorted(deletes, key=lambda a: -a.path.count("/")), self._delete),
            (sorted(rmdirs, key=lambda a: -a.path.count("/")), self._rmdir),
        ):
            for a in actions:
                if self.should_stop():
                    self.result.stopped = True
                    return self._finish()
                self._guard(a, fn)
        return self._finish()

    def _finish(self) -> ExecResult:
        self.writer.flush()
        self.progress.maybe_emit(force=True)
        return self.result

    def _guard(self, a: Action, fn: Callable[[Action], None]) -> None:
        try:
            fn(a)
        except (transfer.TransferError, OSError) as e:
            self._fail(a, e)

    def _mkdir(self, a: Action) -> None:
        side, _, dst = self._dst(a)
        assert a.item is not None
        transfer.make_dir(dst, a.item.mode, a.expect, self.removers[a.side])
        self._landed(a, side, dst)

    def _move(self, a: Action) -> None:
        side, src_side, dst = self._dst(a)
        assert a.from_path is not None and a.expect is not None
        src = side.abs_path(a.from_path)
        transfer.move_item(src, dst, a.expect)
        self._renamed.update((os.path.dirname(src), os.path.dirname(dst)))
        self.writer.set_entry(side, a.from_path, None)
        self.writer.set_base(a.from_path, None)
        self.result.moved += 1
        self._landed(a, side, dst)

    def _touch(self, a: Action) -> None:
        side, _, dst = self._dst(a)
        assert a.item is not None and a.expect is not None
        transfer.set_mtime(dst, a.item, a.expect)
        self.result.touched += 1
        self._landed(a, side, dst)

    def _delete(self, a: Action) -> None:
        side, _, dst = self._dst(a)
        assert a.expect is not None
        kept = self.removers[a.side].delete(dst, a.expect)
        self._renamed.add(os.path.dirname(dst))
        if kept:
            self._renamed.add(os.path.dirname(kept))
        self.result.deleted += 1
        self._landed(a, side, None)

    def _rmdir(self, a: Action) -> None:
        side, _, dst = self._dst(a)
        self.removers[a.side].rmdir(dst)
        self._renamed.add(os.path.dirname(dst))
        self.result.deleted += 1
        self._landed(a, side, None)

    # -- copies --------------------------------------------------------------------
    def _copy_other(self, a: Action) -> None:
        """Symlinks, and files that replace something of another kind."""
        side, src_side, dst = self._dst(a)
        assert a.item is not None
        if a.item.kind == "symlink":
            assert a.item.link is not None
            transfer.copy_symlink(
                a.item.link, dst, a.expect, self.removers[a.side], mtime_ns=a.item.mtime_ns
            )
        else:
            src = src_side.abs_path(a.path)
            transfer.copy_file(
                src,
                a.item,
                dst,
                a.expect,
                self.removers[a.side],
                tmp_dir=tmp_dir(side.root),
                limiter=self.limiter,
                progress=self.progress.add_bytes,
            )
            self.result.bytes += a.item.size
        self.result.copied += 1
        self._landed(a, side, dst)

    def _copies(self, copies: list[Action], simple: list[Action]) -> None:
        """`copies`, of which `simple` (`_simple`) go through staging, the rest one by one."""
        for a in _without(copies, simple):
            if self.should_stop():
                self.result.stopped = True
                return
            self._guard(a, self._copy_other)
        forked = self._forked
        if forked:
            simple = _without(simple, forked)
            if self._copy_forked(forked):
                self.result.stopped = True
                return
        # A few hundred files: each copy thread fsyncs what it wrote (they overlap), which
        # costs less than a syncfs that must also flush every other program's dirty data.
        self._fsync_alone = len(simple) < FSYNC_ALONE_MAX_FILES
        # Pipelined: the copy threads stage chunk N+1 while this thread makes chunk N
        # durable; then the threads rename chunk N into place. The renames of chunk N are
        # made durable by chunk N+1's syncfs (the last chunk's by fsyncing its folders),
        # and only then does the base say "synced" for them.
        self._unlanded: list[tuple[Action, str, Item, int]] = []  # action, dst, copy, dev
        with ThreadPoolExecutor(self.transfers, thread_name_prefix="spacesync-copy") as pool:
            pending: list[tuple[list[Action], Future[list[_Outcome]]]] | None = None
            for chunk in _chunks(simple):
                if self.should_stop():
                    break
                staging = [(part, pool.submit(self._stage_many, part)) for part in _parts(chunk)]
                if pending is not None:
                    self._commit_chunk(pending, pool)
                pending = staging
            if pending is not None:
                if self.should_stop():
                    self._abandon(pending)
                else:
                    self._commit_chunk(pending, pool)
            self._land_unlanded(set())
        for folder in self._tmp_dirs.values():
            transfer.drop_dir(folder)
        if self.should_stop():
            self.result.stopped = True

    def _forkable(self, simple: list[Action]) -> list[Action]:
        """The new small files to copy in forked workers (none if they may not be used)."""
        if not self.fork or self.limiter is not None:
            return []  # a bandwidth limit is shared by the copy threads, not across processes
        small = [
            a
            for a in simple
            if a.expect is None
            and a.item is not None
            and a.item.size < transfer.DURABLE_ALONE_BYTES
        ]
        return small if forked_copies.usable(len(small)) else []

    def _copy_forked(self, actions: list[Action]) -> bool:
        """Copy `actions` (new files) in forked workers, and make the new folders that hold
        only such files (`self._new_folders`) with them; True if stopped part-way."""
        staging = {name: str(tmp_dir(side.root)) for name, side in self.sides.items()}
        actions, where = _grouped(actions, self._new_folders)
        paths = self._ends(actions)
        # A file goes into its new folder by its own name: were the disk names of the two
        # ever to disagree, the folder is made here first, as the MKDIR phase would have.
        made_at = {id(m): self._dst(m)[2] for m in self._new_folders.values()}
        odd = (
            {
                id(m)
                for m, (_, dst) in zip(where, paths, strict=True)
                if m is not None and dst.rpartition("/")[0] != made_at[id(m)]
            }
            if any(side.disk for side in self.sides.values())  # else every name is its key
            else set()
        )
        for m in self._new_folders.values():
            if id(m) in odd:
                self._guard(m, self._mkdir)
        where = [None if m is not None and id(m) in odd else m for m in where]
        folders: list[forked_copies.NewFolder] = []
        mkdirs: list[Action] = []
        index: dict[int, int] = {}  # id of a folder's MKDIR -> its index in `folders`
        jobs = []
        for a, mkdir, (src, dst) in zip(actions, where, paths, strict=True):
            assert a.item is not None
            f = -1
            if mkdir is not None:
                f = index.get(id(mkdir), -1)
                if f < 0:
                    assert mkdir.item is not None
                    f = index[id(mkdir)] = len(folders)
                    folders.append(forked_copies.NewFolder(made_at[id(mkdir)], mkdir.item.mode))
                    mkdirs.append(mkdir)
            jobs.append(
                forked_copies.Job(
                    src,
                    a.item,
                    dst,
                    staging[a.side],
                    self.removers[a.side],
                    folder=f,
                )
            )
        chunks = forked_copies.job_chunks(
            jobs, forked_copies.CHUNK_FILES, forked_copies.CHUNK_BYTES
        )

        def made(fs: list[int]) -> None:
            for f in fs:
                side, _, dst = self._dst(mkdirs[f])
                self._landed(mkdirs[f], side, dst)

        def landed(batch: list[forked_copies.Landed]) -> None:
            done = []
            for i, inode, mode, digest in batch:
                a = actions[i]
                it = a.item
                assert it is not None
                self.result.bytes += it.size
                # Item(...), not it._replace(...): a third of the cost, 100k times.
                done.append((a, Item(it.kind, it.size, it.mtime_ns, digest, it.link, mode, inode)))
            self.result.copied += len(done)
            self._copies_landed(done)

        on = forked_copies.Reports(
            landed=landed,
            failed=lambda i, message: self._fail(actions[i], message),
            copied_bytes=self.progress.add_bytes,
            folders_made=made,
            folder_failed=lambda f, message: self._fail(mkdirs[f], message),
        )
        workers = forked_copies.workers_for(self.transfers)
        work = forked_copies.Copies(jobs, chunks, workers, folders)
        return forked_copies.run(work, self.should_stop, on)

    def _ends(self, actions: list[Action]) -> list[tuple[str, str]]:
        """(source path, destination path) of each copy: what `_dst` tells, for 100k
        actions at once (before any worker can start)."""
        out = [("", "")] * len(actions)
        for name, side in self.sides.items():
            src = self.sides[other(name)]
            mine = [i for i, a in enumerate(actions) if a.side == name]
            keys = [actions[i].path for i in mine]
            ends = zip(src.abs_paths(keys), side.abs_paths(keys, src), strict=True)
            if len(mine) == len(actions):  # a mirror's: all on one side
                return list(ends)
            for i, pair in zip(mine, ends, strict=True):
                out[i] = pair
        return out

    def _abandon(self, futures: list[tuple[list[Action], Future[list[_Outcome]]]]) -> None:
        for _, fut in futures:
            for _, s in fut.result():
                if isinstance(s, transfer.Staged):
                    transfer.discard(s)

    def _stage_many(self, actions: list[Action]) -> list[_Outcome]:
        out: list[_Outcome] = []
        for a in actions:
            try:
                out.append((a, self._stage(a)))
            except (transfer.TransferError, OSError) as e:
                out.append((a, e))
        return out

    def _stage(self, a: Action) -> transfer.Staged:
        side, src_side, _ = self._dst(a)
        assert a.item is not None
        src = src_side.abs_path(a.path)
        if self.staged is not None and side.name == TARGET:
            staged = self.staged.take(src, a.item, self.should_stop)
            if staged is not None:
                self.progress.add_bytes(a.item.size)
                return staged
        return transfer.stage_file(
            src,
            a.item,
            self._thread_tmp(side),
            limiter=self.limiter,
            progress=self.progress.add_bytes,
            # A big file is written back while it streams and fsynced by its own thread:
            # waiting for its bytes in the chunk's syncfs would serialise them behind it.
            durable=self._fsync_alone or a.item.size >= transfer.DURABLE_ALONE_BYTES,
        )

    def _thread_tmp(self, side: Side) -> str:
        """A staging folder of this copy thread inside `.spacesync/tmp/`: threads creating
        and renaming files in one shared folder queue on its lock. The folder's name is a
        temp name, so `clean_temp` removes it (and what it holds) once this process is gone."""
        key = (threading.get_ident(), side.name)
        folder = self._tmp_dirs.get(key)
        if folder is None:
            folder = self._tmp_dirs[key] = os.path.join(tmp_dir(side.root), transfer.temp_name())
        return folder

    def _commit_one(self, a: Action, s: transfer.Staged) -> BaseException | None:
        side, src_side, dst = self._dst(a)
        assert a.item is not None
        try:
            transfer.commit_file(
                s, src_side.abs_path(a.path), a.item, dst, a.expect, self.removers[a.side]
            )
        except (transfer.TransferError, OSError) as e:
            transfer.discard(s)
            return e
        return None

    def _commit_many(
        self, batch: list[tuple[Action, transfer.Staged]]
    ) -> list[BaseException | None]:
        return [self._commit_one(a, s) for a, s in batch]

    def _commit_chunk(
        self, futures: list[tuple[list[Action], Future[list[_Outcome]]]], pool: ThreadPoolExecutor
    ) -> None:
        staged: list[tuple[Action, transfer.Staged]] = []
        for _, fut in futures:
            for a, s in fut.result():
                if isinstance(s, transfer.Staged):
                    staged.append((a, s))
                else:
                    self._fail(a, s)
        try:
            synced = transfer.make_durable([s for _, s in staged])
        except OSError as e:
            for a, s in staged:
                transfer.discard(s)
                self._fail(a, e)
            return
        # That flush also made the previous chunk's renames durable (same file system).
        self._land_unlanded(synced)
        # New files are renamed in by the copy threads (the kernel work runs in parallel);
        # replacing an existing file goes through the Remover, here, one at a time.
        fresh = [(a, s) for a, s in staged if a.expect is None]
        others = [(a, s) for a, s in staged if a.expect is not None]
        jobs = [(part, pool.submit(self._commit_many, part)) for part in _parts(fresh)]
        results: list[tuple[Action, transfer.Staged, BaseException | None]] = [
            (a, s, self._commit_one(a, s)) for a, s in others
        ]
        for batch, done in jobs:
            results.extend((a, s, e) for (a, s), e in zip(batch, done.result(), strict=True))
        for a, s, err in results:
            if err is not None:
                self._fail(a, err)
                continue
            _, _, dst = self._dst(a)
            assert a.item is not None
            exact = a.item._replace(inode=s.inode, mode=s.mode, hash=s.hash)
            self._unlanded.append((a, dst, exact, s.dev))
            self.result.copied += 1
            self.result.bytes += a.item.size

    def _land_unlanded(self, synced: set[int]) -> None:
        """Record committed copies once their renames are durable: covered by a syncfs of
        their file system (`synced`), or else by fsyncing their folders now. The base may
        say "synced" only then, or a lost rename would later look like an edit."""
        todo, self._unlanded = self._unlanded, []
        if not todo:
            return
        loose = {os.path.dirname(dst) for _, dst, _, dev in todo if not dev or dev not in synced}
        try:
            transfer.sync_dirs(loose)
        except OSError as e:
            for a, _, _, _ in todo:
                self._fail(a, e)
            return
        self._copies_landed([(a, exact) for a, _, exact, _ in todo])


_Outcome = tuple[Action, "transfer.Staged | BaseException"]
# Files per task handed to a copy thread: fewer futures and wake-ups than one per file.
PART_FILES = 16


def _parts(items: list, n: int = PART_FILES) -> list[list]:  # type: ignore[type-arg]
    return [items[i : i + n] for i in range(0, len(items), n)]


def _simple(copies: list[Action]) -> list[Action]:
    """The copies of files over nothing or over a file (the others: `_copy_other`)."""
    return [
        a
        for a in copies
        if a.item is not None
        and a.item.kind == "file"
        and (a.expect is None or a.expect.kind == "file")
    ]


def _without(actions: list[Action], some: list[Action]) -> list[Action]:
    """`actions` but `some` of them (a function: the ids' set, ~7 MB for 100k, goes with it).
    `some` is always picked from `actions`: as many is all of them (an initial sync's)."""
    if len(some) == len(actions):
        return []
    ids = {id(a) for a in some}
    return [a for a in actions if id(a) not in ids]


def _above(path: str) -> Iterable[str]:
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def new_folders(
    mkdirs: list[Action], others: Iterable[Action], forked: list[Action]
) -> dict[tuple[str, str], Action]:
    """The folders to make where nothing is whose content is only new files the forked
    workers copy (`forked`; `others`: every other action but `mkdirs`), a chunk at most:
    (side, key) -> their MKDIR. Each is staged whole and renamed into place
    (forked_copies.NewFolder): the W1 mirror's per-file renames cost ~15 us a file more (a
    bare loop of its system calls, 30,000 files, 2026-11-27)."""
    fresh = {(a.side, a.path): a for a in mkdirs if a.expect is None and a.item is not None}
    if not fresh or not forked:
        return {}
    files: dict[tuple[str, str], int] = {}
    size: dict[tuple[str, str], int] = {}
    for a in forked:
        # A forked copy's folder is new or was there: in neither case can a folder above
        # it be new and hold only files (a new folder's MKDIR rules out those above it).
        key = (a.side, a.path.rpartition("/")[0])
        if key in fresh:
            assert a.item is not None
            files[key] = files.get(key, 0) + 1
            size[key] = size.get(key, 0) + a.item.size
    out = {(a.side, up) for a in (*mkdirs, *others) for up in _above(a.path)}
    return {
        key: fresh[key]
        for key, n in files.items()
        if key not in out
        and n <= forked_copies.CHUNK_FILES
        and size[key] <= forked_copies.CHUNK_BYTES
    }


def _grouped(
    actions: list[Action], folders: dict[tuple[str, str], Action]
) -> tuple[list[Action], list[Action | None]]:
    """`actions` with each new folder's files together (where its first one was), and the
    MKDIR of the new folder each is in (None: not in one)."""
    if not folders:
        return actions, [None] * len(actions)
    groups: dict[tuple[str, str], list[Action]] = {}
    order: list[tuple[str, str] | Action] = []
    for a in actions:
        key = (a.side, a.path.rpartition("/")[0])
        if key in folders:
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(a)
        else:
            order.append(a)
    out: list[Action] = []
    where: list[Action | None] = []
    for entry in order:
        if isinstance(entry, tuple):
            out.extend(groups[entry])
            where.extend([folders[entry]] * len(groups[entry]))
        else:
            out.append(entry)
            where.append(None)
    return out, where


def _chunks(actions: list[Action]) -> Iterable[list[Action]]:
    chunk: list[Action] = []
    size = 0
    for a in actions:
        chunk.append(a)
        size += a.item.size if a.item is not None else 0
        if len(chunk) >= forked_copies.CHUNK_FILES or size >= forked_copies.CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
