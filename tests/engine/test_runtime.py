"""The engine loop with real watchers: instant syncs, no self-triggering, requests."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from spacesync_gui.engine import conduits
from spacesync_gui.engine.events import RunFinished, RunPhase
from spacesync_gui.engine.runtime import EngineRuntime


def wait_for(cond, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Runs:
    def __init__(self) -> None:
        self.finished: list[RunFinished] = []
        self.lock = threading.Lock()

    def __call__(self, ev) -> None:
        if isinstance(ev, RunFinished):
            with self.lock:
                self.finished.append(ev)

    def count(self) -> int:
        with self.lock:
            return len(self.finished)


def start_instant(library, tmp_path: Path, emit) -> tuple[Path, Path, object, EngineRuntime]:
    """A bidirectional instant conduit with a runtime started and its first run done."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "seed.txt").write_text("seed")
    c = conduits.add_conduit(library, src, dst, "bidirectional", schedule="instant")
    rt = EngineRuntime(library, emit, quiet=0.2, instant_quiet=0.3)
    rt.start()
    # The first run (a new instant conduit is due once) brings both sides together.
    wait_for(lambda: (dst / "seed.txt").exists(), what="the initial sync")
    wait_for(rt.idle.is_set)
    return src, dst, c, rt


@pytest.fixture
def instant(library, tmp_path: Path):
    runs = Runs()
    src, dst, c, rt = start_instant(library, tmp_path, runs)
    wait_for(lambda: runs.count() >= 1 and rt.idle.is_set())
    yield src, dst, c, rt, runs
    rt.stop(timeout=5)


def test_changes_on_either_side_reach_the_other(instant):
    src, dst, _c, _rt, _runs = instant
    (src / "a.txt").write_text("from source")
    wait_for(
        lambda: (dst / "a.txt").exists() and (dst / "a.txt").read_text() == "from source",
        what="a.txt on the target",
    )
    (dst / "b.txt").write_text("from target")
    wait_for(lambda: (src / "b.txt").exists(), what="b.txt on the source")
    (dst / "a.txt").write_text("edited on target")
    wait_for(lambda: (src / "a.txt").read_text() == "edited on target", what="the edit")
    (src / "b.txt").rename(src / "c.txt")
    wait_for(lambda: (dst / "c.txt").exists() and not (dst / "b.txt").exists(), what="the move")
    (src / "c.txt").unlink()
    wait_for(lambda: not (dst / "c.txt").exists(), what="the delete")


def test_safe_save_gives_one_run_and_own_writes_do_not_retrigger(instant):
    src, dst, _c, rt, runs = instant
    before = runs.count()
    # An editor's safe save: write a temp file, rename it over the document.
    tmp = src / ".doc.txt.swp"
    for i in range(5):
        tmp.write_text(f"version {i}")
        os.replace(tmp, src / "doc.txt")
    wait_for(
        lambda: (dst / "doc.txt").exists() and (dst / "doc.txt").read_text() == "version 4",
        what="the saved document",
    )
    wait_for(lambda: rt.idle.is_set())
    time.sleep(2.0)  # long enough for a self-triggered run to show up
    assert runs.count() - before == 1, [r.summary for r in runs.finished[before:]]


def test_requests_sync_preview_resolve(library, tmp_path):
    src, dst = tmp_path / "s", tmp_path / "t"
    src.mkdir()
    dst.mkdir()
    (src / "f.txt").write_text("base")
    c = conduits.add_conduit(library, src, dst, "bidirectional")
    rt = EngineRuntime(library, Runs(), watch=False)
    rt.start()
    try:
        assert rt.sync_now(c.id).result(30).status == "completed"
        (src / "f.txt").write_text("s")
        (dst / "f.txt").write_text("tt")
        preview = rt.preview(c.id).result(30)
        assert (
            preview.dry_run
            and {"action": "conflict", "path": "f.txt", "kind": "both-modified"} in preview.plan
        )
        report = rt.sync_now(c.id).result(30)
        assert report.conflicts == 1
        from spacesync_gui.engine.history import list_conflicts

        (conflict,) = list_conflicts(library, c.id)
        assert rt.resolve(conflict.id, "target").result(30).status == "completed"
        assert (src / "f.txt").read_text() == "tt"
        rt.set_paused(c.id, True).result(10)
        assert conduits.get_conduit(library, c.id).paused
        assert rt.sync_now(c.id).result(30).status == "refused"
    finally:
        rt.stop()


