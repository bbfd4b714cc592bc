"""Fewer cyclic garbage collections while a run holds its snapshots.

A run of 100,000 files keeps a few million small objects alive (snapshots, plan, base) and
allocates a few more per file (index rows, events). Python's cyclic collector is triggered
by allocations: with its default thresholds it walked that whole heap again and again,
which cost the engine process ~0.8 s of CPU in an initial mirror of W1 (16 % of its CPU;
`bench/prof_sync.py` with `gc.set_threshold` changed by hand). What a run allocates is
acyclic and freed by reference counting; the collector only has to run less often, not
never. The thresholds are the process's, so concurrent runs (the daemon's threads) share
one raise: the first run in sets it, the last one out restores what it found.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# A youngest-generation pass every 50,000 net allocations instead of 700.
RUN_THRESHOLD = 50_000

_lock = threading.Lock()
_runs = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    global _runs, _saved
    with _lock:
        if _runs == 0:
            _saved = gc.get_threshold()
            first, *older = _saved
            if first:  # 0: the collector is off; leave it so
                gc.set_threshold(max(first, RUN_THRESHOLD), *older)
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.set_threshold(*_saved)
