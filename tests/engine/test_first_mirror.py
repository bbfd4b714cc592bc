"""A mirror's first run into an empty folder copies while its workers walk the source
(first_mirror.py), then scans, plans and copies what is left as every run does.

Real library, real folders, real forks (`can_fork` forced: pytest may run threads of its
own; the CLI checks it for real). A run with the pass is compared with the same run the
usual way, on a second library and target: same files, same index, same base."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import tempfile
import unicodedata
from pathlib import Path

import pytest

from spacesync_gui.engine import (
    early_mirror,
    executor,
    first_mirror,
    first_walk,
    forked_copies,
    forked_scans,
    quick_noop,
    scan_split,
)
from spacesync_gui.engine.conduits import add_conduit, get_conduit
from spacesync_gui.engine.db import open_library
from spacesync_gui.engine.events import Progress
from spacesync_gui.engine.listing import digest, digest_seed, list_dir
from spacesync_gui.engine.locations import add_location, scan
from spacesync_gui.engine.results import RunReport
from spacesync_gui.engine.rules import IgnoreRules
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import read_tree, temp_files, write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")

FILES = 90


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[first_mirror.Done]:
    """Small thresholds, forks allowed; the passes that ran, as they ended."""
    monkeypatch.setattr(forked_copies, "FORK_MIN_FILES", 10)
    monkeypatch.setattr(forked_copies, "CHUNK_FILES", 16)
    for mod in (forked_copies, forked_scans):
        monkeypatch.setattr(mod, "can_fork", lambda: True)
    done: list[first_mirror.Done] = []
    real = first_mirror.run

    def run(*a, **kw):  # type: ignore[no-untyped-def]
        done.append(real(*a, **kw))
        return done[-1]

    monkeypatch.setattr(first_mirror, "run", run)
    return done


def _source(src: Path) -> None:
    write_tree(
        src,
        {
            **{f"d{i % 4}/sub{i % 3}/f{i}.txt": "x" * (i * 7 % 600) for i in range(FILES)},
            **{f"d{i % 4}/g{i}.txt": f"beside the subfolders {i}" for i in range(8)},
            "top.txt": "in the endpoint itself",
            "d1/sub1/deeper/leaf.txt": "three levels down",
        },
    )
    (src / "empty").mkdir()
    (src / "d1" / "big.bin").write_bytes(os.urandom(9 << 20))  # a large file: one of the others
    (src / "d2" / "link").symlink_to("sub0")
    (src / unicodedata.normalize("NFD", "café.txt")).write_text("its key is NFC")
    os.chmod(src / "d3" / "sub1", 0o750)
    os.chmod(src / "d0" / "g0.txt", 0o604)


def _rows(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """The index as a run leaves it, without what differs between two copies (inodes, ids,
    times of indexing)."""
    with sqlite3.connect(data_dir / "library.sqlite") as db:
        return {
            "entries": sorted(
                db.execute(
                    "SELECT location_id, path, raw, kind, size, mode, hash, link, "
                    "CASE WHEN kind = 'dir' THEN 0 ELSE mtime_ns END FROM entries"
                )
            ),
            "base": sorted(
                db.execute(
                    "SELECT path, kind, size, hash, link, "
                    "CASE WHEN kind = 'dir' THEN 0 ELSE mtime_ns END FROM base_entries"
                )
            ),
        }


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str | None]]]:
    """The scans runs ask for: (side name, subtrees as location keys; None: all of it)."""
    asked: list[tuple[str, list[str | None]]] = []
    real = scan_split.run_scans

    def run_scans(lib, jobs, *a, **kw):  # type: ignore[no-untyped-def]
        asked.extend((side.name, subtrees) for side, subtrees in jobs)
        return real(lib, jobs, *a, **kw)

    monkeypatch.setattr(scan_split, "run_scans", run_scans)
    return asked


def _edit_after_the_walk(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Have `path` edited once the workers have walked, before they copy."""
    real_go = first_walk.Worker.go

    def edit_then_go(self):  # type: ignore[no-untyped-def]
        path.write_text("edited after the walk, before the copy")
        real_go(self)

    monkeypatch.setattr(first_walk.Worker, "go", edit_then_go)


