"""Hashes a mirror's own scan left out, read only where a comparison needs them.

A mirror run scans with `defer_hashes`: a new or changed file gets an index entry without a
hash instead of being read, because its copy reads it anyway and computes the hash as it
streams (the executor then writes that hash onto the source entry, the copy's entry and the
base). Reading every new file twice made an initial mirror pay for the source's bytes twice.

Before planning, a file without a hash is hashed only when the plan could compare its
content with another file: a file of the same size on the other side or in the base (same
path: equal or not; another path: a move). A file no other file could equal is copied (or,
on a mirror's target, deleted into the versions store) without its hash being known first;
the planner treats a missing hash as "compare by nothing", never as "equal".
Bidirectional runs do not defer, but anything still without a hash (another conduit's
mirror run on a shared location) is hashed here before they plan.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import forked_scans
from .constants import FILE
from .db import Library
from .indexer import hash_deferred, read_problem
from .plan import SOURCE, TARGET, Snapshot
from .planner import MIRROR
from .snapshots import Side


def _sizes(*snaps: Snapshot) -> set[int]:
    return {it.size for snap in snaps for it in snap.values() if it.kind == FILE}


def wanted(mode: str, snaps: dict[str, Snapshot], base: Snapshot) -> dict[str, list[str]]:
    """Side name -> the keys without a hash that planning must have hashed."""
    out: dict[str, list[str]] = {}
    for name, snap in snaps.items():
        missing = [k for k, it in snap.items() if it.hash is None and it.kind == FILE]
        if not missing:
            continue
        if mode == MIRROR:
            sizes = _sizes(snaps[TARGET if name == SOURCE else SOURCE], base)
            missing = [k for k in missing if snap[k].size in sizes]
        if missing:
            out[name] = missing
    return out


def _job(side: Side, snap: Snapshot, keys: list[str]) -> Callable[[Library], Any]:
    """`hash_deferred` of these keys as a function of the library (picklable: a CopyHelper
    may run it, see forked_scans.py)."""
    files = [
        (side.full_key(k), side.abs_path(k), snap[k].size, snap[k].mtime_ns, snap[k].inode)
        for k in keys
    ]
    return functools.partial(hash_deferred, location_id=side.location_id, files=files)


def fill_hashes(
    lib: Library,
    mode: str,
    sides: dict[str, Side],
    snaps: dict[str, Snapshot],
    base: Snapshot,
    *,
    fork: bool = False,
) -> list[dict[str, str]]:
    """Hash what `wanted` names, in place in `snaps` and in the index; returns the
    problems as run errors ({path, message}). With `fork` (the CLI), the target side is
    hashed in a forked child at the same time as the source here."""
    todo = list(wanted(mode, snaps, base).items())
    results = forked_scans.run_jobs(
        lib, todo, lambda it, _: _job(sides[it[0]], snaps[it[0]], it[1]), fork
    )
    errors: list[dict[str, str]] = []
    for (name, _), (hashes, problems) in zip(todo, results, strict=True):
        side, snap = sides[name], snaps[name]
        cut = len(side.prefix) + 1 if side.prefix else 0
        for full, digest in hashes.items():
            key = full[cut:]
            snap[key] = snap[key]._replace(hash=digest)
        errors.extend(
            {"path": full[cut:], "message": read_problem(name, why)} for full, why in problems
        )
    return errors
