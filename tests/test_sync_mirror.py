"""Mirror sync end to end through the CLI on real folders (SPEC 3.1, 3.2, 3.6, 3.7)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.sync_helpers import read_tree, temp_files, versions_content, write_tree


@pytest.fixture
def pair(tmp_path: Path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    return src, dst


def _add(cli, src, dst, *extra: str) -> int:
    r = cli("conduit", "add", str(src), str(dst), "--mode", "mirror", *extra)
    assert r.code == 0, r.err
    return r.json["id"]


def test_initial_mirror_then_changes(cli, pair):
    src, dst = pair
    write_tree(src, {"a.txt": "A", "d/b.txt": "B", "d/e/c.txt": "C"})
    (src / "empty").mkdir()
    cid = _add(cli, src, dst)
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    rep = r.json
    assert rep["status"] == "completed" and rep["verified"] is True
    assert rep["copied"] == 3 and rep["bytes_transferred"] == 3
    assert {
        "conduit",
        "generation",
        "status",
        "copied",
        "deleted",
        "moved",
        "conflicts",
        "conflicts_resolved",
        "bytes_transferred",
        "errors",
        "verified",
    } <= set(rep)
    assert read_tree(dst) == read_tree(src)
    assert read_tree(dst)["empty"] == "<dir>"
    # mtimes are carried over
    assert os.stat(dst / "a.txt").st_mtime_ns == os.stat(src / "a.txt").st_mtime_ns

    # edit (same size, new mtime), add, delete
    (src / "a.txt").write_text("Z")
    os.utime(src / "a.txt", ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    write_tree(src, {"new.txt": "N"})
    (src / "d" / "b.txt").unlink()
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert (r.json["copied"], r.json["deleted"]) == (2, 1)
    assert read_tree(dst) == read_tree(src)
    # The overwritten and the deleted content are both kept in the target's versions.
    assert versions_content(dst) == ["A", "B"]
    # A second run has nothing to do.
    r = cli("sync", str(cid))
    assert r.code == 0 and (r.json["copied"], r.json["deleted"], r.json["moved"]) == (0, 0, 0)
    assert temp_files(dst) == [] and temp_files(src) == []


def test_stray_and_edited_target_files_are_replaced_but_kept(cli, pair):
    src, dst = pair
    write_tree(src, {"keep.txt": "source"})
    write_tree(dst, {"keep.txt": "target edit", "stray.txt": "stray"})
    cid = _add(cli, src, dst)
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert read_tree(dst) == {"keep.txt": "source"}
    assert versions_content(dst) == ["stray", "target edit"]


def test_dry_run_changes_nothing_and_lists_the_plan(cli, pair):
    src, dst = pair
    write_tree(src, {"a.txt": "A", "d/b.txt": "B"})
    write_tree(dst, {"old.txt": "O"})
    cid = _add(cli, src, dst)
    before = read_tree(dst)
    r = cli("sync", str(cid), "--dry-run")
    assert r.code == 0, r.err
    plan = r.json["plan"]
    assert {"action": "copy", "path": "a.txt"}.items() <= plan[
        [p["path"] for p in plan].index("a.txt")
    ].items()
    actions = {(p["action"], p["path"]) for p in plan}
    assert {("mkdir", "d"), ("copy", "d/b.txt"), ("delete", "old.txt")} <= actions
    assert read_tree(dst) == before
    assert versions_content(dst) == []
    assert cli("history", str(cid)).json["generations"] == []


def test_missing_source_root_is_refused(cli, pair, tmp_path):
    src, dst = pair
    write_tree(src, {f"f{i}.txt": str(i) for i in range(20)})
    cid = _add(cli, src, dst)
    assert cli("sync", str(cid)).code == 0
    src.rename(tmp_path / "unplugged")
    r = cli("sync", str(cid))
    assert r.code == 3 and r.json["status"] == "refused" and "offline" in r.json["reason"]
    assert len(read_tree(dst)) == 20


def test_replaced_source_root_is_refused(cli, pair, tmp_path):
    """An empty mount point at the source path must not look like 'delete everything'."""
    src, dst = pair
    write_tree(src, {f"f{i}.txt": str(i) for i in range(20)})
    cid = _add(cli, src, dst)
    assert cli("sync", str(cid)).code == 0
    src.rename(tmp_path / "unplugged")
    src.mkdir()
    r = cli("sync", str(cid))
    assert r.code == 3 and "replaced" in r.json["reason"]
    assert len(read_tree(dst)) == 20


def test_mass_delete_is_refused_then_forced(cli, pair):
    src, dst = pair
    write_tree(src, {f"f{i}.txt": str(i) for i in range(20)})
    cid = _add(cli, src, dst)
    assert cli("sync", str(cid)).code == 0
    for i in range(15):
        (src / f"f{i}.txt").unlink()
    r = cli("sync", str(cid))
    assert r.code == 3 and r.json["status"] == "refused"
    assert "15" in r.json["reason"] and "--force" in r.json["reason"]
    assert len(read_tree(dst)) == 20
    r = cli("sync", str(cid), "--force")
    assert r.code == 0 and r.json["deleted"] == 15
    assert read_tree(dst) == read_tree(src)
    assert len(versions_content(dst)) == 15


def test_every_file_changed_is_refused(cli, pair):
    src, dst = pair
    write_tree(src, {f"f{i}.txt": f"plain {i}" for i in range(12)})
    cid = _add(cli, src, dst)
    assert cli("sync", str(cid)).code == 0
    write_tree(src, {f"f{i}.txt": f"encrypted!! {i}" for i in range(12)})
    r = cli("sync", str(cid))
    assert r.code == 3 and "every file" in r.json["reason"]
    assert (dst / "f0.txt").read_text() == "plain 0"


def test_ignore_patterns_are_never_touched(cli, pair):
    src, dst = pair
    write_tree(src, {"a.txt": "A", "cache/x.bin": "X", "b.log": "L"})
    write_tree(dst, {"keep.log": "target-only ignored"})
    cid = _add(cli, src, dst, "--ignore", "*.log", "--ignore", "cache/")
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert read_tree(dst) == {"a.txt": "A", "keep.log": "target-only ignored"}


def test_a_deleted_folder_that_holds_ignored_items_is_kept_quietly(cli, pair):
    src, dst = pair
    write_tree(src, {"d/x.txt": "X"})
    cid = _add(cli, src, dst, "--ignore", "*.log")
    assert cli("sync", str(cid)).code == 0
    write_tree(dst, {"d/notes.log": "ignored, target only"})
    (src / "d" / "x.txt").unlink()
    (src / "d").rmdir()
    r = cli("sync", str(cid), "--force")
    # The folder stays (it holds an ignored file), and that is not a failure of the run.
    assert read_tree(dst) == {"d/notes.log": "ignored, target only"}
    assert r.code == 0 and not r.json["errors"] and r.json["verified"], r.json
    # Nor of any later run: it ends clean, and the next one has nothing to do.
    again = cli("sync", str(cid))
    assert again.code == 0 and again.json["verified"], again.json
    assert (again.json["copied"], again.json["deleted"]) == (0, 0)


def test_a_file_managers_junk_keeps_its_folder_without_failing_the_run(cli, pair):
    """A `.DS_Store` (built-in ignore) left in a target folder whose source folder went."""
    src, dst = pair
    write_tree(src, {"photos/2024/a.jpg": "A", "keep.txt": "K"})
    cid = _add(cli, src, dst)
    assert cli("sync", str(cid)).code == 0
    write_tree(dst, {"photos/2024/.DS_Store": "finder"})
    (src / "photos" / "2024" / "a.jpg").unlink()
    (src / "photos" / "2024").rmdir()
    (src / "photos").rmdir()
    r = cli("sync", str(cid), "--force")
    assert r.code == 0 and not r.json["errors"], r.json
    assert read_tree(dst) == {"photos/2024/.DS_Store": "finder", "keep.txt": "K"}
    assert versions_content(dst) == ["A"]


def test_folder_rename_is_applied_as_moves(cli, pair):
    src, dst = pair
    write_tree(src, {f"photos/2024/img{i}.jpg": f"image {i} " * 500 for i in range(30)})
    cid = _add(cli, src, dst)
    assert cli("sync", str(cid)).code == 0
    (src / "photos" / "2024").rename(src / "photos" / "holiday-2024")
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert r.json["moved"] == 30 and r.json["copied"] == 0
    assert r.json["bytes_transferred"] == 0
    assert read_tree(dst) == read_tree(src)


def test_symlinks_are_copied_as_links(cli, pair):
    src, dst = pair
    write_tree(src, {"real.txt": "R"})
    os.symlink("real.txt", src / "link.txt")
    os.symlink("/nonexistent/target", src / "dangling")
    os.symlink("..", src / "up")  # following it would recurse forever
    cid = _add(cli, src, dst)
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert os.readlink(dst / "link.txt") == "real.txt"
    assert os.readlink(dst / "dangling") == "/nonexistent/target"
    assert os.readlink(dst / "up") == ".."


def test_unknown_ids_and_bad_options(cli, pair):
    src, dst = pair
    for args in (
        ("sync", "99"),
        ("history", "99"),
        ("conflicts", "list", "99"),
        ("conflicts", "resolve", "99", "--keep", "source"),
        ("conduit", "pause", "99"),
        ("conduit", "edit", "99", "--name", "x"),
        ("conduit", "add", str(src), str(dst), "--mode", "mirror", "--schedule", "every day"),
        ("conduit", "add", str(src), str(src / "in"), "--mode", "mirror"),
        ("conduit", "add", str(src), str(src), "--mode", "mirror"),
        ("conduit", "add", str(src), str(dst), "--mode", "mirror", "--transfers", "0"),
        ("conduit", "add", str(src), str(dst), "--mode", "sideways"),
        ("sync",),
    ):
        r = cli(*args, as_json=False)
        assert r.code == 2, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert cli("conduit", "list").json["conduits"] == []


def test_conduit_list_edit_pause_resume_remove(cli, pair):
    src, dst = pair
    cid = _add(cli, src, dst, "--schedule", "interval:15m", "--name", "backup")
    c = cli("conduit", "list").json["conduits"][0]
    assert {
        "id",
        "name",
        "source",
        "target",
        "mode",
        "schedule",
        "conflict",
        "deletes",
        "paused",
        "last_sync",
        "last_status",
    } <= set(c)
    assert (c["name"], c["schedule"], c["mode"], c["deletes"]) == (
        "backup",
        "interval:15m",
        "mirror",
        "versioning",
    )
    assert c["source"] == str(src.resolve()) and c["target"] == str(dst.resolve())
    r = cli("conduit", "edit", str(cid), "--deletes", "trash", "--transfers", "2")
    assert r.code == 0 and r.json["deletes"] == "trash" and r.json["transfers"] == 2
    assert cli("conduit", "pause", str(cid)).json["paused"] is True
    r = cli("sync", str(cid))
    assert r.code == 3 and "paused" in r.json["reason"]
    assert cli("conduit", "resume", str(cid)).json["paused"] is False
    assert cli("sync", str(cid)).code == 0
    assert cli("history", str(cid)).json["generations"][0]["status"] == "completed"
    assert cli("conduit", "remove", str(cid)).code == 0
    assert cli("conduit", "list").json["conduits"] == []


def test_trash_and_permanent_deletion_handling(cli, pair, tmp_path):
    src, dst = pair
    write_tree(src, {"a.txt": "A", "b.txt": "B"})
    cid = _add(cli, src, dst, "--deletes", "trash")
    assert cli("sync", str(cid)).code == 0
    (src / "a.txt").unlink()
    assert cli("sync", str(cid)).code == 0
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    assert [p.read_text() for p in trash.iterdir()] == ["A"]
    assert cli("conduit", "edit", str(cid), "--deletes", "permanent").code == 0
    (src / "b.txt").unlink()
    assert cli("sync", str(cid)).code == 0
    assert read_tree(dst) == {}
    assert versions_content(dst) == [] and len(list(trash.iterdir())) == 1


def test_sync_all(cli, tmp_path):
    pairs = []
    for n in range(2):
        s, d = tmp_path / f"s{n}", tmp_path / f"d{n}"
        write_tree(s, {"f.txt": str(n)})
        d.mkdir()
        pairs.append((s, d))
        _add(cli, s, d)
    r = cli("sync", "--all")
    assert r.code == 0, r.err
    assert [x["status"] for x in r.json["results"]] == ["completed", "completed"]
    assert all(read_tree(d) == read_tree(s) for s, d in pairs)
