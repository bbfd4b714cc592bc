"""A run raises the cyclic collector's threshold while it holds its snapshots, and puts
back what it found, however runs overlap or end."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.events import RunPhase
from spacesync_gui.engine.gc_pause import RUN_THRESHOLD, fewer_collections
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import write_tree


@pytest.fixture(autouse=True)
def _thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_a_sync_runs_with_fewer_collections_and_restores_them(library, tmp_path: Path):
    src, dst = tmp_path / "s", tmp_path / "d"
    write_tree(src, {"a.txt": "A"})
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    seen: list[tuple[int, int, int]] = []

    def emit(ev: object) -> None:
        if isinstance(ev, RunPhase):
            seen.append(gc.get_threshold())

    r = FileSyncService(library, emit).sync(c.id)
    assert r.status == "completed" and r.copied == 1
    assert seen and all(t == (RUN_THRESHOLD, 10, 10) for t in seen)
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_runs_restore_only_when_the_last_ends():
    inside = threading.Event()
    leave = threading.Event()

    def other_run() -> None:
        with fewer_collections():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=other_run)
    t.start()
    inside.wait(10)
    with fewer_collections():
        assert gc.get_threshold()[0] == RUN_THRESHOLD
    assert gc.get_threshold()[0] == RUN_THRESHOLD  # the other run still holds it
    leave.set()
    t.join()
    assert gc.get_threshold() == (700, 10, 10)


def test_a_failing_run_restores_and_a_disabled_collector_stays_off():
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)
    gc.set_threshold(0)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0