def _digests(data_dir: Path) -> dict[tuple[int, str], str]:
    """The folders' digests, by (location id, key; "" the location's root)."""
    with sqlite3.connect(data_dir / "library.sqlite") as db:
        rows = db.execute(
            "SELECT location_id, path, digest FROM entries WHERE digest IS NOT NULL "
            "UNION ALL SELECT id, '', root_digest FROM locations WHERE root_digest IS NOT NULL"
        )
        return {(loc, path): digest for loc, path, digest in rows}


def _listed(root: Path, key: str) -> str:
    """The digest a scan would store for the folder `key` of `root` as it is now."""
    listed = list_dir(str(root / key))
    assert listed is not None and listed[1]
    return digest(digest_seed(IgnoreRules()), listed[0])


def _plain(tmp_path: Path) -> Path:
    """A source of plain folders and files only: the pass indexes all of it."""
    src = tmp_path / "src"
    write_tree(src, {f"d{i % 5}/s{i % 2}/f{i}.txt": "y" * (i % 300) for i in range(FILES)})
    return src


def _mirror(tmp_path: Path, name: str, src: Path) -> tuple[Path, Path, int]:
    data, dst = tmp_path / f"data-{name}", tmp_path / f"dst-{name}"
    return data, dst, _conduit(data, src, dst)


def _conduit(data: Path, src: Path, dst: Path) -> int:
    """A new mirror from `src` into the new folder `dst`, in the library `data`."""
    dst.mkdir()
    lib = open_library(data)
    try:
        return add_conduit(lib, src, dst, "mirror").id
    finally:
        lib.close()


def _pass_and_usual(
    monkeypatch: pytest.MonkeyPatch, pass_: tuple[Path, int], usual: tuple[Path, int]
) -> tuple[RunReport, RunReport]:
    """The first run of the conduit `pass_` (library, id), then that of `usual` with the
    pass ruled out: both complete, verified, and copy as much."""
    r = _sync(*pass_)
    monkeypatch.setattr(first_mirror, "eligible", lambda *a: None)
    u = _sync(*usual)
    for report in (r, u):
        assert report.status == "completed" and report.verified and not report.errors
    assert (r.copied, r.bytes_transferred) == (u.copied, u.bytes_transferred)
    return r, u


def _sourced(tmp_path: Path, name: str) -> tuple[Path, Path, Path, int]:
    """The usual source tree (`_source`) and a new mirror of it: source, data dir, target,
    conduit id."""
    src = tmp_path / "src"
    _source(src)
    return (src, *_mirror(tmp_path, name, src))


def _sync(data: Path, cid: int, early=None, **kw):  # type: ignore[no-untyped-def]
    lib = open_library(data)
    try:
        service = FileSyncService(lib, fork_workers=True, **kw)
        service.early = early
        return service.sync(cid)
    finally:
        lib.close()


def _gone(started: first_walk.Started) -> bool:
    """Every worker has ended and been waited for (no process left behind)."""
    for w in started.workers:
        try:
            os.kill(w.pid, 0)
        except ProcessLookupError:
            continue
        return False
    return all(w.ended for w in started.workers)


