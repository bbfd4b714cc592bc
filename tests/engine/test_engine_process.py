"""The engine runtime in a child process (what the desktop app runs): real process,
real library, real folders."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.errors import SpaceSyncError
from spacesync_gui.engine.events import Event, RunFinished, ScanProgress
from spacesync_gui.engine.process import COPY_WORKER_NICENESS, ENGINE_NICENESS, EngineProcess


class Events:
    def __init__(self) -> None:
        self.got: list[Event] = []
        self.lock = threading.Lock()

    def __call__(self, ev: Event) -> None:
        with self.lock:
            self.got.append(ev)

    def of(self, kind: type) -> list[Event]:
        with self.lock:
            return [e for e in self.got if isinstance(e, kind)]


@pytest.fixture
def engine(library):  # type: ignore[no-untyped-def]
    events = Events()
    proc = EngineProcess(library, events, watch=False)
    proc.start()
    yield proc, events
    proc.stop(5.0)


def test_a_sync_runs_in_the_child_and_its_events_arrive(engine, library, tmp_path: Path):
    proc, events = engine
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    dst.mkdir()
    (src / "sub" / "a.txt").write_text("hello")
    c = add_conduit(library, src, dst, "mirror")
    proc.reload().result(30)

    report = proc.sync_now(c.id).result(60)

    assert report.status == "completed" and report.copied == 1
    assert (dst / "sub" / "a.txt").read_text() == "hello"
    assert proc._proc is not None and proc._proc.pid != os.getpid()
    # Below the app in the CPU queue, so the window stays responsive on a busy machine.
    niceness = os.getpriority(os.PRIO_PROCESS, proc._proc.pid)
    assert niceness == min(19, os.getpriority(os.PRIO_PROCESS, 0) + ENGINE_NICENESS)
    deadline = time.monotonic() + 10
    while not events.of(RunFinished) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e.conduit_id for e in events.of(RunFinished)] == [c.id]
    assert events.of(ScanProgress)
    preview = proc.preview(c.id).result(60)
    assert preview.dry_run and preview.plan == []
    assert proc.next_run(c.id) is None or isinstance(proc.next_run(c.id), float)


def test_errors_come_back_as_errors(engine):
    proc, _ = engine
    with pytest.raises(SpaceSyncError, match="no conduit"):
        proc.sync_now(999).result(30)
    with pytest.raises(SpaceSyncError):
        proc.rescan(999).result(30)


def test_stop_ends_the_child_and_fails_what_is_left(library):
    proc = EngineProcess(library, lambda ev: None, watch=False)
    proc.start()
    child = proc._proc
    assert child is not None and child.is_alive()
    proc.stop(5.0)
    assert not child.is_alive() and child.exitcode == 0
    with pytest.raises(SpaceSyncError, match="not running"):
        proc.sync_now(1).result(5)


def test_a_dead_child_fails_pending_work_instead_of_hanging(library):
    proc = EngineProcess(library, lambda ev: None, watch=False)
    proc.start()
    assert proc._proc is not None and proc._proc.pid is not None
    os.kill(proc._proc.pid, signal.SIGKILL)
    proc._proc.join(10)
    deadline = time.monotonic() + 10
    while not proc._closed and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(SpaceSyncError):
        proc.sync_now(1).result(5)
    proc.stop(1.0)


def test_the_child_stops_when_the_app_process_dies(tmp_path: Path):
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from spacesync_gui.engine.db import open_library\n"
        "from spacesync_gui.engine.process import ENGINE_NICENESS, EngineProcess\n"
        "p = EngineProcess(open_library(Path(sys.argv[1])), lambda ev: None, watch=False)\n"
        "p.start()\n"
        "print(p._proc.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    app = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "data")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert app.stdout is not None
        child = int(app.stdout.readline())
        os.kill(child, 0)  # running
        app.kill()
        app.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            if (
                Path(f"/proc/{child}/stat").exists()
                and ") Z" in Path(f"/proc/{child}/stat").read_text()
            ):
                break  # exited; a zombie until its new parent reaps it
            time.sleep(0.1)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the engine process outlived the app")
    finally:
        app.kill()


def test_what_crosses_the_pipe_unpickles_without_importing_the_engine(
    engine, library, tmp_path: Path
):
    """The app's pipe reader unpickles every answer and event. If that imports the
    engine's module tree (SQLAlchemy, planner, executor...), the import holds the GIL and
    the window froze for 50-120 ms when the first sync finished."""
    import pickle
    import subprocess
    import sys

    proc, events = engine
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "a.txt").write_text("hello")
    c = add_conduit(library, src, dst, "mirror")
    proc.reload().result(30)
    crossed = [
        proc.sync_now(c.id).result(60),
        proc.preview(c.id).result(60),
        proc.rescan(c.source_location_id).result(60),
        *events.of(Event),
    ]
    assert {type(x).__name__ for x in crossed} >= {"RunReport", "ScanResult", "RunFinished"}
    blob = tmp_path / "crossed.pickle"
    blob.write_bytes(pickle.dumps(crossed))
    heavy = ("sqlalchemy", "spacesync_gui.engine.service", "spacesync_gui.engine.indexer")
    script = (
        "import pickle, sys\n"
        f"objs = pickle.loads(open({str(blob)!r}, 'rb').read())\n"
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_engine_process_logs_into_the_apps_log(library, tmp_path: Path, caplog):
    """What the engine logs (here: its start-up scan finding a folder gone) reaches the
    app's logging, so it lands in the app's log file, not only on a stderr nobody reads."""
    import logging
    import shutil

    from spacesync_gui.engine.locations import add_location

    gone = tmp_path / "gone"
    gone.mkdir()
    loc = add_location(library, gone)
    shutil.rmtree(gone)
    caplog.set_level(logging.INFO)
    proc = EngineProcess(library, Events(), watch=False)
    proc.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = [r for r in caplog.records if r.processName == "spacesync-engine"]
            if any(f"location {loc.id} is offline" in r.getMessage() for r in lines):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no engine log line arrived: {caplog.text}")
    finally:
        proc.stop(5.0)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def _reaped_children_cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[13]) + int(fields[14])  # cutime + cstime


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc (Linux)")
def test_many_new_files_are_copied_by_workers_of_the_engines_copy_helper(
    engine, library, tmp_path: Path
):
    from spacesync_gui.engine.forked_copies import FORK_MIN_FILES

    proc, _ = engine
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.mkdir()
    for i in range(FORK_MIN_FILES + 50):
        p = src / f"d{i % 10}" / f"f{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"file {i}")
    c = add_conduit(library, src, dst, "mirror")
    proc.reload().result(30)
    assert proc._proc is not None and proc._proc.pid is not None
    # Forked while the engine process had no threads yet; it forks the copy workers.
    (helper,) = _children(proc._proc.pid)
    assert _reaped_children_cpu_ticks(helper) == 0
    # Its workers queue behind the engine, which queues behind the app's window.
    want = min(19, os.getpriority(os.PRIO_PROCESS, proc._proc.pid) + COPY_WORKER_NICENESS)
    deadline = time.monotonic() + 5  # it renices itself right after the fork
    while os.getpriority(os.PRIO_PROCESS, helper) != want and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.getpriority(os.PRIO_PROCESS, helper) == want

    report = proc.sync_now(c.id).result(120)

    assert report.status == "completed" and report.copied == FORK_MIN_FILES + 50
    assert (dst / "d3" / "f13.txt").read_text() == "file 13"
    assert _reaped_children_cpu_ticks(helper) > 0  # its workers did the copying


def test_a_runs_events_all_arrive_in_order_before_its_answer(engine, library, tmp_path: Path):
    """Events cross the pipe in batches; none is lost, and a run's events (its end
    included) are in before the answer to "sync now"."""
    from spacesync_gui.engine.events import ItemFinished, RunStarted

    proc, events = engine
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    for i in range(300):
        (src / f"f{i:03d}.txt").write_text(str(i))
    c = add_conduit(library, src, dst, "mirror")
    proc.reload().result(30)

    report = proc.sync_now(c.id).result(60)

    assert report.copied == 300
    got = events.of(Event)  # no waiting: all of them came before the answer
    kinds = [type(e) for e in got]
    assert RunFinished in kinds and RunStarted in kinds
    assert kinds.index(RunStarted) < kinds.index(ItemFinished) < kinds.index(RunFinished)
    assert max(i for i, k in enumerate(kinds) if k is ItemFinished) < kinds.index(RunFinished)
    done = sorted(e.path for e in events.of(ItemFinished) if e.ok)  # type: ignore[attr-defined]
    assert done == [f"f{i:03d}.txt" for i in range(300)]


def _events_received(conn, n: int) -> tuple[list[object], int]:
    """The next `n` events the pipe brings, and in how many messages they came."""
    got: list[object] = []
    messages = 0
    while len(got) < n:
        assert conn.poll(5.0), f"only {len(got)} of {n} events arrived"
        rid, kind, value = conn.recv()
        assert (rid, kind) == (0, "events")
        got += value
        messages += 1
    return got, messages


def test_the_outbox_sends_events_on_its_own_and_in_order_with_other_messages():
    import multiprocessing

    from spacesync_gui.engine.process import EVENT_BATCH_MOST, _Outbox

    parent, child = multiprocessing.Pipe()
    outbox = _Outbox(child)
    outbox.start()
    outbox.event("a")
    outbox.event("b")
    # Nothing else is sent: the batch still goes within its interval.
    assert _events_received(parent, 2)[0] == ["a", "b"]
    outbox.event("c")
    outbox.send((7, True, "answer"))  # the event before it goes first
    assert parent.recv() == (0, "events", ["c"])
    assert parent.recv() == (7, True, "answer")
    for i in range(3 * EVENT_BATCH_MOST):  # a batch never grows past its size
        outbox.event(i)
    got, messages = _events_received(parent, 3 * EVENT_BATCH_MOST)
    assert got == list(range(3 * EVENT_BATCH_MOST)) and messages >= 3
    outbox.event("last")
    outbox.close()  # sends what is left
    assert parent.recv() == (0, "events", ["last"])
    outbox.send((8, True, "after close"))
    assert not parent.poll(0.2)
