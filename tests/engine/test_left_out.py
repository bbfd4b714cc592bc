"""Ignore patterns that leave a side with nothing to sync are said in the run's warnings
(left_out.py). Real library, real folders, the real service."""

from __future__ import annotations

from pathlib import Path

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.locations import add_location
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import read_tree, write_tree


def _pair(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    write_tree(src, files)
    return src, dst


def _left_out(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "ignore patterns leave out" in w]


def test_conduit_patterns_that_leave_out_every_file_are_said(library, tmp_path):
    src, dst = _pair(tmp_path, {"a.txt": "a", "d/b.txt": "b", "d/e/c.txt": "c"})
    c = add_conduit(library, src, dst, "mirror", ignore=["*.txt"])

    r = FileSyncService(library).sync(c.id)

    assert r.status == "completed" and r.copied == 0 and not r.errors
    assert _left_out(r.warnings) == [
        f"the ignore patterns leave out all 3 files of the source folder {src}: "
        "none of them is synced"
    ]
    assert "a.txt" not in read_tree(dst)


def test_location_patterns_that_leave_out_everything_are_said(library, tmp_path):
    src, dst = _pair(tmp_path, {"a.txt": "a", "d/b.txt": "b"})
    add_location(library, src, ignore=["/*"])
    c = add_conduit(library, src, dst, "mirror")

    r = FileSyncService(library).sync(c.id)

    assert r.status == "completed" and r.copied == 0
    assert _left_out(r.warnings) == [
        f"the ignore patterns leave out everything in the source folder {src} "
        "(2 items at its top level): nothing of it is synced"
    ]


def test_a_bidirectional_side_left_empty_by_patterns_is_said_by_name(library, tmp_path):
    src, dst = _pair(tmp_path, {"a.log": "a"})
    write_tree(dst, {"b.log": "b"})
    c = add_conduit(library, src, dst, "bidirectional", ignore=["*.log"])

    r = FileSyncService(library).sync(c.id)

    assert _left_out(r.warnings) == [
        f"the ignore patterns leave out the one file of the {name} folder {path}: it is not synced"
        for name, path in (("source", src), ("target", dst))
    ]


def test_nothing_is_said_when_something_is_left_or_nothing_is_there(library, tmp_path):
    # Some files left: they are synced and nothing is said.
    src, dst = _pair(tmp_path, {"a.txt": "a", "b.log": "b"})
    c = add_conduit(library, src, dst, "mirror", ignore=["*.log"])
    r = FileSyncService(library).sync(c.id)
    assert r.copied == 1 and not _left_out(r.warnings)
    # Everything already synced, the rest ignored: a plan that copies nothing, still quiet.
    (src / "c.log").write_text("c")
    r = FileSyncService(library).sync(c.id)
    assert r.copied == 0 and not _left_out(r.warnings)
    # Only empty folders, and an empty source: nothing to leave out.
    src2, dst2 = tmp_path / "s2", tmp_path / "d2"
    (src2 / "empty" / "deeper").mkdir(parents=True)
    dst2.mkdir()
    c2 = add_conduit(library, src2, dst2, "mirror", ignore=["*.log"])
    assert not _left_out(FileSyncService(library).sync(c2.id).warnings)
