"""A mirror's first run into an empty folder: copied while the source is walked.

Into an empty target a mirror has nothing to compare, keep or delete: every file of the
source is a copy. A first run used to index the whole source, load it and plan it before
the first copy (W1: ~1.5 s with a core idle, docs/benchmarks.md). Here the copy workers of
forked_copies.py walk the source themselves, each a share of its folders (`_shares`), and
copy the plain folders and files they find (a folder holding no folder arrives whole, as
forked_copies makes new folders); the engine records each copy once it is durable, with
the three index rows a copy costs anyway (the source's entry with the hash the copy
computed, the target's entry, the base).

Then the run goes on as every run does: it scans both sides, plans, and copies what is
left (symlinks, names that differ from their key, anything that failed or
changed here). That scan and plan are this pass's verify: a row recorded here that the
disk does not bear out is rewritten by the scan, and a file not where it should be is
planned again.

Nothing here can replace or delete anything: the target was empty when the pass began,
and new files and folders go into place with RENAME_NOREPLACE (something that appears
meanwhile is left alone, its copy failed and left to the run). Before any copy the
workers report what they will copy, and the pass is refused, having changed nothing,
when it would not fit on the target.
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from . import executor, forked_copies, transfer
from .constants import DIR, FILE
from .errors import Refused
from .events import Emit, ignore_events
from .forking import fork_child
from .listing import list_dir
from .paths import key_for, tmp_dir
from .plan import SOURCE, TARGET, Item, Snapshot
from .planner import MIRROR
from .rules import builtin_ignored
from .safety import free_space_problem
from .scan_split import weigh
from .snapshots import IndexWriter, Side, dbapi_of, prefix_range

if TYPE_CHECKING:
    from .conduits import ConduitInfo
    from .db import Library

# A folder a worker walked: its key, its source item, and the index of its NewFolder (made
# whole by its copies) or -1 (made before the copies: it holds folders).
Folder = tuple[str, tuple[object, ...], int]
# The source's folders weighed: estimated items below each, and its subfolders listed.
Weights = tuple[dict[str, float], dict[str, list[str]]]
# What a worker walked: the source keys and items of its jobs, in job order, the bytes,
# and its folders, parents first.
Walked = tuple[list[str], list[tuple[object, ...]], int, list[Folder]]


@dataclass
class Done:
    copied: int = 0
    bytes: int = 0
    stopped: bool = False
    # The base as the pass wrote it, and the sides' snapshots likewise (the IndexWriter's
    # memory): what loading would read, as long as nothing else changed the index since.
    kept: Snapshot = field(default_factory=dict)


def eligible(
    lib: Library, conduit: ConduitInfo, sides: dict[str, Side], dry_run: bool
) -> Weights | None:
    """The source weighed (`scan_split.weigh`, for `run`) when this run may begin with the
    pass, else None. It may when it is a mirror run (not a dry run) in a process that may
    fork, with no bandwidth limit and no ignore rules (the workers know only the built-in
    ones), a target endpoint holding nothing (built-in ignored names aside), neither
    endpoint indexed yet, no base, and enough files in the source to be worth forking for."""
    if dry_run or conduit.mode != MIRROR or not forked_copies.can_fork():
        return None
    if conduit.ignore or any(side.ignore for side in sides.values()):
        return None
    if conduit.bwlimit:  # a limit is kept by the run's copy threads, shared, not by processes
        return None
    with lib.engine.connect() as conn:  # first: this is what every later run stops at
        db = dbapi_of(conn)
        for side in sides.values():
            where, args = prefix_range(side)
            sql = f"SELECT 1 FROM entries WHERE location_id = ?{where} LIMIT 1"
            if db.execute(sql, (side.location_id, *args)).fetchone():
                return None
        sql = "SELECT 1 FROM base_entries WHERE conduit_id = ? LIMIT 1"
        if db.execute(sql, (conduit.id,)).fetchone():
            return None
    try:
        with os.scandir(sides[TARGET].endpoint) as it:
            if any(not builtin_ignored(de.name) for de in it):
                return None
    except OSError:
        return None
    weighed = weigh(sides[SOURCE].endpoint)
    return weighed if weighed[0].get("", 0.0) >= forked_copies.FORK_MIN_FILES else None


def run(
    lib: Library,
    conduit: ConduitInfo,
    sides: dict[str, Side],
    weighed: Weights,
    should_stop: Callable[[], bool],
    before_copies: Callable[[], None],
    stamp: str,
    emit: Emit = ignore_events,
) -> Done:
    """The pass. `before_copies` is called once the workers have walked the source and it
    fits on the target, before the first copy. Raises Refused (nothing copied) when it does
    not fit. `emit` gets the pass's Progress (files and bytes copied of those walked)."""
    src, dst = sides[SOURCE], sides[TARGET]
    shares, premade = _shares(weighed, forked_copies.workers_for(conduit.transfers))
    remover = transfer.Remover(dst.root, conduit.deletes, stamp)
    workers: list[_Worker] = []
    for share in shares:  # each without the others' pipes: their ends must reach them
        workers.append(_Worker.start(src, dst, share, remover, workers))
    done = Done()
    track = (conduit.source_location_id, conduit.target_location_id)
    writer = IndexWriter(lib, conduit.id, track, done.kept)
    try:
        total = sum(w.walked_bytes() for w in workers)
        progress = executor.ProgressCounter(
            conduit.id, sum(len(w.keys) for w in workers), total, emit
        )
        problem = free_space_problem(TARGET, total, dst.endpoint)
        if problem:
            raise Refused(problem)
        before_copies()
        if _premake(premade, src, dst, writer):
            for w in workers:
                w.go()
            _relay(workers, should_stop, src, dst, writer, done, progress)
        writer.flush()
        progress.maybe_emit(force=True)
    finally:
        for w in workers:
            w.close()
    return done


