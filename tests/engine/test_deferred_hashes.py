"""A mirror's scan leaves new files unread; their copy hashes them (deferred.py).
Real library, real folders, the real service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xxhash

from spacesync_gui.engine import deferred, transfer
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.events import RunPhase, ScanProgress
from spacesync_gui.engine.indexer import hash_deferred, scan_location
from spacesync_gui.engine.locations import add_location
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.service import FileSyncService
from spacesync_gui.engine.transfer import SourceChanged, stage_file
from tests.sync_helpers import read_tree, versions_content, write_tree


def _hashes(lib, owner: int, table: str = "entries") -> dict[str, str | None]:
    """path -> hash of the files of a location's entries (or of a conduit's base)."""
    col = "location_id" if table == "entries" else "conduit_id"
    with lib.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT path, hash FROM {table} WHERE {col} = ? AND kind = 'file'", (owner,)
        ).fetchall()
    return dict(rows)


def _xxh(data: str) -> str:
    return xxhash.xxh3_128_hexdigest(data.encode())


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    return src, dst


def test_initial_mirror_reads_each_source_file_once_and_still_records_every_hash(
    library, pair, monkeypatch
):
    src, dst = pair
    reread: list[str] = []  # files hashed again before planning or verifying (none needed)

    def spy(lib, location_id, files):  # the real function, counted
        reread.extend(f[0] for f in files)
        return hash_deferred(lib, location_id, files)

    monkeypatch.setattr(deferred, "hash_deferred", spy)
    files = {f"d{i}/f{j}.txt": f"content {i} {j}" * (j + 1) for i in range(3) for j in range(4)}
    write_tree(src, files)
    c = add_conduit(library, src, dst, "mirror")
    scans: list[ScanProgress] = []
    svc = FileSyncService(
        library, emit=lambda ev: scans.append(ev) if isinstance(ev, ScanProgress) else None
    )

    report = svc.sync(c.id)

    assert report.status == "completed" and report.verified and report.copied == 12
    assert read_tree(dst) == files
    # The sync's scan of the source read nothing: the copies did, and hashed as they went.
    source_scan = [ev for ev in scans if ev.location_id == c.source_location_id and ev.done]
    assert source_scan and source_scan[0].files_seen == 12 and source_scan[0].files_hashed == 0
    assert reread == []
    expected = {k: _xxh(v) for k, v in files.items()}
    assert _hashes(library, c.source_location_id) == expected
    assert _hashes(library, c.target_location_id) == expected
    assert _hashes(library, c.id, "base_entries") == expected
    # The next run finds both sides equal without copying anything.
    again = svc.sync(c.id)
    assert again.copied == 0 and again.deleted == 0 and again.verified


def test_same_size_same_mtime_but_different_content_is_still_copied(library, pair):
    """Both sides indexed without hashes must never compare equal by size and mtime."""
    src, dst = pair
    write_tree(src, {"a.txt": "new!", "same.txt": "kept"})
    write_tree(dst, {"a.txt": "old!", "same.txt": "kept"})
    for p in (src / "a.txt", dst / "a.txt", src / "same.txt", dst / "same.txt"):
        os.utime(p, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    c = add_conduit(library, src, dst, "mirror")

    report = FileSyncService(library).sync(c.id)

    assert report.status == "completed" and report.verified
    assert report.copied == 1
    assert read_tree(dst) == {"a.txt": "new!", "same.txt": "kept"}
    assert versions_content(dst) == ["old!"]


def test_a_renamed_file_is_still_moved_not_copied_again(library, pair):
    src, dst = pair
    write_tree(src, {"old/name.bin": "x" * 5000, "other.txt": "abc"})
    c = add_conduit(library, src, dst, "mirror")
    svc = FileSyncService(library)
    assert svc.sync(c.id).copied == 2
    (src / "new").mkdir()
    os.rename(src / "old" / "name.bin", src / "new" / "name.bin")

    report = svc.sync(c.id)

    assert report.moved == 1 and report.copied == 0 and report.verified
    assert read_tree(dst) == read_tree(src)
    assert read_tree(dst)["new/name.bin"] == "x" * 5000


def test_unhashed_entries_keep_folders_out_of_digests_until_a_full_scan_hashes_them(library, pair):
    src, _ = pair
    write_tree(src, {"sub/a.txt": "aaa", "sub/b.txt": "bbbb"})
    loc = add_location(library, src)

    first = scan_location(library, loc.id, defer_hashes=True)
    assert first.files_seen == 2 and first.files_hashed == 0 and first.added >= 2
    assert _hashes(library, loc.id) == {"sub/a.txt": None, "sub/b.txt": None}
    # Another deferring scan leaves them waiting, without counting them as changed.
    second = scan_location(library, loc.id, defer_hashes=True)
    assert second.modified == 0 and second.files_hashed == 0
    # A scan that is not a mirror's own (the watcher's, `spacesync scan`) reads them.
    full = scan_location(library, loc.id)
    assert full.files_hashed == 2
    assert _hashes(library, loc.id) == {"sub/a.txt": _xxh("aaa"), "sub/b.txt": _xxh("bbbb")}
    assert scan_location(library, loc.id).files_hashed == 0


def test_bidirectional_runs_hash_what_a_mirror_left_unhashed(library, pair, tmp_path):
    """Two conduits share a location: the mirror's scan left entries without hashes, the
    bidirectional run must not compare them as unknown."""
    src, dst = pair
    other = tmp_path / "other"
    other.mkdir()
    write_tree(src, {"a.txt": "same"})
    write_tree(other, {"a.txt": "same"})
    loc = add_location(library, src)
    scan_location(library, loc.id, defer_hashes=True)
    c = add_conduit(library, src, other, "bidirectional")
    assert c.source_location_id == loc.id

    report = FileSyncService(library).sync(c.id)

    assert report.status == "completed" and report.conflicts == 0 and report.copied == 0
    assert _hashes(library, loc.id) == {"a.txt": _xxh("same")}


def test_a_file_rewritten_while_being_copied_is_not_committed(tmp_path: Path, monkeypatch):
    """Without a scan hash to compare with, the copy checks the source after reading it.
    (The rewrite comes through the progress callback, which only the Python path calls
    between its reads; the C accelerator makes the same check after its read, and a
    source growing while it reads is tested in test_fastcopy.py.)"""
    monkeypatch.setattr(transfer, "_fast", None)
    src = tmp_path / "f.txt"
    src.write_text("original")
    st = src.stat()
    item = Item("file", st.st_size, st.st_mtime_ns, None)

    def rewrite(_n: int) -> None:
        src.write_text("ORIGINAL")  # same size, new content and mtime
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    with pytest.raises(SourceChanged):
        stage_file(src, item, tmp_path / "tmp", progress=rewrite)
    staged = tmp_path / "tmp"
    assert not staged.exists() or not any(staged.rglob("*.*"))


def test_after_an_initial_mirror_the_next_scan_compares_no_source_folder(
    library, pair, monkeypatch
):
    """The copies fill the hashes in without voiding the folder digests the mirror's scan
    stored: the first no-op after an initial mirror is as quick as any later one."""
    from tests.engine.test_indexer_digest import ChildLoads

    src, dst = pair
    write_tree(src, {f"d{i}/f{j}.txt": f"{i}-{j}" for i in range(4) for j in range(3)})
    c = add_conduit(library, src, dst, "mirror")
    assert FileSyncService(library).sync(c.id).copied == 12
    loads = ChildLoads(monkeypatch)

    again = scan_location(library, c.source_location_id)

    assert loads.folders == [] and again.files_hashed == 0 and again.modified == 0


def test_a_folder_with_a_file_waiting_for_its_hash_is_compared_again(library, pair, monkeypatch):
    from tests.engine.test_indexer_digest import ChildLoads

    src, _ = pair
    write_tree(src, {"done/a.txt": "a", "waiting/b.txt": "b"})
    loc = add_location(library, src)
    scan_location(library, loc.id)  # everything hashed, every folder's digest stored
    (src / "waiting" / "c.txt").write_text("c")
    scan_location(library, loc.id, defer_hashes=True)  # c.txt stored without a hash
    loads = ChildLoads(monkeypatch)

    r = scan_location(library, loc.id)

    assert loads.folders == ["waiting"]
    assert r.files_hashed == 1
    assert _hashes(library, loc.id)["waiting/c.txt"] == _xxh("c")


def test_filling_in_a_hash_is_not_a_change_but_changing_one_is(library, pair):
    """The change counters (trusted no-op runs) count what a file is, not what the index
    has learnt about it."""
    src, _ = pair
    write_tree(src, {"a.txt": "aaa"})
    loc = add_location(library, src)
    scan_location(library, loc.id, defer_hashes=True)

    def changes() -> int:
        with library.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT changes FROM locations WHERE id = ?", (loc.id,)
            ).scalar_one()

    before = changes()
    st = (src / "a.txt").stat()
    hashes, errors = hash_deferred(
        library, loc.id, [("a.txt", str(src / "a.txt"), st.st_size, st.st_mtime_ns, st.st_ino)]
    )
    assert hashes == {"a.txt": _xxh("aaa")} and errors == []
    assert _hashes(library, loc.id) == {"a.txt": _xxh("aaa")} and changes() == before
    with library.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE entries SET hash = 'other' WHERE location_id = ?", (loc.id,))
    assert changes() == before + 1


def test_a_file_changed_since_the_scan_gets_no_hash(library, pair):
    src, _ = pair
    write_tree(src, {"a.txt": "aaa"})
    loc = add_location(library, src)
    scan_location(library, loc.id, defer_hashes=True)
    st = (src / "a.txt").stat()
    (src / "a.txt").write_text("bbbb")

    hashes, errors = hash_deferred(
        library, loc.id, [("a.txt", str(src / "a.txt"), st.st_size, st.st_mtime_ns, st.st_ino)]
    )

    assert hashes == {} and errors == [("a.txt", "changed while being read")]
    assert _hashes(library, loc.id) == {"a.txt": None}


def _relink(p: Path) -> None:
    p.unlink()
    p.symlink_to("elsewhere")


@pytest.mark.parametrize(
    ("edit", "news", "then"),
    [
        (lambda p: p.write_text("edited"), "changed on the source side while being read", "edited"),
        (Path.unlink, "deleted on the source side since the scan", None),
        (_relink, "changed on the source side while being read", "-> elsewhere"),
    ],
    ids=["rewritten", "deleted", "replaced-by-a-link"],
)
def test_a_file_changed_while_a_run_hashes_it_is_news_for_the_next_run(
    library, pair, edit, news, then
):
    """The user rewrites, deletes or replaces a file while a mirror run hashes it to
    compare it (same size as the target's): the run says so and that it will be synced
    next time (not "could not read"), leaves the target alone, and the next run syncs it."""
    src, dst = pair
    write_tree(src, {"a.txt": "first"})
    c = add_conduit(library, src, dst, "mirror")
    FileSyncService(library).sync(c.id)
    (src / "a.txt").write_text("other")  # the same size: only the hashes can tell
    os.utime(src / "a.txt", ns=(10**18, 10**18))

    def edit_while_planning(ev: object) -> None:
        if isinstance(ev, RunPhase) and ev.phase == "planning":
            edit(src / "a.txt")

    r = FileSyncService(library, edit_while_planning).sync(c.id)

    assert r.status == "completed" and not r.verified
    # One line for the file, not a second one from a copy that could only fail.
    assert r.errors == [{"path": "a.txt", "message": f"{news}; it will be synced on the next run"}]
    assert (dst / "a.txt").read_text() == "first"
    again = FileSyncService(library).sync(c.id)
    assert again.status == "completed" and not again.errors
    assert read_tree(dst).get("a.txt") == then
    if then is None:  # the deletion reached the target: its copy is in the versions store
        assert "first" in versions_content(dst)


def test_a_target_file_changed_while_a_mirror_hashes_it_is_left_for_the_next_run(library, pair):
    """The target's copy was edited (same size), and is edited again while the run hashes
    it to compare it: one line says so, the file is left as the user last wrote it, and
    the next run restores the source's version (the user's edit kept in the versions)."""
    src, dst = pair
    write_tree(src, {"a.txt": "first"})
    c = add_conduit(library, src, dst, "mirror")
    FileSyncService(library).sync(c.id)
    (dst / "a.txt").write_text("other")
    os.utime(dst / "a.txt", ns=(10**18, 10**18))

    def edit_while_planning(ev: object) -> None:
        if isinstance(ev, RunPhase) and ev.phase == "planning":
            (dst / "a.txt").write_text("third")

    r = FileSyncService(library, edit_while_planning).sync(c.id)

    assert r.errors == [
        {
            "path": "a.txt",
            "message": "changed on the target side while being read; "
            "it will be synced on the next run",
        }
    ]
    assert (dst / "a.txt").read_text() == "third"
    again = FileSyncService(library).sync(c.id)
    assert again.status == "completed" and not again.errors
    assert (dst / "a.txt").read_text() == "first"
    assert "third" in versions_content(dst)


def test_adopting_an_existing_copy_hashes_both_sides_one_in_a_forked_child(library, pair):
    """A target that already holds the files (copied by hand): every file has a same-size
    twin, so both sides are hashed before planning, the CLI's way (the target's half in a
    forked child), and nothing is copied."""
    src, dst = pair
    files = {f"d/f{i}.txt": f"same {i}" for i in range(6)}
    write_tree(src, files)
    write_tree(dst, files)
    for rel in files:  # same content, different mtimes: equal by hash, mtime carried over
        os.utime(dst / rel, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    c = add_conduit(library, src, dst, "mirror")

    report = FileSyncService(library, fork_workers=True).sync(c.id)

    assert report.status == "completed" and report.verified
    assert report.copied == 0 and report.errors == []
    expected = {k: _xxh(v) for k, v in files.items()}
    assert _hashes(library, c.source_location_id) == expected
    assert _hashes(library, c.target_location_id) == expected
    assert read_tree(dst) == files and versions_content(dst) == []
