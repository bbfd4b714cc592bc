"""Scan one side of a conduit in a forked child while this process scans the other.

Most of a rescan is `lstat` calls and the Python loop around them; two sides scanned one
after the other take twice as long as one, and two threads take longer still (they share
the GIL). A child process made with fork (the engine already imported, no start-up cost)
scans with its own database connection and sends its results back through a pipe.

Where fork is safe (a POSIX system, a process running no other thread: the CLI) this
process forks the child. A process with threads (the app's engine, the daemon) hands the
job to its CopyHelper, which forks it (forked_copies.py): the job must then pickle.
Any failure of the child is not an error: the caller scans that side itself (scans are
idempotent), so this can only make a run faster, never different.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import forked_copies
from .db import Library
from .forking import ChildFailed, ForkedJob, can_fork

__all__ = ["ChildFailed", "ForkedJob", "can_fork", "can_share", "run_jobs"]

log = logging.getLogger(__name__)
J = TypeVar("J")


def can_share() -> bool:
    """Whether `run_jobs` may run a second job in another process now."""
    return can_fork() or forked_copies.helper_usable()


def run_jobs(
    lib: Library,
    items: Sequence[J],
    job: Callable[[J, bool], Callable[[Library], Any]],
    fork: bool,
) -> list[Any]:
    """`job(item, in_child)(lib)` for each item, results in order. With `fork` and two
    items, the second runs in a forked child while the first runs here; if the child
    fails (or the helper is busy), it runs here afterwards. `in_child` tells the job it
    must not emit events."""
    forked: Any = None
    if fork and len(items) == 2:
        if can_fork():
            forked = ForkedJob(lib, job(items[1], True))
        else:
            forked = forked_copies.call_in_helper(job(items[1], True))
    try:
        results = [job(item, False)(lib) for item in items[: 1 if forked is not None else None]]
    except BaseException:
        if forked is not None:  # not left behind: a HelperCall holds the helper until then
            try:
                forked.result()
            except ChildFailed:
                pass
        raise
    if forked is not None:
        try:
            results.append(forked.result())
        except ChildFailed:
            log.warning("the forked half of the work failed; doing it here")
            results.append(job(items[1], False)(lib))
    return results
