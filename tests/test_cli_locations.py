"""`spacesync location ...` end to end on real folders (SPEC section 4)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from spacesync_gui.engine.paths import marker_path
from tests.cli_helpers import run_subprocess


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(b"\0" * 1000)
    return root


def test_add_list_scan_remove(cli, tmp_path):
    root = _tree(tmp_path / "photos")
    r = cli("location", "add", str(root))
    assert r.code == 0, r.err
    loc = r.json
    assert loc["path"] == str(root.resolve())
    assert loc["files"] == 2 and loc["bytes"] == 1005
    assert marker_path(root).read_text().strip() == loc["uuid"]

    listed = cli("location", "list").json["locations"]
    assert [x["id"] for x in listed] == [loc["id"]]
    assert {"id", "path", "state", "files", "bytes", "last_scan"} <= set(listed[0])
    assert listed[0]["state"] == "online" and listed[0]["last_scan"]

    (root / "c.txt").write_text("new")
    (root / "a.txt").unlink()
    r = cli("location", "scan", str(loc["id"]))
    assert r.code == 0
    scan = r.json["locations"][0]["scan"]
    assert (scan["added"], scan["deleted"]) == (1, 1)
    # By path, too.
    assert cli("location", "scan", str(root)).code == 0

    r = cli("location", "remove", str(loc["id"]))
    assert r.code == 0
    assert cli("location", "list").json["locations"] == []
    assert (root / "c.txt").exists()  # files are never touched
    assert not marker_path(root).exists()


def _spy_quick_scans(monkeypatch) -> list[object]:
    """What each `location scan` got from the quick check (None: it fell back)."""
    from spacesync_gui.engine import quick_noop

    got: list[object] = []
    real = quick_noop.try_scan

    def spy(*a, **kw):  # type: ignore[no-untyped-def]
        got.append(real(*a, **kw))
        return got[-1]

    monkeypatch.setattr(quick_noop, "try_scan", spy)
    return got


def test_a_no_op_scan_is_proven_without_the_engine_and_reported_as_the_full_one(
    cli, tmp_path, monkeypatch
):
    from spacesync_gui.engine import quick_noop

    root = _tree(tmp_path / "w")
    (root / "link").symlink_to("a.txt")
    (root / "empty").mkdir()
    (root / "x.tmp").write_text("ignored")
    other = _tree(tmp_path / "v")
    assert cli("location", "add", str(root), "--ignore", "*.tmp").code == 0
    assert cli("location", "add", str(other)).code == 0
    real = quick_noop.try_scan
    monkeypatch.setattr(quick_noop, "try_scan", lambda *a: None)
    full = cli("location", "scan")  # the engine's own no-op scan of both
    monkeypatch.setattr(quick_noop, "try_scan", real)
    got = _spy_quick_scans(monkeypatch)

    quick = cli("location", "scan")
    one = cli("location", "scan", "1")

    assert full.code == quick.code == one.code == 0
    assert all(g.complete for g in got) and len(got) == 2  # proven both times
    before = full.json["locations"]
    after = quick.json["locations"]
    assert [x["last_scan"] > y["last_scan"] for x, y in zip(after, before, strict=True)] == [
        True,
        True,
    ]
    alone = one.json["locations"]
    for x in (*before, *after, *alone):
        del x["last_scan"]
    assert after == before and alone == before[:1]
    assert before[0]["scan"]["files_seen"] == 2 and before[0]["files"] == 2
    listed = {x["id"]: x["last_scan"] for x in cli("location", "list").json["locations"]}
    assert listed[1] > listed[2]  # recorded: location 1 was scanned last, alone

    assert cli("location", "scan", str(root)).code == 0 and got[-1].complete  # by path
    assert cli("location", "scan", str(tmp_path)).code == 2 and got[-1] is None  # not one


def test_a_scan_after_a_few_changes_rescans_just_their_folders_and_reports_the_whole(
    cli, tmp_path, monkeypatch
):
    from spacesync_gui.engine import locations, quick_noop

    roots = [_tree(tmp_path / "w"), _tree(tmp_path / "v")]
    for root in roots:
        (root / "deep" / "er").mkdir(parents=True)
        (root / "deep" / "er" / "c.txt").write_text("C")
        (root / "deep" / "d.txt").write_text("D")
        assert cli("location", "add", str(root)).code == 0
    for root in roots:  # the same changes in both
        (root / "sub" / "b.bin").write_bytes(b"\1" * 1000)  # sub's listing differs
        (root / "deep" / "er" / "new.txt").write_text("new")  # so does deep's (er's mtime)
    got = _spy_quick_scans(monkeypatch)
    subtrees: list[object] = []
    real_scan = locations.scan
    monkeypatch.setattr(
        locations,
        "scan",
        lambda lib, loc, sub=None, **kw: (
            subtrees.append((loc, sub)) or real_scan(lib, loc, sub, **kw)
        ),
    )

    quick = cli("location", "scan", "1")
    assert got[-1].changed == {1: ["deep", "sub"]} and not got[-1].complete
    assert sorted(subtrees) == [(1, "deep"), (1, "sub")]  # not the whole location
    spy = quick_noop.try_scan
    monkeypatch.setattr(quick_noop, "try_scan", lambda *a: None)
    full = cli("location", "scan", "2")  # the engine's whole scan
    assert subtrees[-1] == (2, None)
    monkeypatch.setattr(quick_noop, "try_scan", spy)

    assert quick.code == full.code == 0
    a, b = quick.json["locations"][0], full.json["locations"][0]
    assert a["scan"] == b["scan"] and a["files"] == b["files"] == 5
    assert (a["scan"]["added"], a["scan"]["files_hashed"], a["scan"]["files_seen"]) == (1, 2, 5)
    assert a["last_scan"] > 0 and a["scan_errors"] == 0
    # All indexed: the next scan is proven without the engine.
    assert cli("location", "scan").code == 0 and got[-1].complete


def test_ignore_patterns_apply(cli, tmp_path):
    root = _tree(tmp_path / "w")
    (root / "x.tmp").write_text("t")
    r = cli("location", "add", str(root), "--ignore", "*.tmp", "--ignore", "sub/")
    assert r.code == 0
    assert r.json["files"] == 1 and r.json["ignore"] == ["*.tmp", "sub/"]


def test_bad_input_is_one_line_exit_2_and_changes_nothing(cli, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    cases = [
        ("location", "add", str(tmp_path / "missing")),
        ("location", "add", str(f)),
        ("location", "add", str(tmp_path), "--ignore", ""),
        ("location", "scan", "42"),
        ("location", "remove", "42"),
    ]
    for args in cases:
        r = cli(*args, as_json=False)
        assert r.code == 2, args
        assert r.out == ""
        assert len(r.err.strip().splitlines()) == 1, r.err
        assert "Traceback" not in r.err
    assert cli("location", "list").json["locations"] == []
    assert not (tmp_path / ".spacesync").exists()


def test_nested_locations_are_refused(cli, tmp_path):
    root = _tree(tmp_path / "outer")
    assert cli("location", "add", str(root)).code == 0
    r = cli("location", "add", str(root / "sub"), as_json=False)
    assert r.code == 2 and "inside location" in r.err
    r = cli("location", "add", str(tmp_path), as_json=False)
    assert r.code == 2 and "contains location" in r.err


def test_offline_and_replaced_states(cli, tmp_path):
    root = _tree(tmp_path / "usb")
    loc = cli("location", "add", str(root)).json
    # The drive is unplugged: the root vanishes.
    moved = tmp_path / "elsewhere"
    root.rename(moved)
    r = cli("location", "scan", str(loc["id"]))
    assert r.code == 3
    assert cli("location", "list").json["locations"][0]["state"] == "offline"
    # An empty mount point appears at the same path: replaced, never "all deleted".
    root.mkdir()
    r = cli("location", "scan", str(loc["id"]))
    assert r.code == 3
    assert cli("location", "list").json["locations"][0]["state"] == "replaced"
    # The index still holds the files.
    assert cli("location", "list").json["locations"][0]["files"] == 2
    # The drive returns.
    root.rmdir()
    moved.rename(root)
    assert cli("location", "scan", str(loc["id"])).code == 0
    assert cli("location", "list").json["locations"][0]["state"] == "online"


def test_global_options_after_the_subcommand(tmp_path):
    data = tmp_path / "d"
    r = run_subprocess("location", "list", "--json", "--data-dir", str(data))
    assert r.code == 0 and r.out.strip() == '{"locations": []}'


def test_version_and_env_data_dir(tmp_path, monkeypatch):
    r = run_subprocess("--version")
    assert r.code == 0 and r.out.startswith("spacesync ")
    monkeypatch.setenv("SPACESYNC_DATA_DIR", str(tmp_path / "envdata"))
    r = run_subprocess("--json", "location", "list")
    assert r.code == 0
    assert (tmp_path / "envdata" / "library.sqlite").exists()


def test_corrupt_database_and_rebuild_keep_settings(cli, tmp_path, data_dir):
    root = _tree(tmp_path / "docs")
    loc = cli("location", "add", str(root), "--ignore", "*.log").json
    (data_dir / "library.sqlite").write_bytes(b"garbage" * 1000)
    for side in ("-wal", "-shm"):
        (data_dir / f"library.sqlite{side}").unlink(missing_ok=True)
    r = cli("location", "list", as_json=False)
    assert r.code == 2 and "library rebuild" in r.err and "Traceback" not in r.err
    r = cli("library", "rebuild")
    assert r.code == 0 and r.json["locations"] == 1
    listed = cli("location", "list").json["locations"]
    assert listed[0]["uuid"] == loc["uuid"] and listed[0]["ignore"] == ["*.log"]
    assert list(data_dir.glob("library.sqlite.damaged-*"))


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "f"
    blocker.write_text("x")
    r = run_subprocess("location", "list", data_dir=blocker / "sub")
    assert r.code == 2 and "not writable" in r.err and "Traceback" not in r.err


def test_database_file_check(tmp_path):
    # A library that another program locked for writing still reads (WAL).
    data = tmp_path / "d"
    assert run_subprocess("location", "list", data_dir=data).code == 0
    conn = sqlite3.connect(data / "library.sqlite")
    conn.execute("BEGIN IMMEDIATE")
    try:
        assert run_subprocess("--json", "location", "list", data_dir=data).code == 0
    finally:
        conn.rollback()
        conn.close()
    shutil.rmtree(data)
