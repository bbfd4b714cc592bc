"""IndexWriter writes exactly what it was given, on the bulk (JSON) path and the plain one."""

from __future__ import annotations

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
    assert snapshots.BULK_MIN < 300
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