def test_interval_conduit_runs_when_due(library, tmp_path):
    src, dst = tmp_path / "s", tmp_path / "t"
    src.mkdir()
    dst.mkdir()
    (src / "f.txt").write_text("x")
    conduits.add_conduit(library, src, dst, "mirror", schedule="interval:1h")
    runs = Runs()
    rt = EngineRuntime(library, runs, watch=False)
    rt.start()
    try:
        # Never synced: a missed interval run is due at once, and only once.
        wait_for(lambda: (dst / "f.txt").exists(), what="the catch-up run")
        time.sleep(1.0)
        assert runs.count() == 1
    finally:
        rt.stop()


def test_a_change_the_verify_absorbs_is_synced_without_another_event(library, tmp_path):
    """A user's change made while a run verifies is picked up by the verify's rescan, so
    the watcher's later rescan finds nothing new; the run reported it unsynced, and an
    instant conduit must run again for it rather than wait for some other change."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    runs = Runs()
    moved = threading.Event()

    def emit(ev) -> None:
        runs(ev)
        # In the engine thread, just before the verify rescans what the run wrote.
        if (
            isinstance(ev, RunPhase)
            and ev.phase == "verifying"
            and not moved.is_set()
            and (src / "a.txt").exists()
        ):
            # Past the file system's timestamp tick: the folder's mtime then differs from
            # the one the run recorded, so the verify rescans the folder and sees the move.
            time.sleep(0.05)
            (src / "seed.txt").rename(src / "c.txt")
            moved.set()

    rt = start_instant(library, tmp_path, emit)[3]
    try:
        (dst / "a.txt").write_text("a")
        wait_for(moved.is_set, what="the run that copies a.txt")
        wait_for(
            lambda: (dst / "c.txt").exists() and not (dst / "seed.txt").exists(),
            timeout=15,
            what="the move made during the verify",
        )
        wait_for(lambda: rt.idle.is_set())
        summaries = [r.summary for r in runs.finished]
        # The run during which it happened said so; the follow-up run moved it.
        assert any(not r["verified"] and r["warnings"] for r in summaries), summaries
        assert summaries[-1]["moved"] == 1 and summaries[-1]["verified"], summaries
    finally:
        rt.stop(timeout=5)


def test_follow_up_runs_are_bounded(library, tmp_path):
    """Something that changes during every run's verify gets 3 follow-up runs, not an
    endless loop (each change is absorbed by a verify, so no watcher rescan starts one)."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    runs = Runs()
    armed = threading.Event()
    edits: list[Path] = []

    def emit(ev) -> None:
        runs(ev)
        if isinstance(ev, RunPhase) and ev.phase == "verifying" and armed.is_set():
            # Edit the copy this run just made (a new size each time), so its verify finds
            # it changed: the first run copies ping.txt to the source, each follow-up copies
            # the last edit back the other way.
            side = (src, dst)[len(edits) % 2]
            edits.append(side / "ping.txt")
            edits[-1].write_text("x" * (len(edits) + 2))

    rt = start_instant(library, tmp_path, emit)[3]
    try:
        before = runs.count()
        armed.set()
        (dst / "ping.txt").write_text("e")
        wait_for(lambda: runs.count() - before >= 4, what="the run and its follow-ups")
        time.sleep(2.5)  # several quiet periods: no fifth run
        summaries = [r.summary for r in runs.finished[before:]]
        assert len(summaries) == 4 and not any(r["verified"] for r in summaries), summaries
    finally:
        rt.stop(timeout=5)


