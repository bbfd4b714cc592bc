"""The quick no-op (engine/quick_noop.py): a clean conduit whose folders did not change is
proven in sync without loading the engine, and recorded exactly as the full no-op is;
anything it cannot prove is left to the full sync, with nothing changed."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spacesync_gui.engine import quick_noop, scan_split
from spacesync_gui.engine.conduits import add_conduit, edit_conduit, get_conduit, set_paused
from spacesync_gui.engine.library_file import SCHEMA_VERSION
from spacesync_gui.engine.listing import changed_folders, digest, digest_seed, list_dir
from spacesync_gui.engine.locations import set_ignore
from spacesync_gui.engine.rules import IgnoreRules
from spacesync_gui.engine.runlock import conduit_lock
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import read_tree, versions_content, write_tree

TREE = {
    "a.txt": "A",
    "d/b.txt": "B",
    "d/e/c.txt": "C",
    "d/e/f/deep.txt": "D",
    "build/out.o": "O",
    "é/ü.txt": "U",
}
# Columns whose values are times of day: compared as "set or not".
TIMES = {"started_at", "finished_at", "last_sync", "last_scan", "indexed_at", "created_at", "at"}


def synced(library, tmp_path: Path, mode: str):
    """A conduit of TREE into an empty folder, synced once: (id, source, target)."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    write_tree(src, TREE)
    c = add_conduit(library, src, dst, mode)
    assert FileSyncService(library).sync(c.id).copied == len(TREE)
    return c.id, src, dst


@pytest.fixture(params=["forked", "one process"])
def clean(request, library, tmp_path: Path, monkeypatch):
    """A mirror conduit synced clean twice; the quick check forks or not."""
    monkeypatch.setattr(quick_noop, "can_fork", lambda: request.param == "forked")
    cid, src, dst = synced(library, tmp_path, "mirror")
    assert FileSyncService(library).sync(cid).copied == 0
    return library, cid, src, dst


def dump(lib) -> dict[str, list[tuple]]:
    """Every row of the library, times reduced to whether they are set."""
    db = sqlite3.connect(lib.db_path)
    try:
        out = {}
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in sorted(tables):
            cur = db.execute(f"SELECT * FROM {t} ORDER BY rowid")  # noqa: S608
            cols = [d[0] for d in cur.description]
            out[t] = [
                tuple((v is not None) if c in TIMES else v for c, v in zip(cols, row, strict=True))
                for row in cur
            ]
        return out
    finally:
        db.close()


def last_scans(lib) -> list[float]:
    """When each location was last scanned (`spacesync location list` shows it)."""
    db = sqlite3.connect(lib.db_path)
    try:
        return [t for (t,) in db.execute("SELECT last_scan FROM locations ORDER BY id")]
    finally:
        db.close()


def child_pids() -> set[str]:
    """This process's children, reaped or not (a zombie is still listed)."""
    return {
        pid
        for task in Path("/proc/self/task").iterdir()
        for pid in (task / "children").read_text().split()
    }


def quick(lib, cid: int):
    """The recorded report of a proven no-op, or None."""
    return quick_noop.try_sync(lib.data_dir, cid).report


def test_records_exactly_what_the_full_no_op_records(clean):
    lib, cid, src, dst = clean
    FileSyncService(lib).sync(cid)
    after_full = dump(lib)
    scanned = last_scans(lib)
    time.sleep(0.01)
    report = quick(lib, cid)
    assert report is not None
    assert report.status == "completed" and report.verified and report.copied == 0
    after_quick = dump(lib)
    # One more generation, the same as the full no-op's apart from its id.
    gens_full, gens_quick = after_full.pop("generations"), after_quick.pop("generations")
    assert len(gens_quick) == len(gens_full) + 1
    assert report.generation == gens_quick[-1][0]
    assert gens_quick[-1][1:] == gens_full[-1][1:]
    assert after_quick == after_full  # conduit, locations, entries, journal: as the full path
    assert all(now > then for now, then in zip(last_scans(lib), scanned, strict=True))
    assert read_tree(dst) == read_tree(src)


