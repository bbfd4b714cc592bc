"""IndexWriter `fresh`: rows known to be new are inserted with the insert triggers standing
aside (schema 8), the writer moving the counters and totals itself. Each test writes the
same rows through a fresh writer and through a usual one, into twin conduits of one
library, and compares everything the triggers keep."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.snapshots import IndexWriter, Side, dbapi_of, load_base, load_side

H = "ab" * 16


def _twin(library, tmp_path: Path, name: str, fresh: bool):  # noqa: ANN202
    src, dst = tmp_path / f"{name}-s", tmp_path / f"{name}-d"
    src.mkdir()
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    sides = (
        Side("source", c.source_location_id, src, ""),
        Side("target", c.target_location_id, dst, ""),
    )
    w = IndexWriter(library, c.id, (c.source_location_id, c.target_location_id), {})
    w.fresh = fresh
    return c, sides, w


def _land(w: IndexWriter, sides: tuple[Side, Side], n: int, start: int = 0) -> None:
    """What a first mirror's pass records: a folder on both sides and its base, then the
    copies into it (source entries too), a symlink's entry with its on-disk name."""
    src, dst = sides
    folder = Item("dir", 0, 7, None, None, 0o755, 3)
    w.set_entry(src, "d", folder)
    w.set_entry(dst, "d", folder._replace(inode=4))
    w.set_base("d", folder)
    done = []
    for i in range(start, start + n):
        it = Item("file", 100 + i, 1_700_000_000_000_000_000 + i, H, None, 0o644, 10 + i)
        done.append((f"d/f{i:04d}", it, it, it._replace(inode=5000 + i)))
    w.copies_landed(dst, src, done, sources=True)
    w.set_entry(dst, "d/l\\xffnk", Item("symlink", 4, 9, None, "../x", 0o777, 9), raw=b"d/l\xffnk")


def _kept(library, c, sides: tuple[Side, Side]) -> dict[str, object]:
    """What the triggers keep, and the index itself."""
    with library.engine.begin() as conn:
        db = dbapi_of(conn)
        locs = {
            side.name: db.execute(
                "SELECT changes, files, bytes, root_digest FROM locations WHERE id = ?",
                (side.location_id,),
            ).fetchone()
            for side in sides
        }
        base_changes = db.execute(
            "SELECT base_changes FROM conduits WHERE id = ?", (c.id,)
        ).fetchone()
        journal = db.execute(
            "SELECT location_id = ?, path FROM changes WHERE location_id IN (?, ?) ORDER BY id",
            (sides[0].location_id, sides[0].location_id, sides[1].location_id),
        ).fetchall()
        digests = db.execute(
            "SELECT location_id = ?, path, digest FROM entries WHERE kind = 'dir' AND "
            "location_id IN (?, ?) ORDER BY 1, 2",
            (sides[0].location_id, sides[0].location_id, sides[1].location_id),
        ).fetchall()
        marks = db.execute("SELECT count(*) FROM bulk_inserts").fetchone()
    for side in sides:
        side.snapshot, side.disk = {}, {}
        load_side(library, side)
    return {
        "locations": locs,
        "base_changes": base_changes,
        "journal": journal,
        "digests": digests,
        "bulk_inserts": marks,
        "entries": [(dict(s.snapshot), dict(s.disk)) for s in sides],
        "base": load_base(library, c.id),
    }


@pytest.mark.parametrize("n", [3, 700])  # one flush; several (IndexWriter.BATCH)
def test_fresh_rows_move_the_counters_as_the_triggers_would(library, tmp_path: Path, n: int):
    c1, sides1, fresh = _twin(library, tmp_path, "fresh", True)
    c2, sides2, usual = _twin(library, tmp_path, "usual", False)
    for w, sides in ((fresh, sides1), (usual, sides2)):
        _land(w, sides, n)
        w.flush()
    got, want = _kept(library, c1, sides1), _kept(library, c2, sides2)
    assert got == want
    assert got["locations"]["target"][:3] == (n + 2, n, sum(100 + i for i in range(n)))
    assert got["bulk_inserts"] == (0,)
    assert fresh.moved == {
        sides1[0].location_id: usual.moved[sides2[0].location_id],
        sides1[1].location_id: usual.moved[sides2[1].location_id],
    }
    assert fresh.fresh  # nothing turned it off


def test_a_row_there_already_is_written_the_usual_way(library, tmp_path: Path):
    """Someone else indexed one of the copies first (a watcher's scan of the target): the
    batch is rolled back whole and upserted, and the writer leaves the fresh inserts."""
    c1, sides1, fresh = _twin(library, tmp_path, "fresh", True)
    c2, sides2, usual = _twin(library, tmp_path, "usual", False)
    for sides in (sides1, sides2):
        other = IndexWriter(library, 0)
        other.set_entry(sides[1], "d/f0001", Item("file", 1, 1, None, None, 0o600, 1))
        other.flush()
    for w, sides in ((fresh, sides1), (usual, sides2)):
        _land(w, sides, 5)
        w.flush()
    got, want = _kept(library, c1, sides1), _kept(library, c2, sides2)
    assert got == want
    assert got["entries"][1][0]["d/f0001"].size == 101  # the copy's, not the scan's
    assert got["locations"]["target"][1:3] == (5, sum(100 + i for i in range(5)))
    assert not fresh.fresh
    _land(fresh, sides1, 3, start=5)  # later batches: upserts from now on
    fresh.flush()
    assert _kept(library, c1, sides1)["locations"]["target"][1] == 8


@pytest.mark.parametrize("why", ["journaled", "digested"])
def test_journaled_or_digested_locations_keep_their_triggers(library, tmp_path: Path, why: str):
    """A location whose insert triggers do more than count (the change journal, a folder's
    digest to clear) is written the usual way, the writer staying fresh for the others."""
    c1, sides1, fresh = _twin(library, tmp_path, "fresh", True)
    c2, sides2, usual = _twin(library, tmp_path, "usual", False)
    for w, sides in ((fresh, sides1), (usual, sides2)):
        _land(w, sides, 2)
        w.flush()
        src = sides[0]
        with library.engine.begin() as conn:
            db = dbapi_of(conn)
            if why == "journaled":
                sql = "UPDATE locations SET journal = 1 WHERE id = ?"
                db.execute(sql, (src.location_id,))
            else:
                sql = "UPDATE entries SET digest = 'dg' WHERE location_id = ? AND path = 'd'"
                db.execute(sql, (src.location_id,))
                sql = "UPDATE locations SET root_digest = 'rd' WHERE id = ?"
                db.execute(sql, (src.location_id,))
        _land(w, sides, 2, start=2)
        w.flush()
    got, want = _kept(library, c1, sides1), _kept(library, c2, sides2)
    assert got == want
    if why == "journaled":
        assert got["journal"] == [(1, "d/f0002"), (1, "d/f0003")]
    else:
        assert (True, "d", None) in got["digests"]  # its new files voided it
        assert got["locations"]["source"][3] == "rd"  # nothing new at the top
    assert fresh.fresh