def _shares(weighed: Weights, n: int) -> tuple[list[list[str]], list[str]]:
    """The endpoint's folders dealt to `n` workers by weight (`weigh`), heaviest first to
    the lightest share, and the top folders made before them. A unit is a folder's key
    (that folder and all below it), or a key ending in "/" for a folder's own files alone
    ("" for the endpoint's). A top folder too heavy to deal evenly (more than a quarter of
    a share) is dealt as its own files and its subfolders, and is made first (`_premake`):
    a worker that has finished waits for no other's last big folder."""
    weight, kids = weighed
    total = weight.get("", 0.0)
    top = kids.get("", [])
    units = [(total - sum(weight[k] for k in top), "")]
    premade = []
    for rel in top:
        below = kids.get(rel, [])
        if below and weight[rel] > total / (4 * n):
            premade.append(rel)
            units.append((weight[rel] - sum(weight[k] for k in below), rel + "/"))
            units += [(weight[k], k) for k in below]
        else:
            units.append((weight[rel], rel))
    shares: list[list[str]] = [[] for _ in range(n)]
    load = [0.0] * n
    for w, key in sorted(units, key=lambda u: -u[0]):
        i = load.index(min(load))
        shares[i].append(key)
        load[i] += w
    return [s for s in shares if s], premade


def _premake(premade: list[str], src: Side, dst: Side, writer: IndexWriter) -> bool:
    """Make the top folders dealt out in parts (`_shares`), durable, and record them; False
    when one cannot be made (something appeared there): then nothing is copied here."""
    items = []
    try:
        for key in premade:
            st = os.lstat(f"{src.endpoint}/{key}")
            items.append(
                (key, Item(DIR, 0, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino))
            )
    except OSError:
        return False
    if not _make_folders([(f"{dst.endpoint}/{key}", it.mode) for key, it in items]):
        return False
    for key, it in items:
        _folder_landed(key, tuple(it), src, dst, writer)
    return True


def _relay(
    workers: list[_Worker],
    should_stop: Callable[[], bool],
    src: Side,
    dst: Side,
    writer: IndexWriter,
    done: Done,
    progress: executor.ProgressCounter,
) -> None:
    """Record what the workers report, until each has ended."""
    running = {w.fd: w for w in workers}
    while running:
        ready, _, _ = select.select(list(running), [], [], 0.25)
        if not done.stopped and should_stop():
            done.stopped = True
            for w in workers:
                w.stop()
        for fd in ready:
            w = running[fd]
            for msg in w.frames.read():
                if msg == "made":  # the folders that hold folders
                    for key, item, f in w.dirs:
                        if f < 0:
                            _folder_landed(key, item, src, dst, writer)
                elif msg != "done":
                    _land(w, cast(forked_copies.ChunkReport, msg), src, dst, writer, done, progress)
            if w.frames.eof:
                del running[fd]
                w.finish()