@pytest.mark.parametrize(
    "change",
    [
        "edit on the source",
        "edit on the target",
        "new mtime on the target",
        "new file deep on the target",
        "file deleted on the source",
        "rename on the target",
        "new empty folder on the source",
        "mode changed on the target",
        "folder deleted on the source",
        "folder renamed on the source",
    ],
)
def test_any_change_is_left_to_the_full_sync(clean, change, cli):
    lib, cid, src, dst = clean
    {
        "edit on the source": lambda: (src / "d/e/c.txt").write_text("C2"),
        "edit on the target": lambda: (dst / "a.txt").write_text("A2"),
        "new mtime on the target": lambda: os.utime(dst / "d/e/f/deep.txt", ns=(0, 10**18)),
        "new file deep on the target": lambda: (dst / "d/e/f/new.txt").write_text("N"),
        "file deleted on the source": lambda: (src / "é/ü.txt").unlink(),
        "rename on the target": lambda: (dst / "d/b.txt").rename(dst / "d/b2.txt"),
        "new empty folder on the source": lambda: (src / "d/e/empty").mkdir(),
        "mode changed on the target": lambda: (dst / "a.txt").chmod(0o600),
        "folder deleted on the source": lambda: shutil.rmtree(src / "d/e"),
        "folder renamed on the source": lambda: (src / "d/e").rename(src / "d/e2"),
    }[change]()
    before, children = dump(lib), child_pids()
    outcome = quick_noop.try_sync(lib.data_dir, cid)
    assert outcome.report is None
    assert outcome.changed and any(outcome.changed.values())  # the folders to rescan
    assert dump(lib) == before  # nothing recorded, nothing changed
    assert child_pids() == children  # the walk in the child, if any, ended and was reaped
    r = cli("sync", str(cid))  # the command: the full sync does the work
    assert r.code == 0 and r.json["status"] == "completed" and r.json["verified"]
    assert read_tree(dst) == read_tree(src)
    # The run's own writes cleared the digests of the folders it wrote in (and of their
    # parents); it rescanned them at its end (digest_rescan.py): the next sync is quick.
    assert quick(lib, cid) is not None


def test_after_a_bidirectional_run_with_changes_on_both_sides_the_next_sync_is_quick(
    library, tmp_path: Path
):
    cid, src, dst = synced(library, tmp_path, "bidirectional")
    (src / "d/e/c.txt").write_text("C2")
    (dst / "d/e/f/new.txt").write_text("N")
    (dst / "d/b.txt").rename(dst / "d/b2.txt")
    r = FileSyncService(library).sync(cid)
    assert r.status == "completed" and r.verified and (r.copied, r.moved) == (2, 1)
    assert read_tree(dst) == read_tree(src)
    assert quick(library, cid) is not None


def test_what_it_cannot_vouch_for_is_left_to_the_full_sync(clean, cli):
    lib, cid, src, dst = clean
    before = dump(lib)
    with conduit_lock(lib.data_dir, cid):  # another run holds the conduit
        assert quick(lib, cid) is None
        r = cli("sync", str(cid))
        assert r.code == 3 and "already being synced" in r.json["reason"]
    set_paused(lib, cid, True)
    assert quick(lib, cid) is None
    r = cli("sync", str(cid))
    assert r.code == 3 and "paused" in r.json["reason"]
    set_paused(lib, cid, False)
    dst.rename(dst.with_name("unplugged"))  # the target drive is gone
    assert quick(lib, cid) is None
    r = cli("sync", str(cid))
    assert r.code == 3 and "offline" in r.json["reason"]
    dst.with_name("unplugged").rename(dst)
    edit_conduit(lib, cid, ignore=["*.o"])  # settings that shape the plan
    assert quick(lib, cid) is None
    assert cli("sync", str(cid)).code == 0
    assert quick(lib, cid) is not None
    after = dump(lib)
    assert after["entries"] == before["entries"]


def test_a_library_to_migrate_or_a_busy_one_is_left_to_the_full_sync(clean, monkeypatch):
    lib, cid, src, dst = clean
    db = sqlite3.connect(lib.db_path)
    version = "UPDATE meta SET value = ? WHERE key = 'schema_version'"
    db.execute(version, (str(SCHEMA_VERSION - 1),))
    db.commit()
    assert quick(lib, cid) is None
    db.execute(version, (str(SCHEMA_VERSION),))
    db.commit()
    before = dump(lib)
    monkeypatch.setattr(quick_noop, "BUSY_TIMEOUT_S", 0.2)
    db.execute("BEGIN IMMEDIATE")  # a writer that does not finish within the busy timeout
    try:
        assert quick(lib, cid) is None
    finally:
        db.rollback()
        db.close()
    assert dump(lib) == before
    assert quick(lib, cid) is not None


