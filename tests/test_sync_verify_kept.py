"""A run that only adds verifies with the snapshots its executor kept up to date instead of
loading them again, and only while its rescan proves the disk is as the executor left it."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from spacesync_gui.engine.conduits import add_conduit, get_conduit
from spacesync_gui.engine.events import RunPhase
from spacesync_gui.engine.locations import add_location
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.service import FileSyncService
from spacesync_gui.engine.snapshots import IndexWriter, Side, load_base, load_side
from tests.sync_helpers import count_snapshot_loads, read_tree, write_tree

NFC = "Café.txt"
NFD = unicodedata.normalize("NFD", NFC)


def _sides(library, tmp_path: Path, nested: bool) -> tuple[int, Path, Path]:
    places = {n: tmp_path / f"{n}-location" for n in ("src", "dst")}
    ends = {n: p / "inside" if nested else p for n, p in places.items()}
    for p in ends.values():
        p.mkdir(parents=True)
    if nested:  # the endpoints are folders inside their locations (keys get a prefix)
        for p in places.values():
            add_location(library, p)
    c = add_conduit(library, ends["src"], ends["dst"], "mirror")
    return c.id, ends["src"], ends["dst"]


def _odd_tree(root: Path) -> None:
    write_tree(root, {"a.txt": "A", "d/b.txt": "BB", "d/e/c.txt": "CCC", f"d/{NFD}": "nfd"})
    (root / "empty").mkdir()
    os.symlink("a.txt", root / "lnk")
    with open(os.path.join(os.fsencode(root), b"bad\xff.txt"), "wb") as f:
        f.write(b"not utf-8")


@pytest.mark.parametrize("nested", [False, True])
def test_an_initial_mirror_is_verified_without_loading_the_target_again(
    library, tmp_path: Path, monkeypatch, nested: bool
):
    cid, src, dst = _sides(library, tmp_path, nested)
    _odd_tree(src)
    loads = count_snapshot_loads(monkeypatch)
    svc = FileSyncService(library)
    r = svc.sync(cid)
    assert r.status == "completed" and r.copied == 6 and r.errors == []
    assert r.verified and r.warnings == []
    assert loads == ["source", "target"]  # for the plan; the verify planned with what it kept
    assert os.listdir(os.fsencode(dst)).count(b"bad\xff.txt") == 1
    assert read_tree(dst) == read_tree(src)
    # The verify found both sides equal with nothing left to record in the base: the run
    # stored its clean token, so the next run is a no-op that loads nothing at all.
    loads.clear()
    r = svc.sync(cid)
    assert r.verified and r.copied == 0 and loads == []


def test_a_change_made_before_the_verify_is_seen(library, tmp_path: Path, monkeypatch):
    cid, src, dst = _sides(library, tmp_path, False)
    _odd_tree(src)

    def emit(ev: object) -> None:
        if isinstance(ev, RunPhase) and ev.phase == "verifying":
            (dst / "d" / "b.txt").write_text("edited on the target during the run")

    loads = count_snapshot_loads(monkeypatch)
    r = FileSyncService(library, emit).sync(cid)
    assert r.status == "completed" and r.copied == 6
    assert not r.verified and "still differing" in r.warnings[0]
    assert loads == ["source", "target", "target"]  # the rescan moved the index: loaded
    r = FileSyncService(library).sync(cid)
    assert r.verified and r.copied == 1 and read_tree(dst) == read_tree(src)


def test_the_writer_keeps_snapshot_and_base_equal_to_the_index(library, tmp_path: Path):
    """What the verify relies on, item by item: names unlike their keys, items read from
    the disk, items gone before they were recorded."""
    cid, _, dst = _sides(library, tmp_path, True)
    side = Side("target", get_conduit(library, cid).target_location_id, dst.parent, "inside")
    kept: dict[str, Item] = {}
    w = IndexWriter(library, cid, base=kept)
    (dst / "folder").mkdir()
    f = Item("file", 3, 10**18, "a" * 32, None, 0o644, 7)
    w.set_entry(side, "folder", Item("dir"), str(dst / "folder"))
    w.set_entry(side, "gone", Item("dir"), str(dst / "gone"))  # vanished: not recorded
    w.set_entry(side, NFC, f, raw=os.fsencode(f"inside/{NFD}"))
    w.set_entry(side, "x.txt", f)
    w.set_entry(side, "x.txt", None)
    for key in ("folder", NFC):
        w.set_base(key, side.snapshot[key]._replace(mode=0, inode=0))
    w.set_base("x.txt", f)
    w.set_base("x.txt", None)
    w.flush()
    kept_snapshot, kept_disk = dict(side.snapshot), dict(side.disk)
    assert set(kept_snapshot) == {"folder", NFC} and kept_disk == {NFC: NFD}
    load_side(library, side)
    assert (side.snapshot, side.disk) == (kept_snapshot, kept_disk)
    assert load_base(library, cid) == kept
