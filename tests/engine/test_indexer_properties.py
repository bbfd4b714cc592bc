"""Property: after any edits, incremental and subtree rescans yield what a fresh scan yields."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from spacesync_gui.engine import models
from spacesync_gui.engine.db import Library, open_library
from spacesync_gui.engine.indexer import scan_location
from tests.engine.test_indexer import add_location

NAMES = ["a", "b", "\u00e9", "e\u0301", "c.txt"]  # NFC and NFD twins of "é" included
paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
ops = st.lists(
    st.tuples(
        st.sampled_from(["write", "append", "mkdir", "remove", "rename", "symlink"]),
        paths,
        paths,
        st.binary(max_size=64),
    ),
    max_size=12,
)
# Unique mtimes: two different contents must never share (size, mtime_ns, inode), which a
# reused inode and a coarse file-system clock could otherwise produce within one test.
_clock = itertools.count(1_600_000_000)


def _stamp(p: Path) -> None:
    t = next(_clock) * 1_000_000_000
    os.utime(p, ns=(t, t), follow_symlinks=False)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def apply(root: Path, op: str, rel: str, other: str, data: bytes) -> None:
    p, q = root / rel, root / other
    try:
        if op == "write":
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            _stamp(p)
        elif op == "append":
            with open(p, "ab") as f:
                f.write(data + b"+")
            _stamp(p)
        elif op == "mkdir":
            p.mkdir(parents=True, exist_ok=True)
        elif op == "remove":
            _remove(p)
        elif op == "rename":
            q.parent.mkdir(parents=True, exist_ok=True)
            os.replace(p, q)
        elif op == "symlink":
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(other, p)
    except OSError:
        pass  # an op that makes no sense for the current tree is simply skipped


def _tops(root: Path, *rels: str) -> set[str]:
    """The top-level names of these paths, as written and as they resolve now."""
    tops = set()
    real_root = os.path.realpath(root)
    for rel in rels:
        tops.add(rel.split("/")[0])
        real = os.path.relpath(os.path.realpath(root / rel), real_root)
        if real != "." and not real.startswith(".."):
            tops.add(real.split(os.sep)[0])
    return tops


def snapshot(lib: Library, location_id: int) -> dict[str, tuple]:
    e = models.Entry
    cols = (e.path, e.raw, e.kind, e.size, e.mtime_ns, e.inode, e.mode, e.hash, e.link)
    with lib.session() as s:
        rows = s.execute(select(*cols).where(e.location_id == location_id))
        return {r[0]: tuple(r) for r in rows}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=ops, second=ops)
def test_incremental_equals_fresh(first, second) -> None:  # type: ignore[no-untyped-def]
    base = Path(tempfile.mkdtemp(prefix="spacesync-indexer-prop-"))
    try:
        root = base / "root"
        root.mkdir()
        lib = open_library(base / "data")
        try:
            lid = add_location(lib, root)
            for op in first:
                apply(root, *op)
            scan_location(lib, lid)
            # Then as the watcher does it: rescan only the dirty subtrees. The root itself is
            # not an entry, so the top-level names touched cover every change; a write
            # through a symlinked folder touches the folder it points to (the watcher sees
            # the real path), so each op's paths are resolved before and after it.
            dirty: set[str] = set()
            for op in second:
                dirty |= _tops(root, op[1], op[2])
                apply(root, *op)
                dirty |= _tops(root, op[1], op[2])
            for top in sorted(dirty):
                scan_location(lib, lid, top)
            # A second location over the same tree (the path differs only in spelling).
            fresh_id = add_location(lib, f"{root}/.")
            scan_location(lib, fresh_id)
            assert snapshot(lib, lid) == snapshot(lib, fresh_id)
            with lib.session() as s:
                a = s.get(models.Location, lid)
                b = s.get(models.Location, fresh_id)
                assert a is not None and b is not None
                assert (a.files, a.bytes, a.scan_errors) == (b.files, b.bytes, b.scan_errors)
            assert scan_location(lib, lid).files_hashed == 0
        finally:
            lib.close()
    finally:
        shutil.rmtree(base)