def test_changes_below_ignored_folders_are_ignored_like_the_full_scan_does(clean):
    lib, cid, src, dst = clean
    c_src = FileSyncService(lib)
    loc = get_conduit(lib, cid).source_location_id
    set_ignore(lib, loc, ["build/"])
    assert c_src.sync(cid).status == "completed"  # the rescan with the new rules
    c_src.sync(cid)
    (src / "build" / "out.o").write_text("rebuilt")  # inside: not even looked at
    assert quick(lib, cid) is not None
    (src / "build" / "more.o").write_text("more")  # the folder's own mtime moves
    assert quick(lib, cid) is None
    r = c_src.sync(cid)
    assert r.copied == 0 and r.verified  # the full path agrees: nothing to do
    assert quick(lib, cid) is not None


def test_version_retention_still_applies(clean):
    lib, cid, src, dst = clean
    svc = FileSyncService(lib)
    for text in ("x1", "x2", "x3"):  # each sync keeps the target's old content
        (dst / "a.txt").write_text(f"edited on target {text}")
        svc.sync(cid)
    svc.sync(cid)
    assert len(versions_content(dst)) == 3
    edit_conduit(lib, cid, keep_versions_count=1)
    assert quick(lib, cid) is not None
    assert versions_content(dst) == ["edited on target x3"]


def test_a_fresh_cli_process_proves_a_no_op_without_loading_the_engine(clean):
    lib, cid, src, dst = clean
    code = (
        "import sys; from spacesync_gui.cli import main;"
        f" rc = main(['--data-dir', {str(lib.data_dir)!r}, '--json', 'sync', '{cid}']);"
        " print(sorted(m for m in ('sqlalchemy', 'spacesync_gui.engine.service')"
        " if m in sys.modules), file=sys.stderr); sys.exit(rc)"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "completed" and out["verified"] and out["copied"] == 0
    assert p.stderr.strip() == "[]"
    (dst / "a.txt").write_text("changed")
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 0 and json.loads(p.stdout)["copied"] == 1
    assert "sqlalchemy" in p.stderr  # a change: the full sync ran
    assert read_tree(dst) == read_tree(src)


def test_sync_all_proves_each_clean_conduit_and_runs_the_rest(clean, tmp_path: Path):
    lib, cid, src, dst = clean
    other_src, other_dst, paused_dst = (tmp_path / n for n in ("src2", "dst2", "dst3"))
    for d in (other_src, other_dst, paused_dst):
        d.mkdir()
    write_tree(other_src, {"x.txt": "X"})
    other = add_conduit(lib, other_src, other_dst, "mirror").id
    paused = add_conduit(lib, other_src, paused_dst, "mirror").id
    set_paused(lib, paused, True)
    svc = FileSyncService(lib)
    svc.sync(other)
    svc.sync(other)
    code = (
        "import sys; from spacesync_gui.cli import main;"
        f" rc = main(['--data-dir', {str(lib.data_dir)!r}, '--json', 'sync', '--all']);"
        " print('sqlalchemy' in sys.modules, file=sys.stderr); sys.exit(rc)"
    )

    def sync_all() -> tuple[dict, bool]:
        p = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout), p.stderr.strip().endswith("True")

    out, engine_loaded = sync_all()
    assert [r["conduit"] for r in out["results"]] == [cid, other]  # not the paused one
    assert out["status"] == "completed" and all(r["verified"] for r in out["results"])
    assert not engine_loaded
    (other_src / "y.txt").write_text("Y")
    out, engine_loaded = sync_all()
    assert [(r["conduit"], r["copied"]) for r in out["results"]] == [(cid, 0), (other, 1)]
    assert engine_loaded and read_tree(other_dst) == read_tree(other_src)
    assert not paused_dst.joinpath("x.txt").exists()
    gens = dump(lib)["generations"]
    assert sum(1 for g in gens if g[1] == cid) == 4  # two by the fixture, one per sync --all