def _land(
    w: _Worker,
    report: forked_copies.ChunkReport,
    src: Side,
    dst: Side,
    writer: IndexWriter,
    done: Done,
    progress: executor.ProgressCounter,
) -> None:
    """A worker's report: each landed copy's source entry (with the copy's hash), target
    entry and base, and the progress. Failures are left to the run that follows (it plans
    them again)."""
    ok, nbytes, made = report[0], report[2], report[3]
    progress.add_bytes(nbytes)
    for f in made:
        key, item, _ = w.dirs[w.new_folders[f]]
        _folder_landed(key, item, src, dst, writer)
    keys, items = w.keys, w.items
    rows = []
    for i, inode, mode, digest in ok:
        kind, size, mtime_ns, _, link, src_mode, src_inode = items[i]
        it = Item(kind, size, mtime_ns, digest, link, src_mode, src_inode)  # type: ignore[arg-type]
        writer.set_entry(src, keys[i], it)
        rows.append((keys[i], it, it, Item(FILE, it.size, it.mtime_ns, digest, None, mode, inode)))
        done.bytes += it.size
    if rows:
        writer.copies_landed(dst, src, rows)
        done.copied += len(rows)
        progress.items_done(len(rows), rows[-1][0])


def _folder_landed(
    key: str, item: tuple[object, ...], src: Side, dst: Side, writer: IndexWriter
) -> None:
    """A folder made on the target: both sides' entries and the base, as a run's MKDIR."""
    try:
        st = os.lstat(f"{dst.endpoint}/{key}")
    except OSError:
        return  # gone again: the run's scan tells
    it = Item(*item)  # type: ignore[arg-type]
    writer.set_entry(src, key, it)
    made = Item(DIR, 0, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino)
    writer.set_entry(dst, key, made)
    writer.set_base(key, it)


