"""Share a whole-endpoint scan between this process and a forked child.

A sync scans its two endpoints at once, one in a forked child (forked_scans.py). When one
of them is nearly empty (the target of an initial sync) or only one is scanned (the verify
of a big run), that leaves a core idle while the other scans 100,000 files. So a whole
endpoint's scan is split: the child scans some of its folders as subtrees, and this
process scans the rest of the endpoint, stepping over those folders (their entries are
visited, what is below them is not: `scan_location(skip=...)`). Each scan writes its own
part of the index; no two write the same rows but the folders' own entries, which both
stat alike. The child's folders are chosen by weight (`weigh`: the endpoint's first levels
listed), so that each process scans about half, however the tree is shaped.

The app's engine process and the daemon cannot fork (threads): their CopyHelper forks the
child (forked_scans.py), and they share their whole-location scans too (`scan_whole`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

from . import forked_scans
from .db import Library
from .events import Emit, Event, ScanProgress, ignore_events
from .locations import get_location, scan
from .results import ScanResult
from .snapshots import Side
from .weighing import weigh

# Each of the child's folders is a scan of its own (a connection, a transaction): a few ms.
MAX_CHILD_FOLDERS = 32
# The child's share may miss half the weight by this much (a share of the whole): closer
# would take more, smaller folders, each a scan of its own.
SLACK = 0.02


def child_folders(side: Side) -> frozenset[str]:
    """Keys of the endpoint's folders for the child: about half its weight (`weigh`),
    whole folders where they fit, else the subfolders of one too heavy for what is left.

    Empty when the endpoint cannot be listed or holds no plain folder with anything in it
    (nothing worth sharing)."""
    weight, kids = weigh(side.endpoint)
    total = weight[""]
    room, slack = total / 2, total * SLACK
    units = sorted(kids[""], key=weight.__getitem__, reverse=True)
    mine: list[str] = []
    while units and room > slack and len(mine) < MAX_CHILD_FOLDERS:
        rel = units.pop(0)
        if 0 < weight[rel] <= room + slack:
            mine.append(rel)
            room -= weight[rel]
        elif kids.get(rel):
            units = sorted(units + kids[rel], key=weight.__getitem__, reverse=True)
    return frozenset(side.full_key(rel) for rel in mine)


# One scan: a side, the subtree (None: the whole location), folders it leaves to another.
Scan = tuple[Side, str | None, frozenset[str]]


def share_out(jobs: list[tuple[Side, list[str | None]]], share: bool) -> list[list[Scan]]:
    """The scans of each process: one side each, or (`share`, every side scanned whole)
    each side's top-level folders split between them."""
    plain: list[list[Scan]] = [[(side, sub, frozenset()) for sub in subs] for side, subs in jobs]
    if not share or any(subs != [side.prefix or None] for side, subs in jobs):
        return plain
    here: list[Scan] = []
    child: list[Scan] = []
    for side, (whole,) in jobs:
        folders = child_folders(side)
        here.append((side, whole, folders))
        child.extend((side, key, frozenset()) for key in sorted(folders))
    return [here, child] if child else plain


def run_scans(
    lib: Library,
    jobs: list[tuple[Side, list[str | None]]],
    emit: Emit = ignore_events,
    defer: bool = False,
    fork: bool = False,
) -> tuple[list[list[Scan]], list[list[ScanResult]]]:
    """Scan `jobs` (side -> subtrees), with `fork` in two processes where one may be had:
    the scans of each process, and their results in the same order.

    The second process emits nothing: a location it scans has this process's progress
    events marked `shared` (their counts are a part), and one end event, once both are
    done, with both parts' totals (a front end reloads the location then)."""
    work = share_out(jobs, fork and forked_scans.can_share())
    theirs = {side.location_id for side, _, _ in work[1]} if len(work) == 2 else set()

    def here(ev: Event) -> None:
        if isinstance(ev, ScanProgress) and ev.location_id in theirs:
            if ev.done:
                return
            ev = dataclasses.replace(ev, shared=True)
        emit(ev)

    results = forked_scans.run_jobs(
        lib, work, lambda j, in_child: scanner(j, ignore_events if in_child else here, defer), fork
    )
    for loc in sorted(theirs):
        total = ScanResult()
        for job, done in zip(work, results, strict=True):
            for (side, _, _), r in zip(job, done, strict=True):
                if side.location_id == loc:
                    total.add(r)
        emit(_end(loc, total))
    return work, results


def _end(location_id: int, r: ScanResult) -> ScanProgress:
    return ScanProgress(
        location_id, r.files_seen, r.bytes_seen, r.files_hashed, r.bytes_hashed, done=True
    )


def scan_whole(
    lib: Library, location_id: int, emit: Emit = ignore_events, defer: bool = False
) -> ScanResult:
    """A whole location's scan shared with a second process where one may be had (the
    runtime's start-up and full rescans). Its counts tell whether anything changed; a
    folder both processes visit may count twice. Its events: see `run_scans`. `defer`:
    new and changed files are indexed without reading them (deferred.py)."""
    side = Side("location", location_id, Path(get_location(lib, location_id).path), "")
    _, results = run_scans(lib, [(side, [None])], emit, defer=defer, fork=True)
    total = ScanResult()
    for r in (r for process in results for r in process):
        total.add(r)
    return total


def scanner(
    job: list[Scan], emit: Emit = ignore_events, defer: bool = False
) -> Callable[[Library], list[ScanResult]]:
    """One process's scans, as a function of the library: forkable, and picklable when
    `emit` is (a CopyHelper runs it from a pickle, see forked_scans.py)."""
    scans = [(side.location_id, sub, skip) for side, sub, skip in job]
    return functools.partial(_scan_all, scans=scans, emit=emit, defer=defer)


def _scan_all(
    lib: Library,
    scans: list[tuple[int, str | None, frozenset[str]]],
    emit: Emit,
    defer: bool,
) -> list[ScanResult]:
    return [
        scan(lib, loc, sub, emit=emit, defer_hashes=defer, skip=skip) for loc, sub, skip in scans
    ]