def test_an_endpoint_inside_a_location_is_proven_on_its_subtree(library, tmp_path: Path):
    top, whole_dst, sub_dst = tmp_path / "top", tmp_path / "all", tmp_path / "part"
    for d in (top, whole_dst, sub_dst):
        d.mkdir()
    write_tree(top, {"outside.txt": "O", "sub/in.txt": "I", "sub/deeper/d.txt": "D"})
    whole = add_conduit(library, top, whole_dst, "mirror")
    part = add_conduit(library, top / "sub", sub_dst, "mirror")
    assert part.source_prefix == "sub"  # the same location as `whole`, a subtree of it
    svc = FileSyncService(library)
    for cid in (whole.id, part.id, whole.id, part.id):
        svc.sync(cid)
    after_full = dump(library)
    report = quick(library, part.id)
    assert report is not None and report.verified
    after_quick = dump(library)
    gens_full, gens_quick = after_full.pop("generations"), after_quick.pop("generations")
    assert gens_quick[-1][1:] == gens_full[-1][1:] and after_quick == after_full
    (top / "outside.txt").write_text("changed outside the endpoint")
    assert quick(library, part.id) is not None  # not part of this conduit
    assert quick(library, whole.id) is None
    (top / "sub" / "deeper" / "d.txt").write_text("changed inside")
    assert quick(library, part.id) is None
    assert svc.sync(part.id).copied == 1
    assert read_tree(sub_dst) == read_tree(top / "sub")
    assert quick(library, part.id) is not None  # that run restored the digests it cleared
    os.utime(top / "sub", ns=(0, 10**18))  # the endpoint folder's own entry is stale
    assert quick(library, part.id) is None


def test_the_folders_the_quick_walk_found_changed_are_all_the_full_sync_rescans(
    clean, cli, monkeypatch
):
    lib, cid, src, dst = clean
    c = get_conduit(lib, cid)
    (src / "d/e/f/deep.txt").write_text("D2")  # its folder's listing changes, no other
    outcome = quick_noop.try_sync(lib.data_dir, cid)
    assert outcome.report is None
    assert outcome.changed == {c.source_location_id: {"d/e/f"}, c.target_location_id: set()}
    scans: list[tuple] = []
    real_scan = scan_split.scan

    def spy(lib, location_id, subtree=None, **kw):  # noqa: ANN001, ANN202
        scans.append((location_id, subtree))
        return real_scan(lib, location_id, subtree, **kw)

    monkeypatch.setattr(scan_split, "scan", spy)
    r = cli("sync", str(cid))
    assert r.json["copied"] == 1 and r.json["verified"]
    assert read_tree(dst) == read_tree(src)
    assert scans[0] == (c.source_location_id, "d/e/f")  # the refresh: that folder alone
    assert (c.source_location_id, None) not in scans


def test_too_many_changed_folders_mean_a_full_rescan(tmp_path: Path):
    root = tmp_path / "tree"
    write_tree(root, {"a/x": "1", "b/y": "2", "c/z": "3"})
    rules = IgnoreRules([])
    seed = digest_seed(rules)
    digests = {}
    for key in ("", "a", "b", "c"):
        listing, whole, _ = list_dir(str(root / key))
        assert whole
        digests[key] = digest(seed, listing)
    never = lambda: False  # noqa: E731
    assert changed_folders(str(root), digests, rules, never) == []
    (root / "a" / "x").write_text("11")
    (root / "b" / "y").write_text("22")
    assert sorted(changed_folders(str(root), digests, rules, never) or []) == ["a", "b"]
    assert changed_folders(str(root), digests, rules, never, limit=1) is None
    del digests["c"]  # a folder without a digest is not vouched for
    assert sorted(changed_folders(str(root), digests, rules, never) or []) == ["a", "b", "c"]


def test_a_change_that_arrives_as_the_run_ends_is_not_called_clean(clean, monkeypatch):
    from spacesync_gui.engine import digest_rescan

    lib, cid, src, dst = clean
    (src / "d/e/c.txt").write_text("C2")
    real = digest_rescan.rescan_written

    def late_edit(*a):  # type: ignore[no-untyped-def]
        (dst / "d/e/c.txt").write_text("edited on the target after the verify")
        real(*a)

    monkeypatch.setattr(digest_rescan, "rescan_written", late_edit)
    r = FileSyncService(lib).sync(cid)
    assert r.status == "completed" and r.copied == 1 and not r.verified
    assert any("arrived as the run ended" in w for w in r.warnings)
    assert quick(lib, cid) is None  # no clean token: the next sync plans again
    monkeypatch.setattr(digest_rescan, "rescan_written", real)
    again = FileSyncService(lib).sync(cid)
    assert again.copied == 1 and again.verified  # the mirror puts the source's back
    assert read_tree(dst) == read_tree(src)
