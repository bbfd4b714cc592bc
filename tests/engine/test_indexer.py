"""The indexer on real folders and a real library (SPEC section 2)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import unicodedata
import uuid
from pathlib import Path

import pytest
import xxhash
from sqlalchemy import select

from spacesync_gui.engine import indexer, models
from spacesync_gui.engine.db import Library
from spacesync_gui.engine.errors import SpaceSyncError
from spacesync_gui.engine.events import ScanProgress
from spacesync_gui.engine.indexer import ScanResult, hash_file, scan_location
from spacesync_gui.engine.paths import TMP_PREFIX

# -- helpers (also used by the other test_indexer_* modules) ------------------------------


def add_location(lib: Library, root: Path | str, ignore: list[str] | None = None) -> int:
    with lib.session() as s:
        loc = models.Location(
            uuid=str(uuid.uuid4()),
            path=str(root),
            ignore=json.dumps(ignore or []),
            created_at=time.time(),
        )
        s.add(loc)
        s.flush()
        return loc.id


def set_ignore(lib: Library, location_id: int, patterns: list[str]) -> None:
    with lib.session() as s:
        loc = s.get(models.Location, location_id)
        assert loc is not None
        loc.ignore = json.dumps(patterns)


def entries(lib: Library, location_id: int) -> dict[str, models.Entry]:
    with lib.session() as s:
        rows = s.scalars(select(models.Entry).where(models.Entry.location_id == location_id))
        return {e.path: e for e in rows}


def scan_errors(lib: Library, location_id: int) -> dict[str, str]:
    with lib.session() as s:
        rows = s.scalars(
            select(models.ScanError).where(models.ScanError.location_id == location_id)
        )
        return {e.path: e.message for e in rows}


def location(lib: Library, location_id: int) -> models.Location:
    with lib.session() as s:
        loc = s.get(models.Location, location_id)
        assert loc is not None
        return loc


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def xxh(data: bytes | str) -> str:
    return xxhash.xxh3_128_hexdigest(data.encode() if isinstance(data, str) else data)


def bump_mtime(path: Path, seconds: int = 5) -> None:
    """Give a file a clearly different mtime (coarse-timestamp file systems exist)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def assert_noop(result: ScanResult) -> None:
    assert (result.files_hashed, result.added, result.modified, result.deleted) == (0, 0, 0, 0)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


