"""A mirror's first run into an empty folder: copied while the source is walked.

Into an empty target a mirror has nothing to compare, keep or delete: every file of the
source is a copy. A first run used to index the whole source, load it and plan it before
the first copy (W1: ~1.5 s with a core idle, docs/benchmarks.md). Here the copy workers of
forked_copies.py walk the source themselves, each a share of its folders (`_shares`), and
copy the plain folders and files they find (a folder holding no folder arrives whole, as
forked_copies makes new folders); the engine records each copy once it is durable, with
the three index rows a copy costs anyway (the source's entry with the hash the copy
computed, the target's entry, the base).

The walk is the source's scan (SPEC 3.1 step 2): what it indexed is what a scan would
have written, each folder it indexed whole with its listing's digest too (so later scans
walk it without reading its entries). The copies' verify (step 6, a rescan of what was
written) is made as the folders are placed: a worker lists each new folder it placed and
vouches for it when it holds exactly the copies recorded (`_Vouch`); the folders that hold
folders are listed at the end. Then the run goes on as every run does, its scan covering
only what the pass could not index or vouch for (symlinks, names that differ from their
key, anything unreadable, a copy that failed, a source changed here, anything else found
in the target); it plans and copies what is left. A row recorded here that the disk does
not bear out is rewritten by that scan, and a file not where it should be is planned
again. Changes made to the source after the walk are the next run's, as changes made
after any run's scan are.

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
from .indexer import record_walk
from .listing import digest as listing_digest
from .listing import digest_seed, list_dir
from .paths import key_for, tmp_dir
from .plan import SOURCE, TARGET, Item, Snapshot
from .planner import MIRROR
from .rules import IgnoreRules, builtin_ignored
from .safety import free_space_problem
from .scan_split import weigh
from .snapshots import IndexWriter, Side, dbapi_of, prefix_range, write_entries

if TYPE_CHECKING:
    from .conduits import ConduitInfo
    from .db import Library

# A folder a worker walked: its key, its source item, the index of its NewFolder (made
# whole by its copies) or -1 (made before the copies: it holds folders), the digest of its
# listing when the walk could index all of it (listing.digest; else None), its files' jobs
# [lo, hi), and its parent's place among the worker's folders (-1: walked by no one here).
Folder = tuple[str, tuple[object, ...], int, "str | None", int, int, int]
# A folder whose own files alone a worker walked (`_shares`): its key and its files' jobs.
Owned = tuple[str, int, int]
# The source's folders weighed: estimated items below each, and its subfolders listed.
Weights = tuple[dict[str, float], dict[str, list[str]]]
# What a worker walked: the source keys and items of its jobs, in job order, the bytes,
# its folders, parents first, the folders whose own files alone it walked, and the folders
# holding what it could not index (links, special files, names unlike their key, what
# could not be read or listed): the run's scan indexes those.
Walked = tuple[list[str], list[tuple[object, ...]], int, list[Folder], list[Owned], list[str]]
# A worker's word on new folders it placed: ("vouched", [(place in its `dirs`, the digest of
# the folder's listing on the target)]), see `_Vouch`.
_Vouched = tuple[str, list[tuple[int, str]]]


@dataclass
class Done:
    copied: int = 0
    bytes: int = 0
    stopped: bool = False
    # The source's folders (keys) whose index the pass could not complete, for the run's
    # scan; None: the whole source (a worker ended early).
    rescan: list[str] | None = None
    # The target's folders the pass could not vouch for (`_target_indexed`), likewise.
    rescan_target: list[str] | None = None
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
        progress.maybe_emit(force=True)
        if done.stopped:
            writer.flush()
        else:
            done.rescan_target = _target_indexed(lib, workers, premade, dst, writer)
            done.rescan = _source_indexed(lib, workers, src)
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
                    for i, (key, item, f, *_) in enumerate(w.dirs):
                        if f < 0:
                            w.made[i] = _folder_landed(key, item, src, dst, writer)
                elif msg == "done":
                    w.reported = True
                elif msg[0] == "vouched":  # type: ignore[index]
                    w.vouched.update(cast(_Vouched, msg)[1])
                else:
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
        i = w.new_folders[f]
        w.made[i] = _folder_landed(w.dirs[i][0], w.dirs[i][1], src, dst, writer)
    keys, items, landed = w.keys, w.items, w.landed
    rows = []
    for i, inode, mode, digest in ok:
        landed[i] = 1
        kind, size, mtime_ns, _, link, src_mode, src_inode = items[i]
        it = Item(kind, size, mtime_ns, digest, link, src_mode, src_inode)  # type: ignore[arg-type]
        rows.append((keys[i], it, it, Item(FILE, it.size, it.mtime_ns, digest, None, mode, inode)))
        done.bytes += it.size
    if rows:
        writer.copies_landed(dst, src, rows, sources=True)
        done.copied += len(rows)
        progress.items_done(len(rows), rows[-1][0])


def _folder_landed(
    key: str, item: tuple[object, ...], src: Side, dst: Side, writer: IndexWriter
) -> bool:
    """A folder made on the target: both sides' entries and the base, as a run's MKDIR.
    False when it is gone again (the run's scans tell)."""
    try:
        st = os.lstat(f"{dst.endpoint}/{key}")
    except OSError:
        return False
    it = Item(*item)  # type: ignore[arg-type]
    writer.set_entry(src, key, it)
    made = Item(DIR, 0, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino)
    writer.set_entry(dst, key, made)
    writer.set_base(key, it)
    return True


def _source_indexed(lib: Library, workers: list[_Worker], src: Side) -> list[str] | None:
    """The pass's walk as the source's scan (SPEC 3.1 step 2): the digest of each folder it
    indexed whole (its listing's, as a scan would store it: later scans walk it without
    reading its entries), the scope's old scan errors gone and its last scan now; and the
    folders it did not index whole, for the run's scan. None when a worker ended before
    it had reported all of its share: then the run scans all of the source."""
    if not all(w.reported for w in workers):
        return None
    endpoint = _endpoint_entry(src) if src.prefix else None  # a location's root has none
    if src.prefix and endpoint is None:
        return None
    rescan: set[str] = set()
    digests = []
    owned = []
    for w in workers:
        rescan.update(w.rescan)
        for key, lo, hi in w.owned:
            if w.landed.find(0, lo, hi) >= 0:
                rescan.add(key)
            else:
                owned.append(key)
        short = bytearray(len(w.dirs))  # folders missing one of their subfolders' entries
        for i, (key, _, _, _, _, _, parent) in enumerate(w.dirs):
            if not w.made[i]:
                if parent >= 0:
                    short[parent] = 1
                else:
                    rescan.add(key.rpartition("/")[0])
        for i, (key, _, _, digest, lo, hi, _) in enumerate(w.dirs):
            if not w.made[i]:
                continue  # its parent's scan finds it
            if digest is None or short[i] or w.landed.find(0, lo, hi) >= 0:
                rescan.add(key)
            else:
                digests.append((src.full_key(key), digest))
    digests += _vouch_listed(src, [key for key in owned if key not in rescan], rescan)
    with lib.engine.begin() as conn:
        if endpoint is not None:
            write_entries(conn, {(src.location_id, src.prefix): (endpoint, None)})
        record_walk(conn, src.location_id, src.prefix, digests)
    return sorted(rescan)


def _target_indexed(
    lib: Library, workers: list[_Worker], premade: list[str], dst: Side, writer: IndexWriter
) -> list[str] | None:
    """The copies' verify (SPEC 3.1 step 6) without a scan of the target: each new folder
    that holds only files was listed by its worker once placed (`_Vouch`); the folders
    that hold folders, made before the copies, are listed here at the end (their own
    entries first brought up to date: what was placed in them changed their mtime), and
    each vouched for when every item is as the pass recorded it. What is vouched for gets
    its digest, as a scan of it stores; the rest (a copy failed, anything that does not
    match) goes to the run's scan, as do all of the target (None) when a worker ended
    before it had reported all of its share. Flushes `writer` in every case."""
    endpoint = _endpoint_entry(dst) if dst.prefix else None
    if not all(w.reported for w in workers) or (dst.prefix and endpoint is None):
        writer.flush()
        return None
    rescan: set[str] = set()
    digests: list[tuple[str, str]] = []
    parents = list(premade)
    for w in workers:
        for i, (key, _, f, _, lo, hi, _) in enumerate(w.dirs):
            if not w.made[i]:
                continue  # not on the target, or not recorded: its parent's listing tells
            if f < 0:
                parents.append(key)
            elif i in w.vouched and w.landed.find(0, lo, hi) < 0:
                digests.append((dst.full_key(key), w.vouched[i]))
            else:
                rescan.add(key)
    for key in parents:
        item = _dir_item(f"{dst.endpoint}/{key}")
        if item is not None:  # else its parent's listing does not match: rescanned
            writer.set_entry(dst, key, item)
    writer.flush()
    digests += _vouch_listed(dst, ["", *parents], rescan)
    with lib.engine.begin() as conn:
        if endpoint is not None:
            write_entries(conn, {(dst.location_id, dst.prefix): (endpoint, None)})
        record_walk(conn, dst.location_id, dst.prefix, digests)
    return sorted(rescan)


def _endpoint_entry(side: Side) -> Item | None:
    """The entry of an endpoint inside its location, as a scan of its subtree writes it
    (indexer `start_subtree`); None when the pass cannot make it (an endpoint gone, or
    below names that are not plain ASCII, whose keys may differ from the disk's: the run's
    scan then covers the whole side)."""
    if not side.prefix.isascii() or "\\" in side.prefix:
        return None
    return _dir_item(str(side.endpoint))


def _dir_item(path: str) -> Item | None:
    """A folder's entry from its lstat; None when it is gone or not a folder."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    return Item(DIR, 0, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino)


def _vouch_listed(side: Side, keys: list[str], rescan: set[str]) -> list[tuple[str, str]]:
    """The digests of folders listed again here, at the end of the pass (a handful of
    folders): the source's folders whose own files alone a worker walked (the endpoint,
    the heavy top folders: their subfolders' entries came from other walks), the target's
    folders that hold folders. Each is vouched for when every item of its listing is as
    the pass recorded it (the side's snapshot); else it goes to the run's scan. (Without
    its digest an endpoint itself would look changed to the next no-op sync.)"""
    seed = digest_seed(IgnoreRules())
    snap, out = side.snapshot, []
    for key in keys:
        listed = list_dir(f"{side.endpoint}/{key}" if key else str(side.endpoint))
        whole = listed is not None and listed[1]
        listing = listed[0] if listed is not None else []
        for de, st in listing:
            it = snap.get(f"{key}/{de.name}" if key else de.name)
            if it is None or isinstance(st, OSError) or not _as_recorded(it, st):
                whole = False
                break
        if whole:
            out.append((side.full_key(key) if key else side.prefix, listing_digest(seed, listing)))
        else:
            rescan.add(key)
    return out


def _as_recorded(it: Item, st: os.stat_result) -> bool:
    if stat.S_ISREG(st.st_mode):
        same_kind = it.kind == FILE and it.hash is not None and it.size == st.st_size
    else:
        same_kind = it.kind == DIR and stat.S_ISDIR(st.st_mode)
    return (
        same_kind
        and it.mtime_ns == st.st_mtime_ns
        and it.inode == st.st_ino
        and it.mode == st.st_mode & 0o7777
    )


class _Worker:
    """A forked worker: walks its share of the source, reports it, waits for the go, then
    copies it the forked_copies way (`work_chunks`)."""

    def __init__(self, pid: int, fd: int, go_fd: int, stop_fd: int) -> None:
        self.pid, self.fd, self.go_fd, self.stop_fd = pid, fd, go_fd, stop_fd
        self.frames = forked_copies.Frames(fd)
        self.keys: list[str] = []
        self.items: list[tuple[object, ...]] = []
        self.dirs: list[Folder] = []
        self.owned: list[Owned] = []
        self.rescan: list[str] = []
        self.new_folders: dict[int, int] = {}  # NewFolder index -> its place in `dirs`
        self.landed = bytearray()  # 1: the job's copy is recorded
        self.made = bytearray()  # 1: the folder is made and recorded
        self.vouched: dict[int, str] = {}  # place in `dirs` -> its target listing's digest
        self.nbytes = -1
        self.ended = False
        self.reported = False  # it sent all it did ("done")

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
                walked = cast(Walked, msg)
                self.keys, self.items, self.nbytes, self.dirs, self.owned, self.rescan = walked
                self.new_folders = {f: i for i, (_, _, f, *_) in enumerate(self.dirs) if f >= 0}
                self.landed, self.made = bytearray(len(self.keys)), bytearray(len(self.dirs))
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
    jobs, folders, dirs, owned, rescan = _walk(src, dst, share, remover)
    items: list[tuple[object, ...]] = [tuple(j.item) for _, j in jobs]
    nbytes = sum(j.item.size for _, j in jobs)
    walked: Walked = ([k for k, _ in jobs], items, nbytes, dirs, owned, rescan)
    forked_copies.send_frame(out_fd, walked)
    if os.read(go_fd, 1) != b"g":
        return  # refused, or the engine is gone
    made = [(f"{dst.endpoint}/{key}", cast(int, item[5])) for key, item, f, *_ in dirs if f < 0]
    if not _make_folders(made):
        return  # the target changed under us: all of it is left to the run
    forked_copies.send_frame(out_fd, "made")
    job_list = [j for _, j in jobs]
    chunks = forked_copies.job_chunks(job_list, executor.CHUNK_FILES, executor.CHUNK_BYTES)
    work = forked_copies.Copies(job_list, chunks, 1, folders)
    vouch = _Vouch(dirs, walked[0], items, str(dst.endpoint))
    forked_copies.work_chunks(work, list(work.chunks), out_fd, stop_fd, vouch)


def _walk(
    src: Side, dst: Side, share: list[str], remover: transfer.Remover
) -> tuple[
    list[tuple[str, forked_copies.Job]],
    list[forked_copies.NewFolder],
    list[Folder],
    list[Owned],
    list[str],
]:
    """The share's plain files as jobs (with their keys), the folders that hold no folder
    (each made whole by its copies), every folder, parents first (`Folder`), the folders
    whose own files alone were walked, and the folders holding anything else (links,
    special files, names unlike their key, what cannot be read), which is left to the run
    that follows. The share's units: see `_shares`. Large files too go in chunks made
    durable by one syncfs (executor.CHUNK_BYTES at most).

    A folder's entry and its digest are made from its parent's listing, as a scan makes
    them, so that the digest vouches for exactly the entries recorded (a share's top folder
    has no parent listing here: its own lstat)."""
    jobs: list[tuple[str, forked_copies.Job]] = []
    folders: list[forked_copies.NewFolder] = []
    dirs: list[Folder] = []
    owned: list[Owned] = []
    rescan: list[str] = []
    tmp_root = str(tmp_dir(dst.root))
    src_end, dst_end = str(src.endpoint), str(dst.endpoint)
    seed = digest_seed(IgnoreRules())  # no rules: see `eligible`
    # Depth first, in name order: (unit, its parent's place in `dirs`, its listed lstat).
    todo: list[tuple[str, int, os.stat_result | None]] = [
        (unit, -1, None) for unit in sorted(share, reverse=True)
    ]
    while todo:
        unit, parent, listed_st = todo.pop()
        key = unit.rstrip("/")
        own = unit == key == "" or unit != key  # its own files alone: made by someone else
        path = f"{src_end}/{key}" if key else src_end
        listed = list_dir(path)
        if listed is None:
            continue
        listing, whole = listed[0], listed[1]
        files, subs = [], []
        for de, st in listing:  # (list_dir leaves out the built-in ignored names)
            if isinstance(st, OSError) or not (de.name.isascii() or key_for(de.name) == de.name):
                whole = False
                continue
            child = f"{key}/{de.name}" if key else de.name
            if stat.S_ISDIR(st.st_mode):
                if not own:
                    subs.append((child, st))
            elif stat.S_ISREG(st.st_mode):
                files.append((child, st))
            else:
                whole = False
        folder = -1
        lo = len(jobs)
        if not own:
            here = listed_st
            if here is None:
                try:
                    here = os.lstat(path)
                except OSError:
                    rescan.append(key)
                    continue
            mode = here.st_mode & 0o7777
            if not subs:
                folder = len(folders)
                folders.append(forked_copies.NewFolder(f"{dst_end}/{key}", mode))
            item = Item(DIR, 0, here.st_mtime_ns, None, None, mode, here.st_ino)
            digest = listing_digest(seed, listing) if whole else None
            hi = lo + len(files)
            dirs.append((key, tuple(item), folder, digest, lo, hi, parent))
        else:
            owned.append((key, lo, lo + len(files)))
        if not whole:
            rescan.append(key)
        for child, st in files:
            item = Item(
                FILE, st.st_size, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino
            )
            job = forked_copies.Job(
                f"{src_end}/{child}", item, f"{dst_end}/{child}", tmp_root, remover, folder
            )
            jobs.append((child, job))
        me = len(dirs) - 1
        todo.extend((child, me, st) for child, st in sorted(subs, reverse=True))
    return jobs, folders, dirs, owned, rescan


class _Vouch:
    """In a worker, after each report that tells of new folders placed (forked_copies
    `work_chunks`): each folder listed on the target and vouched for (`_Vouched`) when it
    holds exactly the folder's copies as this worker made and reported them. This listing
    is the copies' verify for that folder (SPEC 3.1 step 6), made once it is whole, while
    the other workers still copy, instead of in a scan of the whole target at the end."""

    def __init__(
        self, dirs: list[Folder], keys: list[str], items: list[tuple[object, ...]], dst: str
    ) -> None:
        self.dirs, self.keys, self.items, self.dst = dirs, keys, items, dst
        self.places = {f: i for i, (_, _, f, *_) in enumerate(dirs) if f >= 0}
        self.seed = digest_seed(IgnoreRules())  # no rules: see `eligible`

    def __call__(self, landed: list[forked_copies.Landed], made: list[int]) -> _Vouched | None:
        copies = {i: (inode, mode, digest) for i, inode, mode, digest in landed}
        out = []
        for f in made:
            i = self.places[f]
            digest = self._digest(self.dirs[i], copies)
            if digest is not None:
                out.append((i, digest))
        return ("vouched", out) if out else None

    def _digest(self, folder: Folder, copies: dict[int, tuple[int, int, str]]) -> str | None:
        key, lo, hi = folder[0], folder[4], folder[5]
        if any(j not in copies for j in range(lo, hi)):
            return None  # one failed (the run copies it again)
        listed = list_dir(f"{self.dst}/{key}")
        if listed is None or not listed[1] or len(listed[0]) != hi - lo:
            return None
        names = {self.keys[j].rpartition("/")[2]: j for j in range(lo, hi)}
        for de, st in listed[0]:
            j = names.get(de.name, -1)
            if j < 0 or isinstance(st, OSError):
                return None
            inode, mode, digest = copies[j]
            size, mtime_ns = cast(int, self.items[j][1]), cast(int, self.items[j][2])
            if not _as_recorded(Item(FILE, size, mtime_ns, digest, None, mode, inode), st):
                return None
        return listing_digest(self.seed, listed[0])


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
