"""A run scans a conduit's two sides at once, one in a forked child (forked_scans.py):
forked by the CLI itself, or by the CopyHelper of a process with threads (the app's engine
process, the daemon)."""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

import pytest

from spacesync_gui.engine import forked_copies, forked_scans
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.service import FileSyncService
from tests.engine.test_indexer import entries

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")


def _tree(root: Path, n: int = 30) -> None:
    for i in range(n):
        p = root / f"d{i % 5}" / f"f{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"file {i}")


def test_a_job_runs_in_another_process_and_returns_its_value(library) -> None:
    job = forked_scans.ForkedJob(library, lambda lib: (os.getpid(), str(lib.data_dir)))
    pid, data_dir = job.result()
    assert pid != os.getpid() and data_dir == str(library.data_dir)


def test_a_failing_job_is_reported_not_hidden(library) -> None:
    def boom(lib):  # type: ignore[no-untyped-def]
        raise RuntimeError("no")

    with pytest.raises(forked_scans.ChildFailed):
        forked_scans.ForkedJob(library, boom).result()


def test_a_failed_child_scan_is_redone_here(
    library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _tree(src)
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    FileSyncService(library).sync(c.id)
    (dst / "d1" / "f1.txt").write_text("changed on the target")
    monkeypatch.setattr(forked_scans, "can_fork", lambda: True)

    def fail(self):  # type: ignore[no-untyped-def]
        os.waitpid(self._pid, 0)
        os.close(self._read_fd)
        raise forked_scans.ChildFailed("killed")

    monkeypatch.setattr(forked_scans.ForkedJob, "result", fail)

    r = FileSyncService(library, fork_workers=True).sync(c.id)

    assert r.status == "completed" and r.copied == 1
    assert (dst / "d1" / "f1.txt").read_text() == "file 1"


def _where(lib, tag: str):  # type: ignore[no-untyped-def]
    if tag == "boom":
        raise RuntimeError("no")
    return os.getpid(), str(lib.data_dir), tag


@pytest.fixture
def helper(library, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A CopyHelper with the library, started as the app's engine process starts it; from
    then on this process counts as one with threads (it may not fork)."""
    monkeypatch.setattr(forked_copies, "can_fork", lambda: True)
    forked_copies.start_helper(lib=library)
    monkeypatch.setattr(forked_copies, "can_fork", lambda: False)
    monkeypatch.setattr(forked_scans, "can_fork", lambda: False)
    h = forked_copies._helper
    assert h is not None
    yield h
    forked_copies.stop_helper()


def test_the_helper_runs_a_job_in_a_child_of_its_own(library, helper) -> None:
    call = forked_copies.call_in_helper(functools.partial(_where, tag="x"))
    assert call is not None
    pid, data_dir, tag = call.result()
    assert pid not in (os.getpid(), helper.pid)
    assert (data_dir, tag) == (str(library.data_dir), "x")
    # A job that raises is reported, and the helper goes on serving.
    failing = forked_copies.call_in_helper(functools.partial(_where, tag="boom"))
    assert failing is not None
    with pytest.raises(forked_scans.ChildFailed):
        failing.result()
    # What it cannot take is left to the caller: a job that does not pickle, or a helper
    # busy with another run's copies.
    assert forked_copies.call_in_helper(lambda lib: 1) is None
    with helper._lock:
        assert forked_copies.call_in_helper(functools.partial(_where, tag="y")) is None
    again = forked_copies.call_in_helper(functools.partial(_where, tag="z"))
    assert again is not None and again.result()[2] == "z"


@pytest.fixture(params=["fork", "helper"])
def second_scans(request, library, monkeypatch: pytest.MonkeyPatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Counts the second scanning processes runs start: forked here ("fork", the CLI) or by
    the CopyHelper ("helper": a process with threads, the app's engine or the daemon)."""
    started: list[int] = []
    if request.param == "fork":
        real_init = forked_scans.ForkedJob.__init__

        def counting_init(self, lib, fn):  # type: ignore[no-untyped-def]
            started.append(1)
            real_init(self, lib, fn)

        monkeypatch.setattr(forked_scans.ForkedJob, "__init__", counting_init)
        monkeypatch.setattr(forked_scans, "can_fork", lambda: True)  # pytest may run threads
        return started
    helper = request.getfixturevalue("helper")
    real_call = helper.call

    def counting_call(fn):  # type: ignore[no-untyped-def]
        call = real_call(fn)
        if call is not None:
            started.append(1)
        return call

    monkeypatch.setattr(helper, "call", counting_call)
    return started


def test_sync_scans_in_a_second_process_and_indexes_both_sides(
    library, second_scans: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spacesync_gui.engine import indexer
    from spacesync_gui.engine.events import ScanProgress

    src, dst = tmp_path / "src", tmp_path / "dst"
    _tree(src)
    _tree(dst, 10)
    (dst / "d0" / "f0.txt").write_text("edited on the target")
    c = add_conduit(library, src, dst, "mirror")
    monkeypatch.setattr(indexer, "PROGRESS_INTERVAL", 0.0)  # an event at every step
    events: list[object] = []

    r = FileSyncService(library, emit=events.append, fork_workers=True).sync(c.id)

    assert r.status == "completed" and r.verified
    assert second_scans  # the refresh's second scan ran in another process
    scans = [e for e in events if isinstance(e, ScanProgress)]
    # The refresh shares both sides out (both scanned whole): this process's counts are
    # marked as a part, and each side ends once, after both processes, with all its files.
    # (The verify's rescans come after: folders of the target, in this process alone.)
    ends = [i for i, e in enumerate(scans) if e.done]
    refresh = scans[: ends[0]]
    assert refresh and all(e.shared for e in refresh)
    first = {scans[i].location_id: scans[i].files_seen for i in ends[:2]}
    assert first == {c.source_location_id: 30, c.target_location_id: 10}
    assert (dst / "d0" / "f0.txt").read_text() == "file 0"
    target, source = c.target_location_id, c.source_location_id
    assert set(entries(library, target)) == set(entries(library, source))
    again = FileSyncService(library, fork_workers=True).sync(c.id)
    assert (again.copied, again.deleted) == (0, 0) and again.verified


def test_a_dead_helper_leaves_the_scans_to_this_process(library, helper, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _tree(src)
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    os.kill(helper.pid, signal.SIGKILL)

    r = FileSyncService(library, fork_workers=True).sync(c.id)

    assert r.status == "completed" and r.verified and r.copied == 30
    assert set(entries(library, c.target_location_id)) == set(
        entries(library, c.source_location_id)
    )


def test_the_runtimes_whole_location_scans_are_shared_with_the_helpers_child(
    library, helper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spacesync_gui.engine.events import ScanProgress
    from spacesync_gui.engine.locations import add_location
    from spacesync_gui.engine.runtime import EngineRuntime

    root = tmp_path / "docs"
    _tree(root, 60)
    loc = add_location(library, root)
    delivered: list[int] = []
    real = helper.call
    monkeypatch.setattr(helper, "call", lambda fn: delivered.append(1) or real(fn))
    events: list[object] = []
    rt = EngineRuntime(library, events.append, watch=False)
    rt.start()
    try:
        # The start-up scan, then a user's rescan after a change: both shared out.
        rt.rescan(loc.id).result(timeout=60)
        assert len(delivered) == 2
        (root / "d3" / "f3.txt").write_text("changed")
        (root / "d4" / "new.txt").write_text("new")
        r = rt.rescan(loc.id).result(timeout=60)
    finally:
        rt.stop()
    assert len(delivered) == 3
    assert r.files_seen == 61 and r.added >= 1 and r.modified >= 1
    assert set(entries(library, loc.id)) == {
        *(f"d{i % 5}/f{i}.txt" for i in range(60)),
        *(f"d{i}" for i in range(5)),
        "d4/new.txt",
    }
    # One end per scan, after both parts, with both parts' files (the front end reloads
    # the location's totals then).
    ends = [e for e in events if isinstance(e, ScanProgress) and e.done]
    assert [e.files_seen for e in ends] == [60, 60, 61]
