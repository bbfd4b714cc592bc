"""A conduit whose indexes and base did not change since a clean run is a verified no-op
that loads no snapshot (the change counters of schema 3); any change undoes that."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacesync_gui.engine import scan_split
from spacesync_gui.engine.conduits import add_conduit, edit_conduit, get_conduit
from spacesync_gui.engine.service import FileSyncService, _cover
from tests.sync_helpers import count_snapshot_loads, read_tree, write_tree


@pytest.fixture
def setup(library, tmp_path: Path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    write_tree(src, {"a.txt": "A", "d/b.txt": "B", "d/e/c.txt": "C"})
    c = add_conduit(library, src, dst, "mirror")
    return library, c.id, src, dst


def test_clean_no_op_skips_loading_and_any_change_is_seen(setup, monkeypatch):
    lib, cid, src, dst = setup
    svc = FileSyncService(lib)
    r = svc.sync(cid)
    assert r.status == "completed" and r.verified and r.copied == 3
    loads = count_snapshot_loads(monkeypatch)
    r = svc.sync(cid)
    assert r.status == "completed" and r.verified and r.copied == 0
    assert loads == []  # the counters vouched for the index: nothing loaded
    (src / "d" / "b.txt").write_text("B2")
    r = svc.sync(cid)
    assert r.copied == 1 and r.verified and loads  # the scan bumped the counter
    assert read_tree(dst) == read_tree(src)
    loads.clear()
    (dst / "a.txt").unlink()  # a change on the target side
    r = svc.sync(cid)
    assert r.copied == 1 and read_tree(dst) == read_tree(src)
    loads.clear()
    assert svc.sync(cid).copied == 0 and loads == []


def test_settings_change_and_failed_run_drop_the_token(setup, monkeypatch):
    lib, cid, src, dst = setup
    svc = FileSyncService(lib)
    svc.sync(cid)
    svc.sync(cid)
    edit_conduit(lib, cid, ignore=["*.txt"])
    loads = count_snapshot_loads(monkeypatch)
    svc.sync(cid)
    assert loads  # new settings: planned again
    loads.clear()
    svc.sync(cid)
    assert loads == []


def test_trusted_index_with_nothing_dirty_is_a_verified_no_op(setup, monkeypatch):
    lib, cid, src, dst = setup
    svc = FileSyncService(lib)
    svc.sync(cid)
    svc.sync(cid)
    c = get_conduit(lib, cid)
    svc.trusted_dirty = {c.source_location_id: set(), c.target_location_id: set()}
    loads = count_snapshot_loads(monkeypatch)
    scans: list[object] = []
    monkeypatch.setattr(scan_split, "scan", lambda *a, **k: scans.append(a))
    r = svc.sync(cid)
    assert r.status == "completed" and r.verified and loads == [] and scans == []


def test_rescans_cover_folders_with_as_few_subtrees_as_possible():
    assert _cover({"target": {"x/y", "x", "x b"}}) == {"target": ["x", "x b"]}
    assert _cover({"source": {"top", ""}})["source"] is None  # the root: the whole endpoint


def test_small_change_is_verified_on_its_sub_world(library, tmp_path: Path, monkeypatch):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    write_tree(src, {f"d{i}/f{j}.txt": f"{i}{j}" for i in range(5) for j in range(10)})
    c = add_conduit(library, src, dst, "bidirectional")
    svc = FileSyncService(library)
    assert svc.sync(c.id).verified
    (dst / "d3" / "f1.txt").write_text("changed on the target")
    (src / "d1" / "new.txt").write_text("new on the source")
    loads = count_snapshot_loads(monkeypatch)
    r = svc.sync(c.id)
    assert r.status == "completed" and r.verified and r.copied == 2
    # The plan loaded only the changed paths (journal.py), the verify only the touched ones.
    assert loads == []
    assert read_tree(dst) == read_tree(src)
    loads.clear()
    assert svc.sync(c.id).copied == 0 and loads == []  # and the run left a clean token
