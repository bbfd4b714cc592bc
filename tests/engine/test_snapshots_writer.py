"""IndexWriter writes exactly what it was given, on the bulk (JSON) path and the plain one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from spacesync_gui.engine import models, snapshots
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.snapshots import IndexWriter, Side, load_base, load_side


def _target_writer(library, tmp_path: Path):  # noqa: ANN202
    src, dst = tmp_path / "s", tmp_path / "d"
    src.mkdir()
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    return c, Side("target", c.target_location_id, dst, ""), IndexWriter(library, c.id)


@pytest.mark.parametrize("n", [3, 300])
def test_entries_and_base_round_trip(library, tmp_path: Path, n: int):
    c, side, w = _target_writer(library, tmp_path)
    want: dict[str, Item] = {}
    for i in range(n):
        key = f"dir é/ß-{i:04d} \"q\" 'x' 日本.txt"
        it = Item("file", i * 7, 1_700_000_000_123_456_789 + i, f"{i:032x}", None, 0o644, 2**40 + i)
        want[key] = it
        w.set_entry(side, key, it)
        w.set_base(key, it._replace(mode=0, inode=0))
    w.set_entry(side, "link", Item("symlink", 0, 5, None, "../t", 0o777, 9), raw=b"l\xffnk")
    w.flush()
    load_side(library, side)
    got = {k: v for k, v in side.snapshot.items() if k != "link"}
    assert got == want
    assert side.snapshot["link"].link == "../t" and side.disk == {"link": "l\udcffnk"}
    base = load_base(library, c.id)
    assert base == {k: v._replace(mode=0, inode=0) for k, v in want.items()}
    # Replacing and removing go through the same paths.
    for i, key in enumerate(list(want)):
        if i % 2:
            w.set_entry(side, key, None)
            w.set_base(key, None)
        else:
            w.set_entry(side, key, want[key]._replace(size=1))
    w.flush()
    load_side(library, side)
    assert len(side.snapshot) == 1 + (n + 1) // 2
    assert all(v.size == 1 for k, v in side.snapshot.items() if k != "link")
    assert len(load_base(library, c.id)) == (n + 1) // 2
    assert snapshots.BULK_ROWS < 300  # more than one statement, and groups of all sizes
    assert _totals(library, side) == _totals_of(side)  # kept by triggers, replaces included


def _totals(library, side: Side) -> tuple[int, int]:
    with library.session() as s:
        loc = s.get(models.Location, side.location_id)
        return loc.files, loc.bytes


def _totals_of(side: Side) -> tuple[int, int]:
    files = [v.size for v in side.snapshot.values() if v.kind == "file"]
    return len(files), sum(files)


@pytest.mark.parametrize("bulk", [False, True])
def test_a_folder_replaced_by_a_file_takes_its_entries_along(library, tmp_path: Path, bulk):
    c, side, w = _target_writer(library, tmp_path)
    n = 100 if bulk else 3
    w.set_entry(side, "thing", Item("dir", 0, 1, None, None, 0o755, 1))
    w.set_entry(side, "thing2", Item("file", 5, 1, "f" * 32, None, 0o644, 1))
    for i in range(n):
        w.set_entry(side, f"thing/{i}.txt", Item("file", 10, 1, "a" * 32, None, 0o644, 2 + i))
    w.flush()
    w.set_entry(side, "thing", Item("file", 7, 2, "b" * 32, None, 0o644, 999))
    w.flush()
    load_side(library, side)
    assert set(side.snapshot) == {"thing", "thing2"}
    assert _totals(library, side) == (2, 12)


def test_without_json1_the_plain_statements_are_used(library, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(snapshots._json_ok, "ok", False)
    test_entries_and_base_round_trip(library, tmp_path, 300)
    side_keys = snapshots.load_base_keys(library, 1, ["nope"])
    assert side_keys == {}


@pytest.mark.parametrize(("n", "old_sqlite"), [(3, False), (300, False), (300, True)])
def test_copies_landed_records_what_a_run_holds_in_memory(
    library, tmp_path: Path, monkeypatch, n: int, old_sqlite: bool
):
    """A worker's batch of landed copies: target entries, base rows and the source's
    hashes in the index, and the writer's memory (what a verify plans with) equal to it."""
    if old_sqlite:  # no UPDATE ... FROM: the hashes are filled one statement each
        monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    c, dst, _ = _target_writer(library, tmp_path)
    src = Side("source", c.source_location_id, tmp_path / "s", "")
    seed = IndexWriter(library, c.id)
    planned: dict[str, Item] = {}
    for i in range(n):
        key = f"d/f-{i:03d} ü.txt"
        planned[key] = Item(
            "file", 10 + i, 1_700_000_000_000_000_000 + i, None, None, 0o640, 50 + i
        )
        seed.set_entry(src, key, planned[key])
    odd = "d/n\\xffme"  # a non-UTF-8 name (its key, paths.key_for): the copy takes its bytes
    planned[odd] = Item("file", 3, 5, None, None, 0o600, 7)
    seed.set_entry(src, odd, planned[odd], raw=b"d/n\xffme")
    seed.flush()
    load_side(library, src)
    load_side(library, dst)
    base = load_base(library, c.id)
    w = IndexWriter(library, c.id, base=base)
    # Edited on the source since the scan (its size, or only its mtime): no hash filled.
    changed, touched = "d/f-000 ü.txt", "d/n\\xffme"
    with library.engine.begin() as conn:
        snapshots.dbapi_of(conn).execute(
            "UPDATE entries SET size = 99 WHERE location_id = ? AND path = ?",
            (src.location_id, changed),
        )
        snapshots.dbapi_of(conn).execute(
            "UPDATE entries SET mtime_ns = 6 WHERE location_id = ? AND path = ?",
            (src.location_id, touched),
        )
    known_base = "d/f-001 ü.txt"  # a base without a hash (deferred) takes the copy's
    done = []
    for i, (key, it) in enumerate(planned.items()):
        b = it._replace(mode=0, inode=0) if key == known_base else None
        done.append((key, it, b, it._replace(hash=f"{i:032x}", inode=1000 + i, mode=0o640)))
    w.copies_landed(dst, src, done)
    w.flush()

    mem_dst, mem_src, mem_base = dict(dst.snapshot), dict(src.snapshot), dict(base)
    mem_disk = dict(dst.disk)
    load_side(library, dst)
    load_side(library, src)
    assert dst.snapshot == mem_dst == {k: exact for k, _, _, exact in done}
    assert dst.disk == mem_disk == {odd: "d/n\udcffme"}
    hashes = {k: v.hash for k, v in src.snapshot.items()}
    assert hashes[changed] is None and src.snapshot[changed].size == 99
    assert hashes[touched] is None and src.snapshot[touched].mtime_ns == 6
    edited = (changed, touched)
    assert all(hashes[k] == exact.hash for k, _, _, exact in done if k not in edited)
    assert {k: v for k, v in mem_src.items() if k not in edited} == {
        k: v for k, v in src.snapshot.items() if k not in edited
    }
    assert (
        load_base(library, c.id) == mem_base == {known_base: done[1][3]._replace(mode=0, inode=0)}
    )


@pytest.mark.parametrize(("n", "limit"), [(0, None), (1, None), (1000, None), (37, 30)])
def test_bulk_write_writes_every_row_once(library, tmp_path: Path, monkeypatch, n, limit):
    """Rows go many per statement, in groups that fit this SQLite's parameter limit."""
    monkeypatch.setattr(snapshots, "_vars_limit", {})  # read again from this connection
    c, side, _ = _target_writer(library, tmp_path)
    rows = [
        (side.location_id, f"f{i:04d}", b"f\xff" if i % 7 == 0 else None, "file")
        + (i, i, i, 0, None, None, 0.0)
        for i in range(n)
    ]
    with library.engine.begin() as conn:
        db = snapshots.dbapi_of(conn)
        old = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        if limit is not None:  # as an old SQLite's 999, made small: 2 rows a statement
            db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        try:
            snapshots.bulk_write(db, snapshots.ENTRY_UPSERT, 11, rows)
        finally:
            db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)
        got = db.execute(
            "SELECT location_id, path, raw, kind, size, mtime_ns, inode, mode, hash, link, "
            "indexed_at FROM entries WHERE location_id = ? ORDER BY path",
            (side.location_id,),
        ).fetchall()
    assert got == rows