def test_a_change_another_conduits_run_absorbs_still_reaches_this_one(library, tmp_path):
    """Two instant conduits share a source. A change saved just as the second one's run
    starts is rescanned by that run (the watcher had not delivered it yet), so the
    watcher's later rescan finds nothing new; the first conduit, whose run was over, must
    still get it."""
    src, one, two = tmp_path / "src", tmp_path / "one", tmp_path / "two"
    for d in (src, one, two):
        d.mkdir()
    (src / "seed.txt").write_text("seed")
    first = conduits.add_conduit(library, src, one, "mirror", schedule="instant")
    conduits.add_conduit(library, src, two, "mirror", schedule="instant")
    runs = Runs()
    armed = threading.Event()

    def emit(ev) -> None:
        runs(ev)
        if isinstance(ev, RunFinished) and ev.conduit_id == first.id and armed.is_set():
            armed.clear()
            (src / "late.txt").write_text("saved as the second run starts")
            time.sleep(0.05)  # seen by the watcher, not yet delivered (quiet 0.2 s)

    rt = EngineRuntime(library, emit, quiet=0.2, instant_quiet=0.3)
    rt.start()
    try:
        wait_for(lambda: (one / "seed.txt").exists() and (two / "seed.txt").exists())
        wait_for(rt.idle.is_set)
        armed.set()
        (src / "first.txt").write_text("both conduits run for this")
        wait_for(lambda: (two / "late.txt").exists(), what="the second conduit's copy")
        wait_for(lambda: (one / "late.txt").exists(), timeout=10, what="the first's copy")
    finally:
        rt.stop(timeout=5)


def test_instant_conduits_in_a_chain_pass_a_change_along(library, tmp_path):
    """src -> mid -> dst: what the first conduit writes into mid is its own write (already
    in the index, so the watcher's rescan finds nothing new), yet news to the second."""
    src, mid, dst = tmp_path / "src", tmp_path / "mid", tmp_path / "dst"
    for d in (src, mid, dst):
        d.mkdir()
    (src / "seed.txt").write_text("seed")
    conduits.add_conduit(library, src, mid, "mirror", schedule="instant")
    conduits.add_conduit(library, mid, dst, "mirror", schedule="instant")
    rt = EngineRuntime(library, Runs(), quiet=0.2, instant_quiet=0.3)
    rt.start()
    try:
        wait_for(lambda: (dst / "seed.txt").exists(), what="the seed at the end of the chain")
        wait_for(rt.idle.is_set)
        (src / "new.txt").write_text("passed along")
        wait_for(lambda: (dst / "new.txt").exists(), timeout=15, what="the end of the chain")
    finally:
        rt.stop(timeout=5)


def test_start_up_scans_leave_a_mirror_sources_hashes_to_its_copies(library, tmp_path):
    """The copy reads a new file anyway and hashes it as it streams: the start-up scan of
    a location only mirrors use does not read it first. A location a bidirectional conduit
    uses is hashed as before; after the mirror run the source's index holds every hash."""
    import sqlite3

    import xxhash

    from spacesync_gui.engine.events import ScanProgress

    src, dst, left, right = (tmp_path / n for n in ("src", "dst", "left", "right"))
    for d in (src, dst, left, right):
        d.mkdir()
    for i in range(5):
        (src / f"m{i}.txt").write_text(f"mirrored {i}" * 100)
        (left / f"b{i}.txt").write_text(f"both ways {i}" * 100)
    mirror = conduits.add_conduit(library, src, dst, "mirror")
    conduits.add_conduit(library, left, right, "bidirectional")
    done: dict[int, ScanProgress] = {}
    lock = threading.Lock()

    def emit(ev) -> None:
        if isinstance(ev, ScanProgress) and ev.done:
            with lock:
                done[ev.location_id] = ev

    rt = EngineRuntime(library, emit, watch=False)
    rt.start()
    try:
        ids = (mirror.source_location_id, mirror.target_location_id)
        wait_for(lambda: len(done) == 4, what="the start-up scans")
        wait_for(rt.idle.is_set)
        src_scan = done[mirror.source_location_id]
        assert (src_scan.files_seen, src_scan.files_hashed) == (5, 0)
        bidir_scans = [ev for loc, ev in done.items() if loc not in ids]
        assert sorted(ev.files_hashed for ev in bidir_scans) == [0, 5]  # right is empty

        report = rt.sync_now(mirror.id).result(timeout=60)
        assert report.status == "completed" and report.copied == 5 and report.verified
    finally:
        rt.stop(timeout=5)
    assert (dst / "m3.txt").read_text() == "mirrored 3" * 100
    db = sqlite3.connect(library.db_path)
    rows = db.execute(
        "SELECT path, hash FROM entries WHERE location_id = ? AND kind = 'file'",
        (mirror.source_location_id,),
    ).fetchall()
    db.close()
    assert {p: h for p, h in rows} == {
        f"m{i}.txt": xxhash.xxh3_128_hexdigest((f"mirrored {i}" * 100).encode()) for i in range(5)
    }
