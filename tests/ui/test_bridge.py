import threading

from spacesync_gui.engine.events import (
    ItemFinished,
    ItemStarted,
    Progress,
    RunFinished,
    RunStarted,
    ScanProgress,
)
from spacesync_gui.engine.locations import list_locations
from spacesync_gui.ui.bridge import RuntimeUnavailable
from spacesync_gui.ui.event_queue import coalesce


def _p(cid, done):
    return Progress(cid, done, 100, done * 10, 1000, f"f{done}", 1.0, 1.0)


def test_coalesce_keeps_newest_progress_in_place():
    events = [
        RunStarted(1, 5), _p(1, 1), ItemStarted(1, "copy", "a"), _p(2, 1), _p(1, 2),
        ScanProgress(3, 1, 1, 1, 1), ItemFinished(1, "copy", "a", True), _p(1, 3),
        ScanProgress(3, 2, 2, 2, 2), RunFinished(1, 5, "completed"),
    ]  # fmt: skip
    out = coalesce(events)
    assert out == [
        RunStarted(1, 5), _p(2, 1), ItemFinished(1, "copy", "a", True), _p(1, 3),
        ScanProgress(3, 2, 2, 2, 2), RunFinished(1, 5, "completed"),
    ]  # fmt: skip


def test_events_from_engine_threads_arrive_throttled_and_in_order(qtbot, bridge):
    progress, finished, items = [], [], []
    bridge.progress.connect(progress.append)
    bridge.runFinished.connect(finished.append)
    bridge.itemsFinished.connect(items.append)

    def engine():
        bridge.post(RunStarted(1, 1))
        for i in range(5000):
            bridge.post(_p(1, i))
            bridge.post(ItemFinished(1, "copy", f"f{i}", True))
        bridge.post(RunFinished(1, 1, "completed", {"copied": 5000}))

    t = threading.Thread(target=engine, name="fake-engine")
    with qtbot.waitSignal(bridge.runFinished, timeout=5000):
        t.start()
    t.join()
    assert finished[0].summary == {"copied": 5000}
    # 10,000 events in, a handful of signals out, the newest progress last.
    assert 1 <= len(progress) < 100
    assert progress[-1].files_done == 4999
    assert sum(len(batch) for batch in items) == 5000


def test_library_calls_run_off_the_gui_thread(qtbot, bridge, aio, folders):
    from spacesync_gui.engine.locations import add_location

    seen = aio(bridge.call(lambda: threading.current_thread().name))
    assert seen.startswith("gui-library")
    aio(bridge.db(add_location, folders["alpha"]))
    assert [loc.path for loc in aio(bridge.db(list_locations))] == [str(folders["alpha"].resolve())]


def test_without_runtime_syncing_says_so(qtbot, bridge, aio):
    import pytest

    with pytest.raises(RuntimeUnavailable):
        aio(bridge.sync_now(1))
