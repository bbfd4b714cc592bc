"""The change journal (schema 6, journal.py): after a clean run, a run plans only the paths
whose index entries changed since, with the same outcome as planning everything; and the
verify checks the touched paths against the index instead of listing every folder."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

import pytest

from spacesync_gui.engine import journal
from spacesync_gui.engine import service as service_mod
from spacesync_gui.engine.conduits import add_conduit, get_conduit, remove_conduit
from spacesync_gui.engine.locations import scan
from spacesync_gui.engine.planner import conflict_name
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import count_snapshot_loads, read_tree, versions_content, write_tree

TREE = {f"d{i}/f{j}.txt": f"{i}-{j}" for i in range(4) for j in range(12)}
# Large enough that the scenario below stays under journal.MAX_SHARE of it.
BIG = {f"d{i}/f{j}.txt": f"{i}-{j}" for i in range(8) for j in range(30)}


WHEN = datetime(2026, 1, 2, 3, 4, 5)


class _Fixed(datetime):
    """The planner's clock, fixed: conflict copies are named after it."""

    @classmethod
    def now(cls, tz=None):  # noqa: ANN206
        return WHEN


def _rows(lib, sql: str, *args) -> list[tuple]:
    with lib.engine.connect() as conn:
        return conn.exec_driver_sql(sql, args).fetchall()


def _pair(lib, root: Path, mode: str, files: dict[str, str], **kw):
    src, dst = root / "src", root / "dst"
    write_tree(src, files)
    dst.mkdir()
    c = add_conduit(lib, src, dst, mode, **kw)
    r = FileSyncService(lib).sync(c.id)
    assert r.status == "completed" and r.verified
    return src, dst, c.id


def test_the_journal_starts_after_a_clean_run_and_is_pruned_by_the_next(library, tmp_path):
    src, dst, cid = _pair(library, tmp_path, "mirror", TREE)
    # The initial sync wrote 96 entries and no journal row: the journal starts at its end.
    assert _rows(library, "SELECT count(*) FROM changes") == [(0,)]
    assert _rows(library, "SELECT journal FROM locations") == [(1,), (1,)]
    assert _rows(library, "SELECT clean_seq IS NOT NULL FROM conduits") == [(1,)]
    (src / "d1" / "f1.txt").write_text("edited")
    (src / "d2" / "f2.txt").unlink()
    scan(library, get_conduit(library, cid).source_location_id)
    assert {p for (p,) in _rows(library, "SELECT path FROM changes")} == {
        "d1/f1.txt",
        "d2/f2.txt",
    }
    r = FileSyncService(library).sync(cid)
    assert r.copied == 1 and r.deleted == 1 and r.verified
    assert read_tree(dst) == read_tree(src)
    # The rows before the new clean position are gone; the copies wrote the target's.
    assert _rows(library, "SELECT count(*) FROM changes") == [(0,)]


def _scenario(src: Path, dst: Path) -> None:
    """Every kind of change, on both sides: edit, add, delete, move, a folder deleted
    whole, an mtime-only change, and one path edited on both sides (a conflict)."""
    (src / "d0" / "f0.txt").write_text("edited on the source")
    (src / "d0" / "new.txt").write_text("added on the source")
    (src / "d1" / "f3.txt").unlink()
    os.rename(src / "d1" / "f4.txt", src / "d2" / "moved.txt")
    os.utime(src / "d1" / "f5.txt", (1_000_000_000, 1_000_000_000))
    for f in (dst / "d3").iterdir():
        f.unlink()
    (dst / "d3").rmdir()
    (dst / "d2" / "f6.txt").write_text("edited on the target")
    (src / "d2" / "f7.txt").write_text("both: source")
    (dst / "d2" / "f7.txt").write_text("both: target, longer")


@pytest.mark.parametrize("strategy", ["ask", "newest", "keep-both"])
def test_planning_the_changed_paths_gives_what_planning_everything_gives(
    library, tmp_path, monkeypatch, strategy
):
    pairs = []
    for name in ("journal", "full"):
        src, dst, cid = _pair(library, tmp_path / name, "bidirectional", BIG, conflict=strategy)
        _scenario(src, dst)
        pairs.append((src, dst, cid))
    monkeypatch.setattr(service_mod, "datetime", _Fixed)  # same conflict names in both
    loads = count_snapshot_loads(monkeypatch)
    (js, jd, jid), (fs, fd, fid) = pairs
    r_journal = FileSyncService(library).sync(jid)
    assert loads == []  # planned from the journal's paths alone
    monkeypatch.setattr(journal, "MAX_SHARE", 0.0)  # never worth it: plan everything
    r_full = FileSyncService(library).sync(fid)
    assert loads  # ... which loads both snapshots
    for r in (r_journal, r_full):
        assert r.status == "completed" and r.verified and not r.errors
    keys = ("copied", "deleted", "moved", "conflicts", "conflicts_resolved")
    assert {k: getattr(r_journal, k) for k in keys} == {k: getattr(r_full, k) for k in keys}
    assert read_tree(js) == read_tree(fs) and read_tree(jd) == read_tree(fd)
    assert versions_content(js) == versions_content(fs)
    assert versions_content(jd) == versions_content(fd)
    assert r_journal.moved >= 1 and "d2/moved.txt" in read_tree(jd)  # keep-both: 2


