"""Bidirectional sync end to end through the CLI: the change matrix under every strategy,
conflicts (ask -> exit 4 -> list -> resolve), keep-both names (SPEC 3.3 - 3.5)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.sync_helpers import read_tree, versions_content, write_tree

STRATEGIES = ["ask", "newest", "source", "target", "largest", "keep-both"]


def _setup(cli, tmp_path: Path, strategy: str, files: dict[str, str]):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, files)
    dst.mkdir()
    r = cli("conduit", "add", str(src), str(dst), "--mode", "bidirectional", "--conflict", strategy)
    assert r.code == 0, r.err
    cid = r.json["id"]
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert read_tree(src) == read_tree(dst) == files
    return src, dst, cid


def _set(path: Path, text: str, mtime_s: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_change_matrix(cli, tmp_path, strategy):
    base = {
        f"{n}.txt": "base"
        for n in (
            "chg_s",
            "chg_t",
            "del_s",
            "del_t",
            "both_same",
            "both_diff",
            "chg_s_del_t",
            "del_s_chg_t",
            "del_both",
            "untouched",
        )
    }
    src, dst, cid = _setup(cli, tmp_path, strategy, base)
    t0 = 1_800_000_000
    _set(src / "new_s.txt", "new on source")
    _set(dst / "new_t.txt", "new on target")
    _set(src / "chg_s.txt", "changed on source")
    _set(dst / "chg_t.txt", "changed on target")
    (src / "del_s.txt").unlink()
    (dst / "del_t.txt").unlink()
    _set(src / "both_same.txt", "same edit")
    _set(dst / "both_same.txt", "same edit")
    # source: older and shorter; target: newer and longer
    _set(src / "both_diff.txt", "src edit", t0)
    _set(dst / "both_diff.txt", "target's longer edit", t0 + 100)
    _set(src / "chg_s_del_t.txt", "modified, deleted on target")
    (dst / "chg_s_del_t.txt").unlink()
    (src / "del_s_chg_t.txt").unlink()
    _set(dst / "del_s_chg_t.txt", "modified, deleted on source")
    (src / "del_both.txt").unlink()
    (dst / "del_both.txt").unlink()

    r = cli("sync", str(cid))
    rep = r.json
    expected = {
        "new_s.txt": "new on source",
        "new_t.txt": "new on target",
        "chg_s.txt": "changed on source",
        "chg_t.txt": "changed on target",
        "both_same.txt": "same edit",
        "chg_s_del_t.txt": "modified, deleted on target",
        "del_s_chg_t.txt": "modified, deleted on source",
        "untouched.txt": "base",
    }
    s_tree, t_tree = read_tree(src), read_tree(dst)
    for path, content in expected.items():
        assert s_tree.get(path) == content, (path, s_tree.get(path))
        assert t_tree.get(path) == content, (path, t_tree.get(path))
    for gone in ("del_s.txt", "del_t.txt", "del_both.txt"):
        assert gone not in s_tree and gone not in t_tree
    # The modify/delete pairs were settled (modified wins) under every strategy.
    assert rep["conflicts_resolved"] >= 2

    if strategy == "ask":
        assert r.code == 4 and rep["conflicts"] == 1
        assert s_tree["both_diff.txt"] == "src edit"
        assert t_tree["both_diff.txt"] == "target's longer edit"
        listed = cli("conflicts", "list", str(cid)).json["conflicts"]
        assert [(c["path"], c["kind"]) for c in listed] == [("both_diff.txt", "both-modified")]
        c = listed[0]
        assert {"id", "conduit", "path", "kind", "source", "target"} <= set(c)
        assert c["source"]["size"] == len("src edit") and c["target"]["hash"]
        r = cli("conflicts", "resolve", str(c["id"]), "--keep", "source")
        assert r.code == 0, r.err
        assert (dst / "both_diff.txt").read_text() == "src edit"
        assert "target's longer edit" in versions_content(dst)
        assert cli("conflicts", "list", str(cid)).json["conflicts"] == []
    else:
        assert r.code == 0, r.err
        assert rep["conflicts"] == 0
        winner = {
            "newest": "target's longer edit",
            "source": "src edit",
            "target": "target's longer edit",
            "largest": "target's longer edit",
            "keep-both": "src edit",
        }[strategy]
        assert s_tree["both_diff.txt"] == t_tree["both_diff.txt"] == winner
        if strategy == "keep-both":
            copies = [p for p in s_tree if p.startswith("both_diff (conflict ")]
            assert len(copies) == 1
            assert re.fullmatch(r"both_diff \(conflict \d{4}-\d\d-\d\d \d{6} .+\)\.txt", copies[0])
            assert s_tree[copies[0]] == t_tree[copies[0]] == "target's longer edit"
        else:
            loser = "src edit" if winner != "src edit" else "target's longer edit"
            kept = versions_content(src) + versions_content(dst)
            assert loser in kept
    # Deleted files stay deleted and nothing else changes on the next runs.
    for _ in range(2):
        r = cli("sync", str(cid))
        assert r.json["copied"] == r.json["deleted"] == r.json["moved"] == 0
    assert read_tree(src) == read_tree(dst)


def test_first_sync_is_a_union_and_differences_are_conflicts(cli, tmp_path):
    src, dst = tmp_path / "s", tmp_path / "t"
    write_tree(src, {"only_s.txt": "S", "same.txt": "X", "diff.txt": "from s"})
    write_tree(dst, {"only_t.txt": "T", "same.txt": "X", "diff.txt": "from t"})
    cid = cli("conduit", "add", str(src), str(dst), "--mode", "bidirectional").json["id"]
    r = cli("sync", str(cid))
    assert r.code == 4 and r.json["conflicts"] == 1
    for root in (src, dst):
        tree = read_tree(root)
        assert tree["only_s.txt"] == "S" and tree["only_t.txt"] == "T"
    (conflict,) = cli("conflicts", "list").json["conflicts"]
    r = cli("conflicts", "resolve", str(conflict["id"]), "--keep", "both")
    assert r.code == 0, r.err
    s_tree = read_tree(src)
    assert s_tree == read_tree(dst)
    assert s_tree["diff.txt"] == "from s"
    assert sorted(v for k, v in s_tree.items() if k.startswith("diff (conflict")) == ["from t"]
    assert cli("sync", str(cid)).code == 0


def test_type_change_conflict_on_a_folder_is_one_conflict(cli, tmp_path):
    src, dst, cid = _setup(cli, tmp_path, "ask", {"thing/a.txt": "a", "thing/b.txt": "b"})
    for p in (src / "thing").iterdir():
        p.unlink()
    (src / "thing").rmdir()
    (src / "thing").write_text("now a file")
    (dst / "thing" / "a.txt").write_text("edited inside the folder")
    r = cli("sync", str(cid))
    assert r.code == 4
    conflicts = cli("conflicts", "list").json["conflicts"]
    assert [c["path"] for c in conflicts] == ["thing"]
    assert (dst / "thing" / "a.txt").read_text() == "edited inside the folder"
    r = cli("conflicts", "resolve", str(conflicts[0]["id"]), "--keep", "source")
    assert r.code == 0, r.err
    assert (dst / "thing").read_text() == "now a file"
    # The folder that lost is kept in the versions store, contents included.
    assert "edited inside the folder" in versions_content(dst)
    assert cli("sync", str(cid)).code == 0


def test_renames_on_either_side_are_moves(cli, tmp_path):
    files = {f"docs/f{i}.txt": f"document {i} " * 200 for i in range(12)}
    src, dst, cid = _setup(cli, tmp_path, "ask", files)
    (dst / "docs").rename(dst / "papers")
    r = cli("sync", str(cid))
    assert r.code == 0, r.err
    assert r.json["moved"] == 12 and r.json["bytes_transferred"] == 0
    assert read_tree(src) == read_tree(dst)
    assert "papers/f0.txt" in read_tree(src)


def test_resolving_twice_or_unknown_is_bad_input(cli, tmp_path):
    src, dst, cid = _setup(cli, tmp_path, "ask", {"f.txt": "base"})
    _set(src / "f.txt", "s")
    _set(dst / "f.txt", "t!")
    assert cli("sync", str(cid)).code == 4
    (c,) = cli("conflicts", "list").json["conflicts"]
    assert cli("conflicts", "resolve", str(c["id"]), "--keep", "target").code == 0
    assert (src / "f.txt").read_text() == "t!"
    r = cli("conflicts", "resolve", str(c["id"]), "--keep", "target", as_json=False)
    assert r.code == 2 and "already resolved" in r.err
