"""A whole endpoint's scan shared between this process and a forked child (scan_split.py)
leaves exactly the index one scan leaves, deletions and errors included."""

from __future__ import annotations

import os
import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pytest

from spacesync_gui.engine import forked_scans, models, scan_split, weighing
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
        # About half the items by weight (a, b, d: 3 each; c: 1; e: 0; 18 with the root's
        # own, .spacesync included): a, b and d are the child's; top.txt and c/*: here.
        assert both() == (["a", "b", "d"], [2, 6])
        assert len(_rows(library.data_dir, loc.id)) == 17
        # Changes in both parts: a file gone from a child's folder, a folder of the child's
        # become a file, a file added in this process's part, a folder gone at the top.
        os.unlink(root / "b" / "sub" / "z.txt")
        shutil.rmtree(root / "d")
        (root / "d").write_text("a file now")
        (root / "c" / "new.txt").write_text("n")
        shutil.rmtree(root / "a")
        assert both() == (["b", "c"], [2, 3])  # folders now: b c e (2, 2, 0 of 11)
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
        (root / name / "x").write_text("x")
    (root / "f").write_text("a file")
    os.symlink("a", root / "g")
    (root / "empty").mkdir()
    side = Side("source", 1, root.parent, "loc")
    # Weighs 14 items: the four plain folders with a file are about half; the NFD-named
    # ones, the symlink, the app's own folder and an empty one are never the child's.
    assert scan_split.child_folders(side) == {"loc/a", "loc/b", "loc/c", "loc/d"}
    (root / "lonely").mkdir()
    assert scan_split.child_folders(Side("source", 1, root / "lonely", "")) == frozenset()


def test_one_big_folder_is_shared_by_its_subfolders(library, tmp_path: Path, monkeypatch):
    """A tree that is nearly all one folder is still shared evenly: the child takes some of
    that folder's subfolders (sharing top-level folders only, it got the small one alone),
    and the index is the one a single scan leaves."""
    root = tmp_path / "loc"
    files = {f"big/{s}/f{i}.txt": s for s in ("p", "q", "r", "s") for i in range(6)}
    files.update({"small/one.txt": "1", "top.txt": "t"})
    write_tree(root, files)
    loc = add_location(library, root)
    child, seen = _shared_scan(library, Side("source", loc.id, root, ""), monkeypatch)
    assert sorted(child) == ["big/p", "big/q", "small"]
    assert seen == [13, 13]  # big/r, big/s and top.txt here
    alone = open_library(tmp_path / "alone")
    try:
        alone_loc = add_location(alone, root)
        scan_location(alone, alone_loc.id)
        assert _rows(library.data_dir, loc.id) == _rows(alone.data_dir, alone_loc.id)
    finally:
        alone.close()


def test_weighing_counts_unlisted_folders_as_the_last_level_listed(tmp_path, monkeypatch):
    write_tree(tmp_path, {"a/b/c/1": "", "a/b/c/2": "", "a/b/3": "", "a/b/4": "", "z/5": ""})
    monkeypatch.setattr(weighing, "WEIGH_LISTINGS", 4)  # the root, a, z, a/b: not a/b/c
    weight, kids = weighing.weigh(tmp_path)
    assert kids == {"": ["a", "z"], "a": ["a/b"], "z": [], "a/b": ["a/b/c"]}
    # a/b/c is not listed: it weighs as a/b's level does (3 items: c, 3, 4).
    assert weight["a/b/c"] == 3 and weight["a/b"] == 6 and weight["a"] == 7
    assert weight[""] == 2 + 7 + 1
    # A level whose listings would pass the item budget is not listed at all: its folders
    # count alike, as the last level listed's mean folder (a/b as a and z: 1 item).
    monkeypatch.setattr(weighing, "WEIGH_LISTINGS", 256)
    monkeypatch.setattr(weighing, "WEIGH_ITEMS", 4)  # the root 2, a 1, z 1; a/b's 3: over
    weight, kids = weighing.weigh(tmp_path)
    assert kids == {"": ["a", "z"], "a": ["a/b"], "z": []}
    assert weight["a/b"] == 1 and weight["a"] == 2 and weight["z"] == 1
