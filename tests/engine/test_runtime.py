"""The engine loop with real watchers: instant syncs, no self-triggering, requests."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from spacesync_gui.engine import conduits
from spacesync_gui.engine.events import RunFinished
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


@pytest.fixture
def instant(library, tmp_path: Path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "seed.txt").write_text("seed")
    c = conduits.add_conduit(library, src, dst, "bidirectional", schedule="instant")
    runs = Runs()
    rt = EngineRuntime(library, runs, quiet=0.2, instant_quiet=0.3)
    rt.start()
    # The first run (a new instant conduit is due once) brings both sides together.
    wait_for(lambda: (dst / "seed.txt").exists(), what="the initial sync")
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