class _Worker:
    """A forked worker: walks its share of the source, reports it, waits for the go, then
    copies it the forked_copies way (`work_chunks`)."""

    def __init__(self, pid: int, fd: int, go_fd: int, stop_fd: int) -> None:
        self.pid, self.fd, self.go_fd, self.stop_fd = pid, fd, go_fd, stop_fd
        self.frames = forked_copies.Frames(fd)
        self.keys: list[str] = []
        self.items: list[tuple[object, ...]] = []
        self.dirs: list[Folder] = []
        self.new_folders: dict[int, int] = {}  # NewFolder index -> its place in `dirs`
        self.nbytes = -1
        self.ended = False

    @classmethod
    def start(
        cls,
        src: Side,
        dst: Side,
        share: list[str],
        remover: transfer.Remover,
        others: list[_Worker],
    ) -> _Worker:
        out_r, out_w = os.pipe()
        go_r, go_w = os.pipe()
        stop_r, stop_w = os.pipe()
        parent = os.getpid()

        def worker() -> None:
            forked_copies.die_with(parent)
            for fd in (out_r, go_w, stop_w, *(f for w in others for f in w.fds())):
                os.close(fd)
            _walk_and_copy(src, dst, share, remover, out_w, go_r, stop_r)

        pid = fork_child(worker)
        for fd in (out_w, go_r, stop_r):
            os.close(fd)
        return cls(pid, out_r, go_w, stop_w)

    def fds(self) -> list[int]:
        return [fd for fd in (self.fd, self.go_fd, self.stop_fd) if fd >= 0]

    def walked_bytes(self) -> int:
        """Wait for its walk; the bytes it will copy."""
        while self.nbytes < 0:
            for msg in self.frames.read():
                self.keys, self.items, self.nbytes, self.dirs = cast(Walked, msg)
                self.new_folders = {f: i for i, (_, _, f) in enumerate(self.dirs) if f >= 0}
            if self.nbytes < 0 and self.frames.eof:
                self.nbytes = 0  # it died: nothing of its share is copied here
        return self.nbytes

    def go(self) -> None:
        if self.go_fd >= 0:
            try:
                os.write(self.go_fd, b"g")
            except OSError:
                pass  # it died: its share is left to the run
            os.close(self.go_fd)
            self.go_fd = -1

    def stop(self) -> None:
        if self.stop_fd >= 0:
            os.close(self.stop_fd)
            self.stop_fd = -1

    def finish(self) -> None:
        os.close(self.fd)
        self.fd = -1
        os.waitpid(self.pid, 0)
        self.ended = True

    def close(self) -> None:
        """After an error or a refusal: let it go (its go pipe closed unanswered)."""
        for name in ("go_fd", "stop_fd", "fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        if not self.ended:
            os.waitpid(self.pid, 0)
            self.ended = True


def _walk_and_copy(
    src: Side,
    dst: Side,
    share: list[str],
    remover: transfer.Remover,
    out_fd: int,
    go_fd: int,
    stop_fd: int,
) -> None:
    jobs, folders, dirs = _walk(src, dst, share, remover)
    items = [tuple(j.item) for _, j in jobs]
    nbytes = sum(j.item.size for _, j in jobs)
    forked_copies.send_frame(out_fd, ([k for k, _ in jobs], items, nbytes, dirs))
    if os.read(go_fd, 1) != b"g":
        return  # refused, or the engine is gone
    made = [(f"{dst.endpoint}/{key}", cast(int, item[5])) for key, item, f in dirs if f < 0]
    if not _make_folders(made):
        return  # the target changed under us: all of it is left to the run
    forked_copies.send_frame(out_fd, "made")
    job_list = [j for _, j in jobs]
    chunks = forked_copies.job_chunks(job_list, executor.CHUNK_FILES, executor.CHUNK_BYTES)
    work = forked_copies.Copies(job_list, chunks, 1, folders)
    forked_copies.work_chunks(work, list(work.chunks), out_fd, stop_fd)


def _walk(
    src: Side, dst: Side, share: list[str], remover: transfer.Remover
) -> tuple[list[tuple[str, forked_copies.Job]], list[forked_copies.NewFolder], list[Folder]]:
    """The share's plain files as jobs (with their keys), the folders that hold no folder
    (each made whole by its copies), and every folder, parents first (`Folder`). The
    share's units: see `_shares`. Anything else (links, special files, names unlike their
    key, what cannot be read) is left to the run that follows. Large files too go in
    chunks made durable by one syncfs (executor.CHUNK_BYTES at most)."""
    jobs: list[tuple[str, forked_copies.Job]] = []
    folders: list[forked_copies.NewFolder] = []
    dirs: list[Folder] = []
    tmp_root = str(tmp_dir(dst.root))
    src_end, dst_end = str(src.endpoint), str(dst.endpoint)
    todo = sorted(share, reverse=True)  # depth first, in name order
    while todo:
        unit = todo.pop()
        key = unit.rstrip("/")
        own = unit == key == "" or unit != key  # its own files alone: made by someone else
        path = f"{src_end}/{key}" if key else src_end
        listed = list_dir(path)
        if listed is None:
            continue
        files, subs = [], []
        for de, st in listed[0]:
            if isinstance(st, OSError) or builtin_ignored(de.name) or key_for(de.name) != de.name:
                continue
            child = f"{key}/{de.name}" if key else de.name
            if stat.S_ISDIR(st.st_mode):
                if not own:
                    subs.append(child)
            elif stat.S_ISREG(st.st_mode):
                files.append((child, st))
        folder = -1
        if not own:
            try:
                here = os.lstat(path)
            except OSError:
                continue
            mode = here.st_mode & 0o7777
            if not subs:
                folder = len(folders)
                folders.append(forked_copies.NewFolder(f"{dst_end}/{key}", mode))
            item = Item(DIR, 0, here.st_mtime_ns, None, None, mode, here.st_ino)
            dirs.append((key, tuple(item), folder))
        for child, st in files:
            item = Item(
                FILE, st.st_size, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino
            )
            job = forked_copies.Job(
                f"{src_end}/{child}", item, f"{dst_end}/{child}", tmp_root, remover, folder
            )
            jobs.append((child, job))
        todo.extend(sorted(subs, reverse=True))
    return jobs, folders, dirs


def _make_folders(made: list[tuple[str, int]]) -> bool:
    """Make these folders (parents first; the owner keeps rwx, as transfer.make_dir does)
    and their parents durable; False when one cannot be made (something appeared there)."""
    try:
        for path, mode in made:
            os.mkdir(path)
            if mode:
                os.chmod(path, stat.S_IMODE(mode) | stat.S_IRWXU)
        transfer.sync_dirs({os.path.dirname(p) for p, _ in made})
    except OSError:
        return False
    return True