def test_a_first_mirror_copies_as_it_walks_and_leaves_what_the_usual_way_leaves(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, data, dst, cid = _sourced(tmp_path, "pass")
    data2, dst2, cid2 = _mirror(tmp_path, "usual", src)
    vouched: dict[tuple[int, str], str] = {}
    listed: dict[tuple[int, str], str] = {}
    counted = first_mirror.run

    def run(*a, **kw):  # type: ignore[no-untyped-def]
        done = counted(*a, **kw)
        vouched.update(_digests(data))  # as the pass left them, before the run's scan
        listed.update({(loc, key): _listed(dst, key) for loc, key in vouched if loc == 2})
        return done

    monkeypatch.setattr(first_mirror, "run", run)

    _pass_and_usual(monkeypatch, (data, cid), (data2, cid2))
    assert len(passes) == 1 and passes[0].copied > FILES // 2
    # Links, the NFD name and the empty folder came with the run that followed.
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert os.readlink(dst / "d2" / "link") == "sub0"
    for rel in ("d3/sub1", "d0/g0.txt"):
        assert os.lstat(dst / rel).st_mode == os.lstat(src / rel).st_mode
    assert _rows(data) == _rows(data2)
    # The folders the pass indexed whole carry the digest a scan of them stores; of the
    # target, all but those the run after it wrote in.
    source = {k: d for k, d in vouched.items() if k[0] == 1}
    assert len(source) > 4
    assert {k: d for k, d in _digests(data2).items() if k in source} == source
    target = {k: d for k, d in vouched.items() if k[0] == 2}
    assert target == listed
    assert target.keys() >= {(2, k) for k in ("", "d0", "d0/sub0", "d1/sub1/deeper")}
    assert temp_files(dst) == []
    again = _sync(data, cid)
    assert (again.copied, again.deleted, again.errors, len(passes)) == (0, 0, [], 1)


def test_when_its_scan_finds_the_index_as_the_pass_left_it_nothing_is_loaded_again(
    tmp_path: Path,
    passes: list[first_mirror.Done],
    monkeypatch: pytest.MonkeyPatch,
    scanned: list[tuple[str, list[str | None]]],
) -> None:
    """Plain folders and files only: the pass indexed all of it (its walk is the source's
    scan) and vouched for all it placed (its listings of the target, the copies' verify),
    so nothing is scanned after it, and the run plans with what the pass kept instead of
    reading the index again."""
    src = _plain(tmp_path)
    data, dst, cid = _mirror(tmp_path, "plain", src)
    data2, dst2, cid2 = _mirror(tmp_path, "usual", src)
    loads: list[str] = []
    real_load = FileSyncService._load_all

    def load_all(self, sides):  # type: ignore[no-untyped-def]
        loads.append("loaded")
        real_load(self, sides)

    monkeypatch.setattr(FileSyncService, "_load_all", load_all)
    r = _sync(data, cid)
    assert r.status == "completed" and r.verified and not r.errors
    assert r.copied == FILES and passes[0].copied == FILES and loads == []
    assert passes[0].rescan == passes[0].rescan_target == [] and scanned == []
    monkeypatch.setattr(first_mirror, "eligible", lambda *a: None)
    usual = _sync(data2, cid2)
    assert usual.copied == FILES and loads == ["loaded"]
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert _rows(data) == _rows(data2)
    # Every folder of both sides carries its digest: the next sync in a new process is
    # proven a no-op without the engine.
    assert _digests(data).keys() == _digests(data2).keys()
    assert quick_noop.try_sync(data, cid).report is not None


def test_what_the_walk_could_not_index_is_scanned_alone(
    tmp_path: Path,
    passes: list[first_mirror.Done],
    monkeypatch: pytest.MonkeyPatch,
    scanned: list[tuple[str, list[str | None]]],
) -> None:
    """A link deep in the source and a file edited before its copy: the run's scan of the
    source covers just their folders, of the target just the folder whose copy failed;
    the rest is not scanned again. The walk counts as the source's scan: its old scan
    errors go, its last scan is set."""
    src = _plain(tmp_path)
    (src / "d1" / "s0" / "link").symlink_to("f1.txt")
    data, dst, cid = _mirror(tmp_path, "left", src)
    with sqlite3.connect(data / "library.sqlite") as db:  # from a scan before the user's fix
        db.execute(
            "INSERT INTO scan_errors (location_id, path, message, at) "
            "VALUES (1, 'd4', 'permission denied', 0)"
        )
    _edit_after_the_walk(monkeypatch, src / "d3" / "s1" / "f3.txt")
    r = _sync(data, cid)

    assert r.status == "completed" and r.verified and not r.errors
    assert passes[0].rescan == ["d1/s0", "d3/s1"]
    assert passes[0].rescan_target == ["d3/s1"]
    assert scanned == [("source", ["d1/s0", "d3/s1"]), ("target", ["d3/s1"])]
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert os.readlink(dst / "d1" / "s0" / "link") == "f1.txt"
    with sqlite3.connect(data / "library.sqlite") as db:
        assert db.execute("SELECT count(*) FROM scan_errors").fetchone() == (0,)
        assert db.execute("SELECT last_scan FROM locations WHERE id = 1").fetchone()[0]
    assert quick_noop.try_sync(data, cid).report is not None


def test_a_target_holding_anything_or_an_index_is_mirrored_the_usual_way(
    tmp_path: Path, passes: list[first_mirror.Done]
) -> None:
    src, data, dst, cid = _sourced(tmp_path, "full")
    (dst / "mine.txt").write_text("the user's")

    r = _sync(data, cid)

    assert r.status == "completed" and not passes
    assert (dst / "mine.txt").exists() is False  # a mirror: moved to the versions store
    (dst / "d0" / "g0.txt").unlink()
    again = _sync(data, cid)  # indexed now: the usual way too
    assert again.copied == 1 and not passes


def _scan_sides(data: Path, cid: int, defer_hashes: bool = False) -> None:
    """Both sides scanned before the conduit's first run, as `location add` scans a folder
    (`defer_hashes`: as a mirror's scan does, without reading new files)."""
    lib = open_library(data)
    try:
        c = get_conduit(lib, cid)
        for loc in (c.source_location_id, c.target_location_id):
            scan(lib, loc, defer_hashes=defer_hashes)
    finally:
        lib.close()


def _totals(data: Path) -> list[tuple[int, int, int]]:
    with sqlite3.connect(data / "library.sqlite") as db:
        return list(db.execute("SELECT id, files, bytes FROM locations ORDER BY id"))


@pytest.mark.parametrize("tree", ["plain", "mixed"])
def test_a_source_indexed_before_the_first_run_is_copied_by_the_pass(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch, tree: str
) -> None:
    """A folder indexed before a conduit from it runs (`location add` indexes it): with no
    other conduit on the source, the pass drops that index and walks the source as if it
    had none. Changes made after that scan (a file gone, a file new) are the walk's to
    see; the run ends as the usual way ends, index, totals and digests alike. (A plain
    tree: nothing is scanned after the pass, so a row the walk did not see would stay.)"""
    if tree == "plain":
        src = _plain(tmp_path)
        data, dst, cid = _mirror(tmp_path, "pass", src)
        gone, new = src / "d0" / "s0" / "f0.txt", src / "d1" / "s1" / "new.txt"
    else:
        src, data, dst, cid = _sourced(tmp_path, "pass")
        gone, new = src / "d0" / "g4.txt", src / "d2" / "sub1" / "new.txt"
    data2, dst2, cid2 = _mirror(tmp_path, "usual", src)
    _scan_sides(data, cid, tree == "mixed")
    _scan_sides(data2, cid2, tree == "mixed")
    gone.unlink()  # in the index, no longer on disk
    new.write_text("made after the scan")

    _pass_and_usual(monkeypatch, (data, cid), (data2, cid2))
    assert len(passes) == 1 and passes[0].copied > FILES // 2 - 1
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert not (dst / gone.relative_to(src)).exists()
    assert (dst / new.relative_to(src)).read_text() == "made after the scan"
    assert _rows(data) == _rows(data2)
    assert _digests(data).keys() == _digests(data2).keys()
    assert _totals(data) == _totals(data2)
    again = _sync(data, cid)
    assert (again.copied, again.deleted, again.errors, len(passes)) == (0, 0, [], 1)
    assert quick_noop.try_sync(data, cid).report is not None


def test_a_source_another_conduit_uses_keeps_its_index(
    tmp_path: Path, passes: list[first_mirror.Done]
) -> None:
    """The index of a source shared with another conduit is that conduit's too (its next
    run plans from it): a new mirror from it takes the usual way, and the other conduit
    finds nothing to do."""
    src, data, dst, cid = _sourced(tmp_path, "first")
    assert _sync(data, cid).status == "completed" and len(passes) == 1
    second = tmp_path / "second"
    cid2 = _conduit(data, src, second)
    before = _rows(data)["entries"]

    r = _sync(data, cid2)

    assert r.status == "completed" and r.verified and not r.errors and len(passes) == 1
    assert read_tree(second, all_dirs=True) == read_tree(src, all_dirs=True)
    source_rows = [row for row in before if row[0] == 1]
    assert [row for row in _rows(data)["entries"] if row[0] == 1] == source_rows
    again = _sync(data, cid)
    assert (again.copied, again.deleted, again.errors) == (0, 0, [])


@pytest.mark.parametrize(
    "setting",
    [{"bwlimit": 1e9}, {"ignore": ["*.log"]}],
    ids=["a bandwidth limit", "ignore rules"],
)
def test_what_the_workers_cannot_keep_to_is_mirrored_the_usual_way(
    tmp_path: Path, passes: list[first_mirror.Done], setting: dict[str, object]
) -> None:
    """A bandwidth limit is kept by the run's copy threads together, ignore rules by the
    scan and the plan: a first mirror with either takes the usual way."""
    src = tmp_path / "src"
    _source(src)
    (src / "d0" / "noise.log").write_text("left out by the rules")
    data, dst = tmp_path / "data", tmp_path / "dst"
    dst.mkdir()
    lib = open_library(data)
    try:
        cid = add_conduit(lib, src, dst, "mirror", **setting).id  # type: ignore[arg-type]
    finally:
        lib.close()

    r = _sync(data, cid)

    assert r.status == "completed" and r.verified and not r.errors and not passes
    assert (dst / "d0" / "noise.log").exists() == ("ignore" not in setting)


def test_a_pass_that_would_not_fit_is_refused_having_copied_nothing(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, data, dst, cid = _sourced(tmp_path, "tight")
    _scan_sides(data, cid)  # the pass would drop this index
    indexed = _rows(data)["entries"]
    seen: list[int] = []

    def no_room(side: str, need: int, folder: Path) -> str:
        seen.append(need)
        return f"not enough free space on the {side} side"

    monkeypatch.setattr(first_mirror, "free_space_problem", no_room)
    r = _sync(data, cid)

    assert r.status == "refused" and "not enough free space" in (r.reason or "")
    assert seen and seen[0] > 0
    assert [p.name for p in dst.iterdir()] in ([], [".spacesync"])
    assert read_tree(dst) == {}
    assert _rows(data) == {"entries": indexed, "base": []}


def test_a_file_changed_after_the_walk_arrives_as_it_is_now(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, data, dst, cid = _sourced(tmp_path, "edit")
    _edit_after_the_walk(monkeypatch, src / "d1" / "sub1" / "f1.txt")
    r = _sync(data, cid)

    assert r.status == "completed" and r.verified and not r.errors and passes
    assert (dst / "d1" / "sub1" / "f1.txt").read_text().startswith("edited after the walk")
    assert read_tree(dst) == read_tree(src)


@pytest.mark.parametrize("where", ["a folder a worker placed", "a folder made before"])
def test_what_appears_in_the_target_during_the_pass_is_not_vouched_for(
    tmp_path: Path,
    passes: list[first_mirror.Done],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """Someone else's file in a folder the pass made, just before the pass lists that
    folder (the copies' verify): the folder gets no digest, the run's scan finds the
    file, and the mirror moves it away (to the versions store), verified."""
    src = _plain(tmp_path)
    data, dst, cid = _mirror(tmp_path, "stray", src)
    if where == "a folder a worker placed":
        real_vouch = first_walk._Vouch.__call__

        def vouch(self, landed, made):  # type: ignore[no-untyped-def]  # in the workers
            key = self.dirs[self.places[made[0]]][0]
            (Path(self.dst) / key / "stray.txt").write_text("not the pass's")
            return real_vouch(self, landed, made)

        monkeypatch.setattr(first_walk._Vouch, "__call__", vouch)
    else:
        real_listed = first_mirror._vouch_listed

        def listed(side, keys, rescan):  # type: ignore[no-untyped-def]
            if side.name == "target":
                (dst / "d2" / "stray.txt").write_text("not the pass's")
            return real_listed(side, keys, rescan)

        monkeypatch.setattr(first_mirror, "_vouch_listed", listed)
    strays: list[str] = []
    counted = first_mirror.run

    def run(*a, **kw):  # type: ignore[no-untyped-def]
        done = counted(*a, **kw)
        strays.extend(str(p.parent.relative_to(dst)) for p in dst.rglob("stray.txt"))
        return done

    monkeypatch.setattr(first_mirror, "run", run)
    r = _sync(data, cid)

    assert r.status == "completed" and r.verified and not r.errors
    assert strays and set(strays) <= set(passes[0].rescan_target or ())
    assert r.deleted == len(strays)
    for folder in strays:
        assert not (dst / folder / "stray.txt").exists()
        assert list((dst / ".spacesync" / "versions").glob(f"*/{folder}/stray.txt"))
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert quick_noop.try_sync(data, cid).report is not None


@pytest.mark.parametrize("indexed", [False, True], ids=["a new source", "an indexed source"])
def test_workers_started_before_the_engine_are_the_runs_own(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch, indexed: bool
) -> None:
    """The CLI starts a first mirror's workers before it imports the engine
    (early_mirror.py): the run takes them instead of starting its own, and ends as the
    usual pass does; so too for a source indexed already that no other conduit uses."""
    src = _plain(tmp_path)
    data, dst, cid = _mirror(tmp_path, "early", src)
    if indexed:
        _scan_sides(data, cid)
    early = early_mirror.start(data, cid)
    assert early is not None and early.workers
    started: list[object] = []
    real_start = first_walk.start

    def start(*a, **kw):  # type: ignore[no-untyped-def]
        started.append(a)
        return real_start(*a, **kw)

    monkeypatch.setattr(first_walk, "start", start)
    r = _sync(data, cid, early=early)

    assert r.status == "completed" and r.verified and not r.errors
    assert len(passes) == 1 and passes[0].copied == FILES and started == []
    assert _gone(early)
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert quick_noop.try_sync(data, cid).report is not None


def test_workers_started_for_a_run_that_goes_otherwise_are_let_go(
    tmp_path: Path, passes: list[first_mirror.Done]
) -> None:
    """Something arrived in the target after the CLI started the workers: the engine's
    own check says no pass, the workers end having copied nothing, and the run mirrors
    the usual way."""
    src, data, dst, cid = _sourced(tmp_path, "late")
    early = early_mirror.start(data, cid)
    assert early is not None
    (dst / "arrived.txt").write_text("after the CLI looked")
    r = _sync(data, cid, early=early)

    assert r.status == "completed" and r.verified and not passes
    assert _gone(early)
    assert read_tree(dst) == read_tree(src)


@pytest.mark.parametrize(
    "case",
    [
        "not a mirror",
        "ignore rules",
        "a source another conduit uses",
        "an indexed target",
        "a full target",
        "few files",
    ],
)
def test_the_cli_starts_no_workers_for_a_run_that_would_not_begin_with_the_pass(
    tmp_path: Path, passes: list[first_mirror.Done], case: str
) -> None:
    src = tmp_path / "src"
    count = 2 if case == "few files" else FILES
    write_tree(src, {f"d{i % 5}/f{i}.txt": "z" for i in range(count)})
    data, dst = tmp_path / "data", tmp_path / "dst"
    dst.mkdir()
    lib = open_library(data)
    try:
        if case == "a source another conduit uses":
            scan(lib, add_location(lib, src).id)
            (tmp_path / "other").mkdir()
            add_conduit(lib, src, tmp_path / "other", "mirror")
        if case == "an indexed target":
            (dst / "old.txt").write_text("indexed, then removed")
            scan(lib, add_location(lib, dst).id)
            (dst / "old.txt").unlink()
        mode = "bidirectional" if case == "not a mirror" else "mirror"
        rules = ["*.log"] if case == "ignore rules" else []
        cid = add_conduit(lib, src, dst, mode, ignore=rules).id
    finally:
        lib.close()
    if case == "a full target":
        (dst / "mine.txt").write_text("the user's")
    assert early_mirror.start(data, cid) is None


def test_a_stopped_pass_ends_the_run_and_the_next_run_completes(
    tmp_path: Path, passes: list[first_mirror.Done]
) -> None:
    src, data, dst, cid = _sourced(tmp_path, "stop")

    r = _sync(data, cid, should_stop=lambda: True)

    assert r.status == "failed" and "stopped" in (r.reason or "") and passes[0].stopped
    assert temp_files(dst) == []
    again = _sync(data, cid)
    assert again.status == "completed" and again.verified and not again.errors
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)


@pytest.mark.parametrize("plain", [False, True], ids=["links and odd names", "plain"])
def test_endpoints_inside_locations_take_only_their_own_folders(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch, plain: bool
) -> None:
    """A conduit between subfolders of two locations: the pass walks only the source's
    subfolder, writes only into the target's, and leaves the index the usual way would,
    folder digests included (a plain tree's endpoint vouched for by the pass itself)."""
    runs = {}
    for name in ("pass", "usual"):
        s_root, t_root, data = tmp_path / f"S-{name}", tmp_path / f"T-{name}", tmp_path / name
        if name == "pass" and plain:
            write_tree(
                s_root / "inner", {f"d{i % 5}/s{i % 2}/f{i}.txt": "z" * i for i in range(FILES)}
            )
            (s_root / "beside.txt").write_text("the source location's, not the conduit's")
        elif name == "pass":
            _source(s_root / "inner")
            (s_root / "beside.txt").write_text("the source location's, not the conduit's")
        else:  # the same files, times and modes
            shutil.copytree(tmp_path / "S-pass", s_root, symlinks=True)
            shutil.rmtree(s_root / ".spacesync")
        (t_root / "into").mkdir(parents=True)
        (t_root / "kept.txt").write_text("the target location's own")
        lib = open_library(data)
        try:
            add_location(lib, s_root)
            add_location(lib, t_root)
            c = add_conduit(lib, s_root / "inner", t_root / "into", "mirror")
        finally:
            lib.close()
        assert (c.source_prefix, c.target_prefix) == ("inner", "into")
        if name == "usual":
            monkeypatch.setattr(first_mirror, "eligible", lambda *a: None)
        r = _sync(data, c.id)
        assert r.status == "completed" and r.verified and not r.errors
        assert read_tree(t_root / "into", all_dirs=True) == read_tree(
            s_root / "inner", all_dirs=True
        )
        assert (t_root / "kept.txt").read_text() == "the target location's own"
        assert not (t_root / "into" / "beside.txt").exists()
        runs[name] = (_rows(data), sorted(_digests(data)))  # the digests: which folders
        assert quick_noop.try_sync(data, c.id).report is not None
    assert len(passes) == 1 and passes[0].copied > FILES // 2
    assert runs["pass"] == runs["usual"]


def test_a_worker_that_dies_leaves_its_share_to_the_run_that_follows(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, data, dst, cid = _sourced(tmp_path, "dies")
    real_chunks, engine = forked_copies.job_chunks, os.getpid()

    def chunks(jobs, *a):  # type: ignore[no-untyped-def]
        # The pass's worker with the endpoint's own files, at its go (the run that follows
        # chunks its copies in this process: never killed).
        if os.getpid() != engine and any(j.dst.endswith(os.sep + "top.txt") for j in jobs):
            os.kill(os.getpid(), 9)
        return real_chunks(jobs, *a)

    monkeypatch.setattr(forked_copies, "job_chunks", chunks)
    r = _sync(data, cid)

    assert r.status == "completed" and r.verified and not r.errors
    assert 0 < passes[0].copied < r.copied
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)
    assert temp_files(dst) == []


def test_the_pass_tells_its_progress(
    tmp_path: Path, passes: list[first_mirror.Done], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `spacesync sync` shows on a terminal while the pass copies: files and bytes
    done of those the workers walked, the last event all of them."""
    # Every count told, not one each quarter of a second.
    monkeypatch.setattr(executor.ProgressCounter.maybe_emit, "__defaults__", (True,))
    src = tmp_path / "src"
    write_tree(src, {f"d{i % 5}/s{i % 2}/f{i}.txt": "z" * (i % 200) for i in range(FILES)})
    data, dst, cid = _mirror(tmp_path, "progress", src)
    events: list[Progress] = []
    lib = open_library(data)
    try:
        r = FileSyncService(lib, events.append, fork_workers=True).sync(cid)
    finally:
        lib.close()

    assert r.status == "completed" and passes and passes[0].copied == FILES
    seen = [e for e in events if isinstance(e, Progress) and e.files_total == FILES]
    assert len(seen) > 2  # the pass's, before the run's own (of what was left: nothing)
    assert [e.files_done for e in seen] == sorted(e.files_done for e in seen)
    last = seen[-1]
    assert last.files_done == FILES
    assert last.bytes_done == last.bytes_total == sum(i % 200 for i in range(FILES))


def test_what_the_user_may_not_read_is_reported_and_the_rest_arrives(
    passes: list[first_mirror.Done],
) -> None:
    """Run as `nobody` (root reads everything): a folder and a file it may not read are
    left by the pass, reported by the run's scan, and the rest arrives."""
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        src, dst, data = base / "src", base / "dst", base / "data"
        write_tree(src, {f"d{i % 3}/sub{i % 2}/f{i}.txt": f"file {i}" for i in range(FILES)})
        for root, _dirs, _files in os.walk(src):
            os.chmod(root, 0o755)
        (src / "d0" / "sub0").chmod(0o700)  # root's: nobody may not list it
        (src / "d1" / "sub1" / "f1.txt").chmod(0o600)  # nor read this
        for d in (src, dst, data):
            d.mkdir(exist_ok=True)
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                lib = open_library(data)
                c = add_conduit(lib, src, dst, "mirror")
                r = FileSyncService(lib, fork_workers=True).sync(c.id)
                lib.close()
                out = {**r.to_json(), "passes": [p.copied for p in passes]}
                (data / "out.json").write_text(json.dumps(out))
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        out = json.loads((data / "out.json").read_text())

        assert len(out["passes"]) == 1 and out["passes"][0] > FILES // 2
        assert out["status"] == "completed" and not out["verified"]
        told = {e["path"] for e in out["errors"]}
        assert {"d0/sub0", "d1/sub1/f1.txt"} <= told, out["errors"]
        # The folder is known to be there (its content is not), as the usual way has it.
        assert list((dst / "d0" / "sub0").iterdir()) == []
        assert not (dst / "d1" / "sub1" / "f1.txt").exists()
        got = {k: v for k, v in read_tree(dst).items() if v != "<dir>"}
        want = {k: f"file {k.rpartition('f')[2][:-4]}" for k in got}
        assert got == want and len(got) == FILES - len(range(0, FILES, 6)) - 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_only_folders_indexed_whole_are_vouched_for_and_the_rest_is_scanned(
    tmp_path: Path,
) -> None:
    """The pass's bookkeeping at its end (`_source_indexed`), from what its workers
    walked and what landed: a folder missing a file's or a subfolder's entry, or holding
    what the walk could not index, gets no digest and is scanned by the run (a folder not
    made at all, by its parent's scan); a worker that did not report all of its share has
    the run scan the whole source."""
    src = tmp_path / "src"
    src.mkdir()
    lib = open_library(tmp_path / "data")
    try:
        loc = add_location(lib, src).id
        with lib.engine.begin() as conn:
            for key in ("a", "a/x", "a/y", "b", "c"):
                conn.exec_driver_sql(
                    "INSERT INTO entries (location_id, path, kind, size, mtime_ns, inode, mode, "
                    "indexed_at) VALUES (?, ?, 'dir', 0, 1, 1, 493, 0)",
                    (loc, key),
                )
        side = first_mirror.Side("source", loc, src, "")
        w = first_walk.Worker(0, -1, -1, -1)
        item = (("dir", 0, 1, None, None, 0o755, 1),)
        w.dirs = [  # key, item, new folder, digest, jobs [lo, hi), parent
            ("a", *item, -1, "digest a", 0, 1, -1),
            ("a/x", *item, 0, "digest a/x", 1, 2, 0),
            ("a/y", *item, 1, "digest a/y", 2, 3, 0),  # not made: "a" misses its entry
            ("b", *item, 2, "digest b", 3, 5, -1),  # one of its two files failed
            ("c", *item, 3, None, 5, 5, -1),  # holds a link: no digest, in `rescan`
        ]
        w.owned = [("", 5, 6), ("p", 6, 7)]  # own files alone; "p" lost one
        w.rescan = ["c"]
        w.landed = bytearray([1, 1, 0, 1, 0, 1, 0])
        w.made = bytearray([1, 1, 0, 1, 1])
        w.reported = True

        assert first_mirror._source_indexed(lib, [w], side) == ["a", "b", "c", "p"]
        with sqlite3.connect(tmp_path / "data" / "library.sqlite") as db:
            got = db.execute("SELECT path FROM entries WHERE digest IS NOT NULL").fetchall()
        assert got == [("a/x",)]
        w.reported = False
        assert first_mirror._source_indexed(lib, [w], side) is None
    finally:
        lib.close()
