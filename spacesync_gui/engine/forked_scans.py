"""Scan one side of a conduit in a forked child while this process scans the other.

Most of a rescan is `lstat` calls and the Python loop around them; two sides scanned one
after the other take twice as long as one, and two threads take longer still (they share
the GIL). A child process made with fork (the engine already imported, no start-up cost)
scans with its own database connection and sends its results back through a pipe.

Only where fork is safe: a POSIX system and a process running no other thread (the CLI).
Any failure of the child is not an error: the caller scans that side itself (scans are
idempotent), so this can only make a run faster, never different.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .db import Library
from .forking import can_fork, fork_child

log = logging.getLogger(__name__)
J = TypeVar("J")


class ForkedJob:
    """`fn(lib)` running in a forked child; `result()` waits for what it returned."""

    def __init__(self, lib: Library, fn: Callable[[Library], Any]) -> None:
        read_fd, write_fd = os.pipe()

        def child() -> None:  # the parent redoes the work if this fails
            os.close(read_fd)
            # Fresh connections: the parent's SQLite connections must not be touched.
            lib.engine.dispose(close=False)
            payload = pickle.dumps(fn(lib))
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)

        pid = fork_child(child)
        os.close(write_fd)
        self._pid = pid
        self._read_fd = read_fd

    def result(self) -> Any:
        """What the child's `fn` returned; raises ChildFailed if it did not finish."""
        with os.fdopen(self._read_fd, "rb") as f:
            data = f.read()
        _, status = os.waitpid(self._pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
            raise ChildFailed(f"scan process ended with status {status}")
        return pickle.loads(data)


def run_jobs(
    lib: Library,
    items: Sequence[J],
    job: Callable[[J, bool], Callable[[Library], Any]],
    fork: bool,
) -> list[Any]:
    """`job(item, in_child)(lib)` for each item, results in order. With `fork` and two
    items, the second runs in a forked child while the first runs here; if the child
    fails, it runs here afterwards. `in_child` tells the job it must not emit events."""
    forked = None
    if fork and len(items) == 2 and can_fork():
        forked = ForkedJob(lib, job(items[1], True))
    results = [job(item, False)(lib) for item in items[: 1 if forked else None]]
    if forked is not None:
        try:
            results.append(forked.result())
        except ChildFailed:
            log.warning("the forked half of the work failed; doing it here")
            results.append(job(items[1], False)(lib))
    return results


class ChildFailed(Exception):
    """The forked child did not deliver (crashed, killed, or its work raised)."""
