"""A location's own ignore patterns (`location add --ignore`) bind every conduit through it:
what one side's location does not index is neither synced into it nor, being absent from
its index, taken for deleted there. End to end through the CLI, real folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacesync_gui.engine.locations import set_ignore
from tests.sync_helpers import read_tree, versions_content, write_tree


def _conduit(cli, src: Path, dst: Path, mode: str) -> int:
    r = cli("conduit", "add", str(src), str(dst), "--mode", mode)
    assert r.code == 0, r.err
    return r.json["id"]


def _clean_runs(cli, cid: int, times: int = 3) -> None:
    for _ in range(times):
        r = cli("sync", str(cid))
        assert r.code == 0 and r.json["status"] == "completed", r.json
        assert not r.json["errors"] and r.json["verified"], r.json


@pytest.mark.parametrize("mode", ["mirror", "bidirectional"])
def test_items_either_location_ignores_stay_where_they_are(cli, tmp_path, mode):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"a.txt": "A", "s.tmp": "source scratch", "b.bak": "source backup"})
    write_tree(dst, {"x.tmp": "the target's own scratch"})
    for root, pattern in ((src, "*.tmp"), (dst, "*.bak")):
        r = cli("location", "add", str(root), "--ignore", pattern)
        assert r.code == 0, r.err
    cid = _conduit(cli, src, dst, mode)

    _clean_runs(cli, cid)

    # *.tmp: the source does not index it, so the target's is not "deleted on the source"
    # (a mirror kept deleting it into the versions store; a bidirectional run copied it
    # over, then deleted it from the target on the next run). *.bak: the target does not
    # index it, so copying it there every run would meet "something appeared there".
    assert read_tree(src) == {"a.txt": "A", "s.tmp": "source scratch", "b.bak": "source backup"}
    assert read_tree(dst) == {"a.txt": "A", "x.tmp": "the target's own scratch"}
    assert versions_content(src) == versions_content(dst) == []


def test_an_endpoint_inside_a_location_honours_its_anchored_patterns(cli, tmp_path):
    """The location's patterns are relative to its root, not to the conduit's endpoint."""
    loc, dst = tmp_path / "home", tmp_path / "backup"
    write_tree(loc, {"docs/a.txt": "A", "docs/private/diary.txt": "secret"})
    write_tree(dst, {"private/mine.txt": "the backup's own"})
    r = cli("location", "add", str(loc), "--ignore", "/docs/private/")
    assert r.code == 0, r.err
    cid = _conduit(cli, loc / "docs", dst, "mirror")

    _clean_runs(cli, cid)

    assert read_tree(dst) == {"a.txt": "A", "private/mine.txt": "the backup's own"}
    assert versions_content(dst) == []


def test_a_conduit_into_a_folder_its_location_ignores_is_refused(cli, tmp_path):
    """Such a conduit would sync nothing, every time, and report success."""
    loc, dst = tmp_path / "home", tmp_path / "backup"
    write_tree(loc, {"build/out/x.bin": "B", "src/a.txt": "A"})
    dst.mkdir()
    assert cli("location", "add", str(loc), "--ignore", "build/").code == 0
    for endpoint in (loc / "build", loc / "build" / "out"):
        for args in ((endpoint, dst), (dst, endpoint)):
            r = cli("conduit", "add", *map(str, args), "--mode", "mirror")
            assert r.code == 2 and "leave it out: it would never be synced" in r.json["error"]
            assert str(endpoint) in r.json["error"] and "'build/'" in r.json["error"]
    # Nothing changed: no conduit, and no location made for the other folder either.
    assert cli("conduit", "list").json["conduits"] == []
    assert [x["path"] for x in cli("location", "list").json["locations"]] == [str(loc)]
    # A folder the patterns leave in is fine.
    r = cli("conduit", "add", str(loc / "src"), str(dst), "--mode", "mirror")
    assert r.code == 0, r.err
    assert cli("sync", str(r.json["id"])).code == 0
    assert read_tree(dst) == {"a.txt": "A"}


def test_a_conduit_whose_folder_its_location_came_to_ignore_is_refused(cli, library, tmp_path):
    """The location's patterns changed after the conduit was made (the engine's
    `set_ignore`): its runs are refused with the reason, not "completed, 0 copied"."""
    loc, dst = tmp_path / "home", tmp_path / "backup"
    write_tree(loc, {"work/a.txt": "A"})
    dst.mkdir()
    assert cli("location", "add", str(loc)).code == 0
    cid = _conduit(cli, loc / "work", dst, "mirror")
    _clean_runs(cli, cid, times=1)  # its clean token must not vouch for what follows
    set_ignore(library, 1, ["work/"])
    r = cli("sync", str(cid))
    assert r.code == 3 and r.json["status"] == "refused", r.json
    assert "leave it out: it would never be synced" in r.json["reason"]
    assert read_tree(dst) == {"a.txt": "A"} and versions_content(dst) == []
