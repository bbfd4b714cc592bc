"""A mirror's first run into an empty folder: copied while the source is walked.

Into an empty target a mirror has nothing to compare, keep or delete: every file of the
source is a copy. A first run used to index the whole source, load it and plan it before
the first copy (W1: ~1.5 s with a core idle, docs/benchmarks.md). Here the copy workers
(first_walk.py) walk the source themselves, each a share of its folders (`shares`), and
copy the plain folders and files they find (a folder holding no folder arrives whole, as
forked_copies makes new folders); the engine records each copy once it is durable, with
the three index rows a copy costs anyway (the source's entry with the hash the copy
computed, the target's entry, the base).

The walk is the source's scan (SPEC 3.1 step 2): what it indexed is what a scan would
have written, each folder it indexed whole with its listing's digest too (so later scans
walk it without reading its entries). The copies' verify (step 6, a rescan of what was
written) is made as the folders are placed: a worker lists each new folder it placed and
vouches for it when it holds exactly the copies recorded (first_walk `_Vouch`); the
folders that hold folders are listed at the end. Then the run goes on as every run does,
its scan covering only what the pass could not index or vouch for (symlinks, names that
differ from their key, anything unreadable, a copy that failed, a source changed here,
anything else found in the target); it plans and copies what is left. A row recorded
here that the disk does not bear out is rewritten by that scan, and a file not where it
should be is planned again. Changes made to the source after the walk are the next
run's, as changes made after any run's scan are.

Nothing here can replace or delete anything: the target was empty when the pass began,
and new files and folders go into place with RENAME_NOREPLACE (something that appears
meanwhile is left alone, its copy failed and left to the run). Before any copy the
workers report what they will copy, and the pass is refused, having changed nothing,
when it would not fit on the target.

The CLI may start the workers before it imports the engine (early_mirror.py): the run
takes them (`takes`) when they are what it would start.

The source may be indexed already (`location add` indexes a folder, and a conduit may be
added to it later). When no other conduit uses the source (early_mirror `forgettable`),
the pass drops that index once it knows the copies fit (`_forget`) and records the walk
as for a source never indexed; a source another conduit uses keeps its index (that
conduit plans from it), and its new conduits take the usual way. (The desktop app's
engine never takes the pass: it runs the watcher's threads, and `can_fork` wants none.)
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from . import executor, first_walk, forked_copies
from .constants import DIR, FILE
from .early_mirror import forgettable
from .errors import Refused
from .events import Emit, ignore_events
from .first_walk import Ends, Vouched, Weights, Worker, as_recorded, make_folders
from .indexer import record_walk
from .listing import digest_seed, flat_digest, list_flat
from .plan import SOURCE, TARGET, Item, Snapshot
from .planner import MIRROR
from .rules import IgnoreRules, builtin_ignored
from .safety import free_space_problem
from .snapshots import IndexWriter, Side, dbapi_of, prefix_range, write_entries
from .weighing import weigh

if TYPE_CHECKING:
    from .conduits import ConduitInfo
    from .db import Library


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
    lib: Library,
    conduit: ConduitInfo,
    sides: dict[str, Side],
    dry_run: bool,
    weighed: Weights | None = None,
) -> Weights | None:
    """The source weighed (`weighing.weigh`, for `run`; `weighed` when given) when this run
    may begin with the pass, else None. It may when it is a mirror run (not a dry run) in a
    process that may fork, with no bandwidth limit and no ignore rules (the workers know
    only the built-in ones), a target endpoint holding nothing (built-in ignored names
    aside) and not indexed, no base, the source not indexed or only for this conduit
    (early_mirror `forgettable`), and enough files in the source to be worth forking for."""
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
            indexed = db.execute(sql, (side.location_id, *args)).fetchone()
            if indexed and (
                side.name == TARGET or not forgettable(db, conduit.id, conduit.source_location_id)
            ):
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
    weighed = weighed or weigh(sides[SOURCE].endpoint)
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
    started: first_walk.Started | None = None,
) -> Done:
    """The pass. `before_copies` is called once the workers have walked the source and it
    fits on the target, before the first copy. Raises Refused (nothing copied) when it does
    not fit. `emit` gets the pass's Progress (files and bytes copied of those walked).
    `started`: its workers, started already for this run (`takes`)."""
    src, dst = sides[SOURCE], sides[TARGET]
    if started is None:
        started = first_walk.start(
            conduit.id, ends_of(sides), weighed, conduit.transfers, conduit.deletes, stamp
        )
    workers, premade = started.workers, started.premade
    done = Done()
    track = (conduit.source_location_id, conduit.target_location_id)
    writer = IndexWriter(lib, conduit.id, track, done.kept)
    writer.fresh = True  # both locations were empty: each row the pass records is new
    try:
        total = sum(w.walked_bytes() for w in workers)
        progress = executor.ProgressCounter(
            conduit.id, sum(len(w.keys) for w in workers), total, emit
        )
        problem = free_space_problem(TARGET, total, dst.endpoint)
        if problem:
            raise Refused(problem)
        _forget(lib, src)
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
        started.close()
    return done


def _forget(lib: Library, src: Side) -> None:
    """Drop what the index holds below the source endpoint (nothing, unless `forgettable`
    allowed it): the pass's walk is the source's scan, and records every row anew. The
    triggers keep the location's totals; the scan errors of the scope go when the walk is
    recorded (`_source_indexed`). W1 onto tmpfs, in-process: 3.5-4.0 s this way, the drop
    included, against 4.5-4.9 s planned from the index."""
    where, args = prefix_range(src)
    with lib.engine.begin() as conn:
        db = dbapi_of(conn)
        # The digests that vouch for the rows first (the endpoint's, or the root's), in a
        # statement or two: while the location holds any, each row deleted would clear its
        # parent's by trigger (W1's 100k rows: 0.61 s that way, 0.39-0.42 s this way).
        loc = src.location_id
        sql = "UPDATE entries SET digest = NULL WHERE location_id = ? AND kind = 'dir'"
        db.execute(f"{sql} AND digest IS NOT NULL{where}", (loc, *args))
        if src.prefix:
            db.execute(f"{sql} AND path = ?", (loc, src.prefix))
        else:
            db.execute("UPDATE locations SET root_digest = NULL WHERE id = ?", (loc,))
        db.execute(f"DELETE FROM entries WHERE location_id = ?{where}", (loc, *args))


def ends_of(sides: dict[str, Side]) -> Ends:
    src, dst = sides[SOURCE], sides[TARGET]
    return Ends(str(src.endpoint), str(dst.endpoint), str(dst.root))


def takes(started: first_walk.Started, conduit: ConduitInfo, sides: dict[str, Side]) -> bool:
    """Whether workers started before the engine (early_mirror.py) are this run's: started
    for this conduit, these endpoints and settings, as `run` would start them."""
    return (
        started.conduit_id == conduit.id
        and started.ends == ends_of(sides)
        and started.deletes == conduit.deletes
        and started.transfers == conduit.transfers
    )


def _premake(premade: list[str], src: Side, dst: Side, writer: IndexWriter) -> bool:
    """Make the top folders dealt out in parts (`shares`), durable, and record them; False
    when one cannot be made (something appeared there): then nothing is copied here."""
    items = []
    for key in premade:
        it = _dir_item(f"{src.endpoint}/{key}")
        if it is None:
            return False
        items.append((key, it))
    if not make_folders([(f"{dst.endpoint}/{key}", it.mode) for key, it in items]):
        return False
    for key, it in items:
        _folder_landed(key, tuple(it), src, dst, writer)
    return True


def _relay(
    workers: list[Worker],
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
                    w.vouched.update(cast(Vouched, msg)[1])
                else:
                    _land(w, cast(forked_copies.ChunkReport, msg), src, dst, writer, done, progress)
            if w.frames.eof:
                del running[fd]
                w.finish()


def _land(
    w: Worker,
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
    made = _dir_item(f"{dst.endpoint}/{key}")
    if made is None:
        return False
    it = Item(*item)  # type: ignore[arg-type]
    writer.set_entry(src, key, it)
    writer.set_entry(dst, key, made)
    writer.set_base(key, it)
    return True


def _source_indexed(lib: Library, workers: list[Worker], src: Side) -> list[str] | None:
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
    lib: Library, workers: list[Worker], premade: list[str], dst: Side, writer: IndexWriter
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
    writer.flush()
    writer.fresh = False  # the parents' entries below are recorded already
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
        listing, whole = list_flat(f"{side.endpoint}/{key}" if key else str(side.endpoint))
        for st in listing:
            it = snap.get(f"{key}/{st[0]}" if key else st[0])
            if it is None or not as_recorded(it, st):
                whole = False
                break
        if whole:
            out.append((side.full_key(key) if key else side.prefix, flat_digest(seed, listing)))
        else:
            rescan.add(key)
    return out