# -- hashing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, 4096, indexer.CHUNK_SIZE - 1, indexer.CHUNK_SIZE, 2_500_000]
)
def test_hash_file_matches_xxhash(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    f = write(tmp_path / "f.bin", data)
    assert hash_file(str(f)) == (xxh(data), size)
    assert hash_file(os.fsencode(f)) == (xxh(data), size)


def test_scan_hashes_large_file_streamed(library: Library, root: Path) -> None:
    data = os.urandom(3 * indexer.CHUNK_SIZE + 17)
    write(root / "big.bin", data)
    lid = add_location(library, root)
    r = scan_location(library, lid)
    assert (r.files_hashed, r.bytes_hashed) == (1, len(data))
    assert entries(library, lid)["big.bin"].hash == xxh(data)


# -- first scan ----------------------------------------------------------------------------


def test_first_scan_records_files_dirs_and_symlinks(library: Library, root: Path) -> None:
    write(root / "top.txt", "top")
    write(root / "a" / "b.txt", "hello")
    write(root / "a" / "empty.bin", b"")
    (root / "a" / "c").mkdir()
    os.chmod(root / "a" / "b.txt", 0o640)
    os.symlink("a/b.txt", root / "link")
    lid = add_location(library, root)

    r = scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {"top.txt", "a", "a/b.txt", "a/empty.bin", "a/c", "link"}
    st = os.lstat(root / "a" / "b.txt")
    b = e["a/b.txt"]
    assert (b.kind, b.size, b.hash, b.raw, b.link) == (models.FILE, 5, xxh("hello"), None, None)
    assert (b.mtime_ns, b.inode, b.mode) == (st.st_mtime_ns, st.st_ino, 0o640)
    assert b.indexed_at > 0
    assert e["a/empty.bin"].hash == xxh(b"")
    d = e["a"]
    assert (d.kind, d.size, d.hash, d.link) == (models.DIR, 0, None, None)
    assert d.inode == os.lstat(root / "a").st_ino
    ln = e["link"]
    assert (ln.kind, ln.link, ln.hash) == (models.SYMLINK, "a/b.txt", None)

    assert (r.files_seen, r.bytes_seen, r.files_hashed, r.bytes_hashed) == (3, 8, 3, 8)
    assert (r.added, r.modified, r.deleted, r.errors) == (6, 0, 0, [])
    loc = location(library, lid)
    assert (loc.files, loc.bytes, loc.scan_errors) == (3, 8, 0)
    assert loc.last_scan is not None and loc.last_scan > time.time() - 60


def test_missing_root_raises_and_changes_nothing(library: Library, root: Path) -> None:
    write(root / "f.txt", "x")
    lid = add_location(library, root)
    scan_location(library, lid)
    before = location(library, lid).last_scan
    shutil.rmtree(root)
    with pytest.raises(SpaceSyncError, match="missing"):
        scan_location(library, lid)
    assert set(entries(library, lid)) == {"f.txt"}
    assert location(library, lid).last_scan == before


def test_root_that_is_a_file_raises(library: Library, tmp_path: Path) -> None:
    f = write(tmp_path / "file", "x")
    lid = add_location(library, f)
    with pytest.raises(SpaceSyncError):
        scan_location(library, lid)


# -- incremental scans -----------------------------------------------------------------------


def test_noop_rescan_reads_nothing(library: Library, root: Path) -> None:
    for i in range(30):
        write(root / f"d{i % 3}" / f"f{i}.txt", f"content {i}")
    lid = add_location(library, root)
    first = scan_location(library, lid)
    assert first.files_hashed == 30
    again = scan_location(library, lid)
    assert_noop(again)
    assert (again.files_seen, again.bytes_hashed) == (30, 0)


def test_unchanged_stat_keeps_stored_hash_without_reading(library: Library, root: Path) -> None:
    """The documented trade-off: same (size, mtime_ns, inode) means same content."""
    f = write(root / "f.txt", "aaaa")
    lid = add_location(library, root)
    scan_location(library, lid)
    st = f.stat()
    with open(f, "r+b") as fh:  # in place: the inode stays
        fh.write(b"bbbb")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_ino == st.st_ino

    assert_noop(scan_location(library, lid))
    assert entries(library, lid)["f.txt"].hash == xxh("aaaa")

    bump_mtime(f)  # once the mtime moves, the file is read again
    r = scan_location(library, lid)
    assert (r.files_hashed, r.modified) == (1, 1)
    assert entries(library, lid)["f.txt"].hash == xxh("bbbb")


def test_detects_adds_edits_and_deletes(library: Library, root: Path) -> None:
    write(root / "keep.txt", "keep")
    grow = write(root / "grow.txt", "short")
    same = write(root / "same.txt", "1234")
    write(root / "gone.txt", "bye")
    write(root / "olddir" / "x.txt", "x")
    write(root / "olddir" / "sub" / "y.txt", "y")
    lid = add_location(library, root)
    scan_location(library, lid)

    write(root / "new" / "n.txt", "new file")
    grow.write_text("much longer now")
    same.write_text("5678")  # same size ...
    bump_mtime(same)  # ... new mtime
    (root / "gone.txt").unlink()
    shutil.rmtree(root / "olddir")

    r = scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {"keep.txt", "grow.txt", "same.txt", "new", "new/n.txt"}
    assert e["grow.txt"].hash == xxh("much longer now")
    assert e["grow.txt"].size == len("much longer now")
    assert e["same.txt"].hash == xxh("5678")
    assert e["new/n.txt"].hash == xxh("new file")
    assert r.added == 2  # new, new/n.txt
    assert r.deleted == 5  # gone.txt, olddir, olddir/x.txt, olddir/sub, olddir/sub/y.txt
    assert r.files_hashed == 3  # grow, same, new/n
    # grow.txt and same.txt changed; the root's mtime is not indexed, so nothing else.
    assert r.modified == 2
    loc = location(library, lid)
    assert loc.files == 4
    assert loc.bytes == sum(e[k].size for k in e if e[k].kind == models.FILE)


def test_mode_change_updates_entry_without_rereading(library: Library, root: Path) -> None:
    f = write(root / "script.sh", "#!/bin/sh\n")
    lid = add_location(library, root)
    scan_location(library, lid)
    os.chmod(f, 0o755)
    r = scan_location(library, lid)
    assert (r.files_hashed, r.modified) == (0, 1)
    e = entries(library, lid)["script.sh"]
    assert (e.mode, e.hash) == (0o755, xxh("#!/bin/sh\n"))


def test_rename_file_and_folder(library: Library, root: Path) -> None:
    write(root / "old.txt", "same bytes")
    write(root / "dir" / "a.txt", "A")
    write(root / "dir" / "sub" / "b.txt", "B")
    lid = add_location(library, root)
    scan_location(library, lid)
    before = entries(library, lid)

    (root / "old.txt").rename(root / "new.txt")
    (root / "dir").rename(root / "moved")
    r = scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {"new.txt", "moved", "moved/a.txt", "moved/sub", "moved/sub/b.txt"}
    assert e["new.txt"].hash == before["old.txt"].hash == xxh("same bytes")
    assert e["new.txt"].inode == before["old.txt"].inode
    assert e["moved/a.txt"].hash == before["dir/a.txt"].hash
    assert e["moved/sub/b.txt"].hash == before["dir/sub/b.txt"].hash
    assert (r.added, r.deleted) == (5, 5)


def test_kind_changes(library: Library, root: Path) -> None:
    write(root / "was_file", "f")
    write(root / "was_dir" / "child.txt", "c")
    lid = add_location(library, root)
    scan_location(library, lid)

    (root / "was_file").unlink()
    write(root / "was_file" / "inner.txt", "i")
    shutil.rmtree(root / "was_dir")
    write(root / "was_dir", "now a file")
    scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {"was_file", "was_file/inner.txt", "was_dir"}
    assert e["was_file"].kind == models.DIR
    assert (e["was_dir"].kind, e["was_dir"].hash) == (models.FILE, xxh("now a file"))


# -- ignore rules -------------------------------------------------------------------------------


class ScandirSpy:
    """Records which folders the indexer lists (delegates to the real os.scandir)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.listed: list[str] = []
        real = os.scandir

        def spy(path):  # type: ignore[no-untyped-def]
            # listing.list_dir lists folders through a descriptor where it can.
            name = os.readlink(f"/proc/self/fd/{path}") if isinstance(path, int) else path
            self.listed.append(os.fsdecode(name))
            return real(path)

        monkeypatch.setattr(indexer.os, "scandir", spy)


def test_builtin_ignores(library: Library, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(root / ".spacesync" / "location-id", "uuid")
    write(root / ".spacesync" / "versions" / "2024" / "old.txt", "v")
    write(root / "sub" / ".spacesync" / "tmp" / "x", "t")
    for name in (".DS_Store", "Thumbs.db", "desktop.ini", "~$report.docx", ".~lock.a.odt#"):
        write(root / "sub" / name, "junk")
    write(root / "sub" / f"{TMP_PREFIX}abc123", "partial copy")
    write(root / "sub" / "real.txt", "real")
    lid = add_location(library, root)
    spy = ScandirSpy(monkeypatch)

    scan_location(library, lid)

    assert set(entries(library, lid)) == {"sub", "sub/real.txt"}
    assert not any(".spacesync" in p for p in spy.listed)  # not even descended


def test_user_patterns(library: Library, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(root / "a.log", "log")
    write(root / "keep.log", "kept by negation")
    write(root / "src" / "deep.log", "log")
    write(root / "src" / "main.py", "code")
    write(root / "build" / "out.o", "obj")
    write(root / "src" / "build" / "gen.c", "gen")
    write(root / "build.txt", "a file named like the folder pattern")
    write(root / "rootonly.txt", "anchored")
    write(root / "src" / "rootonly.txt", "not anchored here")
    lid = add_location(library, root, ["*.log", "!keep.log", "build/", "/rootonly.txt"])
    spy = ScandirSpy(monkeypatch)

    scan_location(library, lid)

    assert set(entries(library, lid)) == {
        "keep.log",
        "src",
        "src/main.py",
        "src/rootonly.txt",
        "build.txt",
    }
    assert not any(p.endswith("build") for p in spy.listed)  # ignored folders not descended


def test_new_pattern_drops_entries_and_removing_it_brings_them_back(
    library: Library, root: Path
) -> None:
    write(root / "cache" / "blob", "b")
    write(root / "doc.txt", "d")
    lid = add_location(library, root)
    scan_location(library, lid)
    set_ignore(library, lid, ["cache/"])
    r = scan_location(library, lid)
    assert set(entries(library, lid)) == {"doc.txt"}
    assert r.deleted == 2
    set_ignore(library, lid, [])
    scan_location(library, lid)
    assert set(entries(library, lid)) == {"doc.txt", "cache", "cache/blob"}


# -- symlinks and odd items ------------------------------------------------------------------------


def test_symlinks_are_recorded_never_followed(library: Library, root: Path) -> None:
    write(root / "target" / "inside.txt", "in")
    outside = write(root.parent / "outside" / "secret.txt", "outside the root")
    os.symlink("target/inside.txt", root / "to_file")
    os.symlink("target", root / "to_dir")
    os.symlink(str(outside.parent), root / "to_outside")
    os.symlink("does/not/exist", root / "dangling")
    lid = add_location(library, root)

    r = scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {
        "target",
        "target/inside.txt",
        "to_file",
        "to_dir",
        "to_outside",
        "dangling",
    }
    assert {k: e[k].kind for k in ("to_file", "to_dir", "to_outside", "dangling")} == dict.fromkeys(
        ("to_file", "to_dir", "to_outside", "dangling"), models.SYMLINK
    )
    assert e["to_dir"].link == "target"
    assert e["to_outside"].link == str(outside.parent)
    assert e["dangling"].link == "does/not/exist"
    assert r.files_seen == 1 and r.errors == []

    assert_noop(scan_location(library, lid))
    os.unlink(root / "to_dir")
    os.symlink("target/inside.txt", root / "to_dir")
    r = scan_location(library, lid)
    assert r.modified == 1
    assert entries(library, lid)["to_dir"].link == "target/inside.txt"


def test_fifo_is_a_scan_error_and_errors_are_replaced(library: Library, root: Path) -> None:
    write(root / "f.txt", "f")
    os.mkfifo(root / "pipe")
    lid = add_location(library, root)

    r = scan_location(library, lid)

    assert r.errors == [("pipe", indexer.NOT_REGULAR)]
    assert set(entries(library, lid)) == {"f.txt"}
    assert scan_errors(library, lid) == {"pipe": indexer.NOT_REGULAR}
    assert location(library, lid).scan_errors == 1
    r = scan_location(library, lid)  # the same finding is not recorded twice
    assert scan_errors(library, lid) == {"pipe": indexer.NOT_REGULAR}

    os.unlink(root / "pipe")
    assert scan_location(library, lid).errors == []
    assert scan_errors(library, lid) == {}
    assert location(library, lid).scan_errors == 0


def _open_paths() -> set[str]:
    """What this process has open (Linux: /proc/self/fd)."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed since listed
            pass
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_file_that_became_a_symlink_before_it_was_read_is_not_followed(
    library: Library, root: Path
) -> None:
    """Listed as a file, a symlink by the time it is opened (O_NOFOLLOW fails, ELOOP): the
    scan reports it as changed while read and records nothing for it; the next scan records
    the symlink."""
    names = ("a.bin", "b.bin")
    for name in names:
        write(root / name, os.urandom(3 * indexer.CHUNK_SIZE))
    outside = write(root.parent / "outside.txt", "outside the root")
    lid = add_location(library, root)
    swapped: list[str] = []
    calls = 0

    def swap_the_other_file() -> bool:
        # Call 2 comes from inside the first big file's hashing: both were listed as files.
        nonlocal calls
        calls += 1
        if calls == 2:
            reading = _open_paths()
            other = next(n for n in names if str(root / n) not in reading)
            (root / other).unlink()
            (root / other).symlink_to(outside)
            swapped.append(other)
        return False

    r = scan_location(library, lid, should_stop=swap_the_other_file)

    assert len(swapped) == 1
    assert r.errors == [(swapped[0], indexer.CHANGED_WHILE_READ)]
    assert swapped[0] not in entries(library, lid)  # nothing half-true recorded
    r = scan_location(library, lid)
    assert r.errors == []
    e = entries(library, lid)[swapped[0]]
    assert (e.kind, e.link, e.hash) == ("symlink", str(outside), None)


def test_file_changed_while_being_read_keeps_old_entry(library: Library, root: Path) -> None:
    big = write(root / "big.bin", os.urandom(3 * indexer.CHUNK_SIZE))
    lid = add_location(library, root)
    scan_location(library, lid)
    old = entries(library, lid)["big.bin"]
    with open(big, "ab") as f:
        f.write(b"edit before the scan")
    calls = 0

    def writer_races_the_scan() -> bool:
        # Call 1 is before the root is listed; the root holds only big.bin, so call 2
        # comes from inside the hashing loop (it is polled per chunk of a large file).
        nonlocal calls
        calls += 1
        if calls == 2:
            with open(big, "ab") as f:
                f.write(b"edit during the read")
            bump_mtime(big)
        return False

    r = scan_location(library, lid, should_stop=writer_races_the_scan)

    assert r.errors == [("big.bin", indexer.CHANGED_WHILE_READ)]
    kept = entries(library, lid)["big.bin"]
    assert (kept.hash, kept.size, kept.mtime_ns) == (old.hash, old.size, old.mtime_ns)
    assert location(library, lid).bytes == old.size  # totals describe the index
    r = scan_location(library, lid)  # the next scan picks the change up
    assert r.errors == [] and r.modified == 1
    assert entries(library, lid)["big.bin"].hash == xxh(big.read_bytes())


# -- names ---------------------------------------------------------------------------------


def test_nfd_name_gets_nfc_key_and_keeps_raw_bytes(library: Library, root: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Café")
    nfd_file = unicodedata.normalize("NFD", "résumé.txt")
    write(root / nfd / nfd_file, "cv")
    write(root / nfd / "plain.txt", "p")
    lid = add_location(library, root)

    scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {"Café", "Café/résumé.txt", "Café/plain.txt"}
    assert e["Café"].raw == nfd.encode()
    assert e["Café/résumé.txt"].raw == f"{nfd}/{nfd_file}".encode()
    assert e["Café/plain.txt"].raw == f"{nfd}/plain.txt".encode()  # the folder's bytes differ
    assert e["Café/résumé.txt"].hash == xxh("cv")
    assert_noop(scan_location(library, lid))


def test_nfc_name_has_no_raw(library: Library, root: Path) -> None:
    write(root / "Café.txt", "c")
    lid = add_location(library, root)
    scan_location(library, lid)
    assert entries(library, lid)["Café.txt"].raw is None


def test_nfc_and_nfd_twins_index_one_and_report_the_other(library: Library, root: Path) -> None:
    write(root / "é.txt", "composed")
    write(root / unicodedata.normalize("NFD", "é.txt"), "decomposed")
    lid = add_location(library, root)
    r = scan_location(library, lid)
    e = entries(library, lid)
    assert set(e) == {"é.txt"}
    assert (e["é.txt"].hash, e["é.txt"].raw) == (xxh("composed"), None)
    assert [k for k, _ in r.errors] == ["é.txt"]
    assert "same key" in r.errors[0][1]


def test_non_utf8_name_is_indexed_with_raw_bytes(library: Library, root: Path) -> None:
    raw_dir = os.fsencode(root) + b"/dir\xff"
    os.mkdir(raw_dir)
    with open(raw_dir + b"/f\xfe.bin", "wb") as f:
        f.write(b"bytes")
    lid = add_location(library, root)

    r = scan_location(library, lid)

    e = entries(library, lid)
    assert set(e) == {"dir\\xff", "dir\\xff/f\\xfe.bin"}
    assert e["dir\\xff"].raw == b"dir\xff"
    assert e["dir\\xff/f\\xfe.bin"].raw == b"dir\xff/f\xfe.bin"
    assert e["dir\\xff/f\\xfe.bin"].hash == xxh(b"bytes")
    assert r.errors == []
    assert_noop(scan_location(library, lid))


def test_long_name_and_deep_path(library: Library, root: Path) -> None:
    long_name = "n" * 251 + ".txt"
    assert len(long_name.encode()) == 255
    write(root / long_name, "long")
    deep = root
    for i in range(12):
        deep = deep / (f"{i:02d}" + "d" * 98)
    os.makedirs(deep)
    write(deep / "bottom.txt", "deep")
    lid = add_location(library, root)

    scan_location(library, lid)

    e = entries(library, lid)
    assert e[long_name].hash == xxh("long")
    bottom = [k for k in e if k.endswith("/bottom.txt")]
    assert len(bottom) == 1 and len(bottom[0]) > 1000
    assert e[bottom[0]].hash == xxh("deep")
    assert_noop(scan_location(library, lid))


# -- progress, stopping, totals -----------------------------------------------------------------


def test_progress_events_end_with_done(library: Library, root: Path) -> None:
    for i in range(20):
        write(root / f"f{i}.txt", "x" * i)
    lid = add_location(library, root)
    events: list[object] = []

    r = scan_location(library, lid, emit=events.append)

    progress = [e for e in events if isinstance(e, ScanProgress)]
    assert progress and progress[-1].done
    assert [p.done for p in progress].count(True) == 1
    last = progress[-1]
    assert last.location_id == lid
    counts = (last.files_seen, last.bytes_seen, last.files_hashed, last.bytes_hashed)
    assert counts == (r.files_seen, r.bytes_seen, r.files_hashed, r.bytes_hashed)
    assert counts == (20, sum(range(20)), 20, sum(range(20)))


def test_progress_is_throttled(library: Library, root: Path, monkeypatch) -> None:
    for i in range(5):
        write(root / f"d{i}" / "f.txt", "x")
    lid = add_location(library, root)
    events: list[ScanProgress] = []
    scan_location(library, lid, emit=events.append)  # a fast scan: only the final event
    assert len(events) == 1
    monkeypatch.setattr(indexer, "PROGRESS_INTERVAL", 0.0)
    events.clear()
    scan_location(library, lid, emit=events.append)
    assert len(events) > 2 and events[-1].done and not events[0].done


def test_stop_leaves_index_consistent_and_deletes_nothing(library: Library, root: Path) -> None:
    for i in range(10):
        write(root / f"d{i}" / "f.txt", f"{i}")
    lid = add_location(library, root)
    scan_location(library, lid)
    before_scan = location(library, lid).last_scan
    shutil.rmtree(root / "d3")
    write(root / "d0" / "new.txt", "new")

    events: list[ScanProgress] = []
    r = scan_location(library, lid, emit=events.append, should_stop=lambda: True)

    assert r.stopped and r.deleted == 0
    assert "d3/f.txt" in entries(library, lid)  # not seen is not proof of deletion
    assert events[-1].done
    assert location(library, lid).last_scan == before_scan
    r = scan_location(library, lid)
    assert not r.stopped
    assert "d3/f.txt" not in entries(library, lid) and "d0/new.txt" in entries(library, lid)


def test_stop_midway_writes_only_true_rows(library: Library, root: Path) -> None:
    for i in range(40):
        write(root / f"d{i:02d}" / "f.txt", f"{i}")
    lid = add_location(library, root)
    polls = 0

    def stop_after_a_few() -> bool:
        nonlocal polls
        polls += 1
        return polls > 10

    r = scan_location(library, lid, should_stop=stop_after_a_few)

    assert r.stopped
    e = entries(library, lid)
    assert 0 < len(e) < 80
    for key, entry in e.items():  # everything written is true on disk
        if entry.kind == models.FILE:
            assert entry.hash == xxh((root / key).read_bytes())
    loc = location(library, lid)
    assert loc.files == sum(1 for x in e.values() if x.kind == models.FILE)
    scan_location(library, lid)
    assert len(entries(library, lid)) == 80


def test_two_locations_do_not_touch_each_other(library: Library, tmp_path: Path) -> None:
    r1, r2 = tmp_path / "one", tmp_path / "two"
    write(r1 / "same.txt", "1")
    write(r2 / "same.txt", "2")
    write(r2 / "only2.txt", "2")
    l1, l2 = add_location(library, r1), add_location(library, r2)
    scan_location(library, l1)
    scan_location(library, l2)
    (r1 / "same.txt").unlink()
    scan_location(library, l1)
    assert set(entries(library, l1)) == set()
    assert set(entries(library, l2)) == {"same.txt", "only2.txt"}
    assert (location(library, l1).files, location(library, l2).files) == (0, 2)


@pytest.mark.parametrize("old_sqlite", [False, True])
def test_a_mode_change_of_many_files_keeps_their_hashes(
    library: Library, root: Path, monkeypatch: pytest.MonkeyPatch, old_sqlite: bool
) -> None:
    """`chmod -R`: every file's entry takes the new mode, keeps its hash and is not read
    (written many rows per statement, or one each without UPDATE ... FROM)."""
    if old_sqlite:
        monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    files = [write(root / "d" / f"f{i:03d}.txt", f"content {i}") for i in range(300)]
    lid = add_location(library, root)
    scan_location(library, lid)
    before = {k: (v.hash, v.mode) for k, v in entries(library, lid).items()}
    for f in files:
        os.chmod(f, 0o600)

    r = scan_location(library, lid)

    assert (r.errors, r.files_hashed, r.modified) == ([], 0, 300)
    after = {k: (v.hash, v.mode) for k, v in entries(library, lid).items()}
    assert after == {k: (h, 0o600 if k.startswith("d/") else m) for k, (h, m) in before.items()}