def test_a_conflict_copy_never_takes_the_name_of_an_unchanged_file(library, tmp_path, monkeypatch):
    taken = conflict_name("d0/f1.txt", WHEN, socket.gethostname())
    files = {**TREE, taken: "an older file of that very name"}
    src, dst, cid = _pair(library, tmp_path, "bidirectional", files, conflict="keep-both")
    (src / "d0" / "f1.txt").write_text("source side")
    (dst / "d0" / "f1.txt").write_text("target side!")
    monkeypatch.setattr(service_mod, "datetime", _Fixed)
    loads = count_snapshot_loads(monkeypatch)
    r = FileSyncService(library).sync(cid)
    assert loads == [] and r.status == "completed" and r.verified
    second = conflict_name("d0/f1.txt", WHEN, socket.gethostname(), {taken})
    for side in (src, dst):
        tree = read_tree(side)
        assert tree[taken] == "an older file of that very name"
        assert tree["d0/f1.txt"] == "source side" and tree[second] == "target side!"


def test_a_change_before_the_journal_started_is_not_missed(library, tmp_path, monkeypatch):
    """Between reading the clean token and storing it, a change to a location that is not
    journaled yet leaves no journal row: the run must then not store a journal position,
    or the next run would plan without that change."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, TREE)
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    real_prune = FileSyncService._prune

    def prune_then_change(self, conduit, sides):
        real_prune(self, conduit, sides)
        (src / "d0" / "late.txt").write_text("written while the run ended")
        scan(library, conduit.source_location_id)

    monkeypatch.setattr(FileSyncService, "_prune", prune_then_change)
    assert FileSyncService(library).sync(c.id).verified
    monkeypatch.setattr(FileSyncService, "_prune", real_prune)
    assert _rows(library, "SELECT clean_seq FROM conduits") == [(None,)]
    r = FileSyncService(library).sync(c.id)
    assert r.copied == 1 and (dst / "d0" / "late.txt").read_text() == "written while the run ended"


def _after_execute(monkeypatch, then) -> None:  # noqa: ANN001
    """Make every run call `then()` right after executing its plan (undo: monkeypatch.undo)."""
    real_execute = FileSyncService._execute

    def execute_then(self, *a, **k):
        result = real_execute(self, *a, **k)
        then()
        return result

    monkeypatch.setattr(FileSyncService, "_execute", execute_then)


def test_verify_rescans_a_touched_path_that_is_not_what_the_index_says(
    library, tmp_path, monkeypatch
):
    src, dst, cid = _pair(library, tmp_path, "mirror", TREE)
    (src / "d1" / "f1.txt").write_text("new content")
    _after_execute(
        monkeypatch, lambda: (dst / "d1" / "f1.txt").write_text("changed behind the run's back")
    )
    r = FileSyncService(library).sync(cid)
    assert r.copied == 1 and not r.verified
    assert any("still differing" in w for w in r.warnings)
    monkeypatch.undo()
    r = FileSyncService(library).sync(cid)
    assert r.copied == 1 and r.verified and read_tree(dst) == read_tree(src)
    assert "changed behind the run's back" in versions_content(dst)


def test_a_change_someone_else_indexes_during_a_run_is_synced_later(library, tmp_path, monkeypatch):
    """A scan by another process while a run executes changes the index under the run:
    the run must not call itself clean past that change, or no later run would plan it."""
    src, dst, cid = _pair(library, tmp_path, "mirror", BIG)
    (src / "d1" / "f1.txt").write_text("edited")

    def someone_scans() -> None:
        (src / "d5" / "meanwhile.txt").write_text("indexed by someone else")
        scan(library, get_conduit(library, cid).source_location_id)

    _after_execute(monkeypatch, someone_scans)
    r = FileSyncService(library).sync(cid)
    assert r.copied == 1 and not r.verified  # the verify saw the file nobody planned
    monkeypatch.undo()
    r = FileSyncService(library).sync(cid)
    assert r.copied == 1 and r.verified
    assert (dst / "d5" / "meanwhile.txt").read_text() == "indexed by someone else"


def test_sides_already_equal_end_clean_and_the_next_run_plans_only_changes(
    library, tmp_path, monkeypatch
):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, BIG)
    write_tree(dst, BIG)
    c = add_conduit(library, src, dst, "bidirectional")
    r = FileSyncService(library).sync(c.id)
    assert r.status == "completed" and r.copied == 0 and r.verified
    assert _rows(
        library, "SELECT clean_token IS NOT NULL, clean_seq IS NOT NULL FROM conduits"
    ) == [(1, 1)]
    (dst / "d4" / "f4.txt").write_text("edited on the target")
    loads = count_snapshot_loads(monkeypatch)
    r = FileSyncService(library).sync(c.id)
    assert r.copied == 1 and r.verified and loads == []
    assert read_tree(src) == read_tree(dst)


def test_planning_changed_paths_keeps_names_that_are_not_utf8(library, tmp_path, monkeypatch):
    src, dst, cid = _pair(library, tmp_path, "bidirectional", BIG)
    (src / "d0" / "f0.txt").write_text("edited")  # a plain change alongside
    raw_dir = os.fsencode(src) + b"/d1/sub\xff"
    os.mkdir(raw_dir)
    with open(raw_dir + b"/f\xfe.bin", "wb") as f:
        f.write(b"bytes")
    loads = count_snapshot_loads(monkeypatch)
    r = FileSyncService(library).sync(cid)
    assert r.status == "completed" and r.verified and not r.errors and loads == []
    with open(os.fsencode(dst) + b"/d1/sub\xff/f\xfe.bin", "rb") as f:
        assert f.read() == b"bytes"
    (dst / "d0" / "f0.txt").write_text("edited again on the target")
    os.rename(os.fsencode(dst) + b"/d1/sub\xff/f\xfe.bin", os.fsencode(dst) + b"/d1/sub\xff/g\xfe")
    r = FileSyncService(library).sync(cid)
    assert r.status == "completed" and r.verified and not r.errors and loads == []
    assert r.moved == 1 and os.listdir(raw_dir) == [b"g\xfe"]
    assert (src / "d0" / "f0.txt").read_text() == "edited again on the target"


def test_a_journal_grown_too_long_is_dropped_and_the_next_run_plans_everything(
    library, tmp_path, monkeypatch
):
    src, dst, cid = _pair(library, tmp_path, "mirror", TREE)
    monkeypatch.setattr(journal, "MAX_ROWS", 3)
    for j in range(5):
        (src / "d2" / f"f{j}.txt").write_text(f"edited {j}")
    scan(library, get_conduit(library, cid).source_location_id)
    # The scan left 5 rows: over the cap, the journal and the conduit's position went.
    assert _rows(library, "SELECT count(*) FROM changes") == [(0,)]
    assert _rows(library, "SELECT clean_seq FROM conduits") == [(None,)]
    loads = count_snapshot_loads(monkeypatch)
    r = FileSyncService(library).sync(cid)
    assert r.copied == 5 and r.verified and loads  # planned everything, nothing missed
    assert read_tree(dst) == read_tree(src)
    assert _rows(library, "SELECT clean_seq IS NOT NULL FROM conduits") == [(1,)]


def test_removing_the_last_clean_conduit_stops_its_locations_journal(library, tmp_path):
    src, dst, cid = _pair(library, tmp_path, "mirror", TREE)
    (tmp_path / "backup").mkdir()
    other = add_conduit(library, src, tmp_path / "backup", "mirror")  # never run: not clean
    (src / "d1" / "f1.txt").write_text("edited")
    scan(library, get_conduit(library, cid).source_location_id)
    assert _rows(library, "SELECT count(*) FROM changes") == [(1,)]

    remove_conduit(library, cid)

    assert _rows(library, "SELECT count(*) FROM changes") == [(0,)]
    assert _rows(library, "SELECT journal FROM locations ORDER BY id") == [(0,), (0,), (0,)]
    (src / "d2" / "f2.txt").write_text("edited later")
    scan(library, other.source_location_id)
    assert _rows(library, "SELECT count(*) FROM changes") == [(0,)]  # no rows for nobody
    r = FileSyncService(library).sync(other.id)
    assert r.status == "completed" and r.verified
    assert read_tree(tmp_path / "backup") == read_tree(src)


def test_a_big_run_is_verified_by_rescanning_what_it_wrote_even_with_a_trusted_index(
    library, tmp_path, monkeypatch
):
    """With the watcher vouching for the index (the app's runs), a run that wrote to many
    folders still rescans its whole endpoint to verify: the watcher's dirty list is from
    before the run and does not cover what the run wrote."""
    src, dst, cid = _pair(library, tmp_path, "mirror", TREE)
    for rel in TREE:
        (src / rel).write_text(f"edited {rel}")
    (src / "top.txt").write_text("new at the top: the run writes to the endpoint's own folder")
    c = get_conduit(library, cid)
    scan(library, c.source_location_id)  # as the watcher's own rescans would have
    _after_execute(
        monkeypatch, lambda: (dst / "d2" / "f3.txt").write_text("changed behind the run's back")
    )
    svc = FileSyncService(library)
    svc.trusted_dirty = {c.source_location_id: set(), c.target_location_id: set()}
    r = svc.sync(cid, force=True)  # every file changed: the safety check would ask
    assert r.copied == len(TREE) + 1 and not r.verified
    assert any("still differing" in w for w in r.warnings)
