"""A whole endpoint's scan shared between this process and a forked child (scan_split.py)
leaves exactly the index one scan leaves, deletions and errors included."""

from __future__ import annotations

import os
import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pytest

from spacesync_gui.engine import forked_scans, models, scan_split
from spacesync_gui.engine.db import open_library
from spacesync_gui.engine.indexer import scan_location
from spacesync_gui.engine.library_file import DB_NAME
from spacesync_gui.engine.locations import add_location
from spacesync_gui.engine.snapshots import Side
from tests.engine.test_indexer import scan_errors
from tests.sync_helpers import write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")

NFD = unicodedata.normalize("NFD", "é")


def _tree(root: Path) -> None:
    write_tree(
        root,
        {
            "top.txt": "t",
            "a/x.txt": "ax",
            "a/deep/y.txt": "ay",
            f"b/{NFD}.txt": "b",
            "b/sub/z.txt": "bz",
            "c/w.txt": "cw",
            "d/v.txt": "dv",
            "d/sub/u.txt": "du",
        },
    )
    (root / "e").mkdir()
    os.symlink("a", root / "link")


def _rows(lib_dir: Path, location_id: int) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(lib_dir / DB_NAME) as db:
        return db.execute(
            "SELECT path, raw, kind, size, mtime_ns, inode, mode, hash, link, digest"
            " FROM entries WHERE location_id = ? ORDER BY path",
            (location_id,),
        ).fetchall()


def _shared_scan(
    library,  # noqa: ANN001
    side: Side,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[str], list[int]]:
    """Scan `side` as a CLI sync does; returns the keys the child scanned, and the files
    each process saw (together: each file once)."""
    monkeypatch.setattr(forked_scans, "can_fork", lambda: True)  # pytest may run threads
    work = scan_split.share_out([(side, [None])], share=True)
    assert len(work) == 2, "not shared"
    results = forked_scans.run_jobs(library, work, lambda j, _: scan_split.scanner(j), True)
    assert all(not r.stopped for rs in results for r in rs)
    seen = [sum(r.files_seen for r in rs) for rs in results]
    return [sub for _, sub, _ in work[1] if sub is not None], seen


def test_a_shared_scan_indexes_what_one_scan_does(library, tmp_path: Path, monkeypatch):
    root = tmp_path / "loc"
    _tree(root)
    loc = add_location(library, root)
    side = Side("source", loc.id, root, "")
    alone = open_library(tmp_path / "alone")  # the same folder, scanned the plain way
    alone_loc = add_location(alone, root)

    def both() -> tuple[list[str], list[int]]:
        shared = _shared_scan(library, side, monkeypatch)
        scan_location(alone, alone_loc.id)
        assert _rows(library.data_dir, loc.id) == _rows(alone.data_dir, alone_loc.id)
        return shared

    try:
        # Every second top-level folder by name (a b c d e): the child's.
        assert both() == (["b", "d"], [4, 4])  # top.txt, a/*, c/*: here; b/*, d/*: child
        assert len(_rows(library.data_dir, loc.id)) == 17
        # Changes in both parts: a file gone from a child's folder, a folder of the child's
        # become a file, a file added in this process's part, a folder gone at the top.
        os.unlink(root / "b" / "sub" / "z.txt")
        shutil.rmtree(root / "d")
        (root / "d").write_text("a file now")
        (root / "c" / "new.txt").write_text("n")
        shutil.rmtree(root / "a")
        assert both() == (["c"], [3, 2])  # folders now: b c e
        paths = [r[0] for r in _rows(library.data_dir, loc.id)]
        assert "b/sub/z.txt" not in paths and "d/v.txt" not in paths and "a" not in paths
        assert "c/new.txt" in paths and "d" in paths
    finally:
        alone.close()


def test_a_scan_leaves_the_errors_of_the_folders_it_skips(library, tmp_path: Path):
    root = tmp_path / "loc"
    write_tree(root, {"a/x.txt": "a", "b/y.txt": "b"})
    loc = add_location(library, root)
    scan_location(library, loc.id)
    with library.session() as s:  # as a scan of an unreadable file left them
        for path in ("a/x.txt", "b/y.txt"):
            s.add(models.ScanError(location_id=loc.id, path=path, message="cannot read", at=0))
    scan_location(library, loc.id, skip=frozenset({"b"}))
    # a/x.txt read fine this time; b is the other scan's: its error stays for it to settle.
    assert scan_errors(library, loc.id) == {"b/y.txt": "cannot read"}
    scan_location(library, loc.id, "b")
    assert scan_errors(library, loc.id) == {}


def test_only_plain_folder_names_are_shared(tmp_path: Path):
    root = tmp_path / "loc"
    for name in ("a", "b", "c", "d", f"{NFD}1", f"{NFD}2", ".spacesync"):
        (root / name).mkdir(parents=True)
    (root / "f").write_text("a file")
    os.symlink("a", root / "g")
    side = Side("source", 1, root.parent, "loc")
    assert scan_split.child_folders(side) == {"loc/b", "loc/d"}
    (root / "lonely").mkdir()
    assert scan_split.child_folders(Side("source", 1, root / "lonely", "")) == frozenset()
