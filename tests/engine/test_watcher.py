"""The watcher with real watchdog observers on temporary folders.

Waits are polling loops with generous timeouts; no test asserts how long anything took.
"Nothing else arrives" is checked by waiting a few quiet periods after a sentinel change.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent

from spacesync_gui.engine.paths import marker_path
from spacesync_gui.engine.watcher import (
    MAX_USER_WATCHES,
    WatchedLocation,
    Watcher,
    probe_location,
    reduce_subtrees,
)

QUIET = 0.2
TIMEOUT = 15.0
LINUX = sys.platform.startswith("linux")


def wait_for(pred: Callable[[], object], timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = pred()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Recorder:
    """Collects callbacks from the dispatch thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards dirty, states and warnings
        self.dirty: list[tuple[int, set[str], bool]] = []
        self.states: list[tuple[int, str]] = []
        self.warnings: list[tuple[int, str]] = []
        self.threads: set[str] = set()

    def on_dirty(self, location_id: int, subtrees: set[str], full: bool) -> None:
        with self.lock:
            self.dirty.append((location_id, set(subtrees), full))
            self.threads.add(threading.current_thread().name)

    def on_state(self, location_id: int, state: str) -> None:
        with self.lock:
            self.states.append((location_id, state))

    def on_warning(self, location_id: int, message: str) -> None:
        with self.lock:
            self.warnings.append((location_id, message))

    def take(self) -> list[tuple[int, set[str], bool]]:
        with self.lock:
            out, self.dirty = self.dirty, []
            return out

    def delivered(self) -> set[str]:
        with self.lock:
            return set().union(*(k for _, k, _ in self.dirty)) if self.dirty else set()

    def has_full(self) -> bool:
        with self.lock:
            return any(full for _, _, full in self.dirty)


def make_root(path: Path, uuid: str = "uuid-1") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    marker_path(path).parent.mkdir(exist_ok=True)
    marker_path(path).write_text(uuid + "\n")
    return path


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make_watcher(rec: Recorder) -> Iterator[Callable[..., Watcher]]:
    made: list[Watcher] = []

    def make(**kw) -> Watcher:
        kw.setdefault("quiet", QUIET)
        kw.setdefault("check_interval", 0.2)
        kw.setdefault("poll_interval", 0.2)
        w = Watcher(rec.on_dirty, rec.on_state, on_warning=rec.on_warning, **kw)
        made.append(w)
        w.start()
        return w

    yield make
    for w in made:
        w.stop()


def watching(w: Watcher, root: Path, loc_id: int = 1, ignore: tuple[str, ...] = ()) -> None:
    w.watch(WatchedLocation(loc_id, str(root), "uuid-1", ignore))
    wait_for(lambda: observer(w, loc_id) is not None, what="observer started")
    # Give the emitter a moment to register its watches before the test writes.
    time.sleep(0.1)


def observer(w: Watcher, loc_id: int = 1):
    st = w._locs.get(loc_id)
    return None if st is None else st.observer


def settle(rec: Recorder, root: Path, name: str = "sentinel.txt") -> None:
    """Write a sentinel and wait for its delivery: everything before it was handled."""
    (root / name).write_text("s")
    wait_for(lambda: name in rec.delivered(), what=f"{name} delivered")


# --- pure helpers ----------------------------------------------------------------------------


def test_reduce_subtrees_keeps_only_topmost_keys() -> None:
    keys = {"a", "a/x", "a/x/y", "a b", "a b/c", "b/c", "b/c/d", "c"}
    assert reduce_subtrees(keys) == {"a", "a b", "b/c", "c"}
    assert reduce_subtrees([]) == set()


def test_probe_location(tmp_path: Path) -> None:
    root = tmp_path / "r"
    assert probe_location(str(root), "uuid-1") == "offline"
    root.mkdir()
    assert probe_location(str(root), "uuid-1") == "replaced"
    make_root(root, "someone-else")
    assert probe_location(str(root), "uuid-1") == "replaced"
    make_root(root)
    assert probe_location(str(root), "uuid-1") == "online"


# --- events become dirty keys ----------------------------------------------------------------


def test_create_modify_delete_move_produce_keys(
    tmp_path: Path, rec: Recorder, make_watcher
) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root)

    (root / "a.txt").write_text("one")
    wait_for(lambda: rec.delivered() == {"a.txt"}, what="create")
    rec.take()

    (root / "a.txt").write_text("two")
    wait_for(lambda: rec.delivered() == {"a.txt"}, what="modify")
    rec.take()

    (root / "d").mkdir()
    (root / "d" / "inner.txt").write_text("x")
    wait_for(lambda: rec.delivered() == {"d"}, what="new folder as one subtree")
    rec.take()

    (root / "a.txt").rename(root / "d" / "b.txt")
    wait_for(lambda: rec.delivered() == {"a.txt", "d/b.txt"}, what="move: source and destination")
    rec.take()

    (root / "d" / "inner.txt").unlink()
    wait_for(lambda: rec.delivered() == {"d/inner.txt"}, what="delete")
    rec.take()

    (root / "d").rename(root / "e")
    wait_for(lambda: rec.delivered() == {"d", "e"}, what="folder rename")
    rec.take()

    shutil.rmtree(root / "e")
    # inotify may report the folder's own deletion a little after its content's.
    wait_for(lambda: reduce_subtrees(rec.delivered()) == {"e"}, what="deleted folder marks itself")
    assert all(loc == 1 and not full for loc, _, full in rec.take())
    assert rec.threads == {"spacesync-watch-dispatch"}


def test_moves_into_and_out_of_the_tree(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "in.txt").write_text("x")
    (root / "leaving.txt").write_text("y")
    w = make_watcher()
    watching(w, root)

    (outside / "in.txt").rename(root / "in.txt")
    (root / "leaving.txt").rename(outside / "leaving.txt")
    wait_for(lambda: rec.delivered() == {"in.txt", "leaving.txt"}, what="moves in and out")


def test_safe_save_is_one_delivery_of_the_target(
    tmp_path: Path, rec: Recorder, make_watcher
) -> None:
    root = make_root(tmp_path / "root")
    (root / "doc.txt").write_text("old")
    # A quiet period longer than a slow fsync on a busy test machine: the editor's whole
    # save must fall into one batch.
    w = make_watcher(quiet=1.0)
    watching(w, root)

    # What editors do: write a temp file, fsync, rename it over the target.
    for i in range(3):
        tmp = root / f".doc.txt.swp{i}"
        with open(tmp, "w") as f:
            f.write(f"new {i}")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / "doc.txt")
    # Delete + create of the same path is one change too.
    (root / "other.txt").write_text("1")
    wait_for(lambda: rec.delivered(), what="first delivery")
    time.sleep(2.0)
    batches = rec.take()
    assert batches == [(1, {"doc.txt", "other.txt"}, False)]


def test_ignored_paths_produce_nothing(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root, ignore=("*.log", "build/"))

    (root / ".spacesync" / "tmp").mkdir()
    (root / ".spacesync" / "tmp" / "copy.part").write_text("x")
    (root / "~$report.docx").write_text("lock")
    (root / ".~lock.sheet.ods#").write_text("lock")
    (root / ".spacesync-tmp-123").write_text("tmp")
    (root / "run.log").write_text("log")
    (root / "build").mkdir()
    (root / "build" / "out.o").write_text("obj")
    (root / ".DS_Store").write_text("finder")
    settle(rec, root)
    assert rec.delivered() == {"sentinel.txt"}


def test_suppressed_keys_produce_nothing(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    (root / "tree").mkdir()
    w = make_watcher()
    watching(w, root)

    w.suppress(1, [f"f{i}.txt" for i in range(5000)], seconds=30.0)
    w.suppress(1, ["tree", "tree2"], seconds=30.0, subtrees=True)
    for i in range(5):
        (root / f"f{i}.txt").write_text("engine wrote this")
    (root / "tree" / "x.txt").write_text("x")
    (root / "tree").rename(root / "tree2")
    (root / "user.txt").write_text("the user wrote this")
    wait_for(lambda: rec.delivered(), what="a delivery")
    settle(rec, root)
    assert rec.delivered() == {"user.txt", "sentinel.txt"}


def test_suppression_expires(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root)
    w.suppress(1, ["late.txt"], seconds=0.0)
    time.sleep(0.05)
    (root / "late.txt").write_text("x")
    wait_for(lambda: "late.txt" in rec.delivered(), what="write after the window")


# --- offline / online / replaced -------------------------------------------------------------


def test_root_deleted_goes_offline_and_comes_back_with_a_rescan(
    tmp_path: Path, rec: Recorder, make_watcher
) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root)
    w.mark_scanned(1)
    wait_for(lambda: w.is_trusted(1), what="trusted")

    shutil.rmtree(root)
    wait_for(lambda: (1, "offline") in rec.states, what="offline")
    assert observer(w) is None
    assert not w.is_trusted(1)
    rec.take()

    # An empty folder at the same path (e.g. an empty mount point) is not the location.
    root.mkdir()
    wait_for(lambda: (1, "replaced") in rec.states, what="replaced")
    assert observer(w) is None
    time.sleep(3 * QUIET)
    assert rec.take() == []

    make_root(root)
    wait_for(lambda: (1, "online") in rec.states, what="online")
    wait_for(rec.has_full, what="full rescan after coming back")
    assert not w.is_trusted(1)
    # (rmtree removes the marker before the root, so a probe in between may see "replaced")
    states = [s for _, s in rec.states]
    assert states[-3:] == ["offline", "replaced", "online"]

    # Watching works again.
    rec.take()
    settle(rec, root)


def test_watch_of_a_missing_root_reports_offline(tmp_path: Path, rec: Recorder, make_watcher):
    w = make_watcher()
    w.watch(WatchedLocation(7, str(tmp_path / "unplugged"), "uuid-1"))
    wait_for(lambda: (7, "offline") in rec.states, what="offline")
    assert w.state(7) == "offline"
    make_root(tmp_path / "unplugged")
    wait_for(lambda: (7, "online") in rec.states, what="online")
    wait_for(rec.has_full, what="full rescan")


# --- fallbacks -------------------------------------------------------------------------------


def test_dead_emitter_falls_back_to_full_rescan(tmp_path: Path, rec: Recorder, make_watcher):
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root)
    w.mark_scanned(1)
    wait_for(lambda: w.is_trusted(1), what="trusted")
    before = w._locs[1].untrusted_at

    first = observer(w)
    for emitter in list(first.emitters):
        emitter.stop()  # the emitter thread ends, as when it dies of an error

    wait_for(rec.has_full, what="full rescan after the observer failed")
    assert not w.is_trusted(1)
    wait_for(lambda: observer(w) is not None and observer(w) is not first, what="restart")
    # A scan that started before the failure does not restore trust; a later one does.
    w.mark_scanned(1, started=before)
    assert not w.is_trusted(1)
    w.mark_scanned(1)
    wait_for(lambda: w.is_trusted(1), what="trusted again")
    rec.take()
    settle(rec, root)


class _StrangeEvent(FileSystemEvent):
    event_type = "strange"


def test_unknown_event_falls_back_to_full_rescan(tmp_path: Path, rec: Recorder, make_watcher):
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root)
    obs = observer(w)
    watch = next(iter(obs.emitters)).watch
    obs.event_queue.put((_StrangeEvent(str(root / "x")), watch))
    wait_for(rec.has_full, what="full rescan after an unknown event")


@pytest.mark.skipif(not LINUX, reason="inotify only")
def test_inotify_queue_overflow_falls_back_to_full_rescan(
    tmp_path: Path, rec: Recorder, make_watcher
) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher()
    watching(w, root)
    w.mark_scanned(1)
    emitter = next(iter(observer(w).emitters))
    group = getattr(emitter, "_inotify", None)
    if group is None or not hasattr(group, "_lock"):
        pytest.skip("this watchdog has no inotify watch group to stall")
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        queue_size = int(f.read())
    if queue_size > 200_000:
        pytest.skip("inotify queue too large to overflow quickly")

    # Stall watchdog's inotify reader (it blocks on the group's lock) while creating more
    # files than the kernel queue holds: the kernel then reports IN_Q_OVERFLOW. Each file
    # makes two events (IN_CREATE, IN_CLOSE_WRITE), and the reader may take one buffer of
    # up to 2,048 events before it blocks: queue_size files overflow with room to spare
    # (queue_size / 2 + 100 did not when the reader got its buffer in first, under load).
    with group._lock:
        for i in range(queue_size + 100):
            fd = os.open(root / f"f{i}", os.O_CREAT | os.O_WRONLY)
            os.close(fd)
    # The overflow comes after the ~16k events queued before it, which the watcher handles
    # first: on a loaded 2-core machine that took over 15 s.
    wait_for(rec.has_full, timeout=4 * TIMEOUT, what="full rescan after an overflow")
    assert not w.is_trusted(1)


@pytest.mark.skipif(not LINUX, reason="inotify only")
@pytest.mark.parametrize("failing", ["sub", "root"])
def test_inotify_watch_limit_switches_to_polling(
    tmp_path: Path, rec: Recorder, make_watcher, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    from watchdog.observers import inotify_c

    root = make_root(tmp_path / "root")
    (root / "sub").mkdir()
    limited = os.fsencode(root / "sub" if failing == "sub" else root)
    real_add_watch = inotify_c.inotify_add_watch

    def add_watch(fd: int, path: bytes, mask: int) -> int:
        # What the kernel does once fs.inotify.max_user_watches is used up.
        if path == limited:
            ctypes.set_errno(errno.ENOSPC)
            return -1
        return real_add_watch(fd, path, mask)

    monkeypatch.setattr(inotify_c, "inotify_add_watch", add_watch)
    w = make_watcher()
    w.watch(WatchedLocation(1, str(root), "uuid-1"))
    wait_for(lambda: w.is_polling(1) and observer(w) is not None, what="polling fallback")
    wait_for(lambda: rec.warnings, what="warning")
    with open(MAX_USER_WATCHES) as f:
        doubled = int(f.read()) * 2
    message = rec.warnings[0][1]
    assert f"sudo sysctl fs.inotify.max_user_watches={doubled}" in message
    if failing == "sub":
        wait_for(rec.has_full, what="full rescan: events below sub were missed")
    rec.take()
    time.sleep(0.3)  # the polling emitter's first snapshot
    (root / "sub" / "seen.txt").write_text("x")
    wait_for(lambda: "sub/seen.txt" in rec.delivered(), what="change seen by polling")


def test_forced_polling_observer(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    (root / "doc.txt").write_text("old")
    w = make_watcher(polling=True)
    watching(w, root)
    assert w.is_polling(1)
    assert "PollingObserver" in type(observer(w)).__name__
    time.sleep(0.3)  # the first snapshot

    (root / "new.txt").write_text("x")
    (root / "doc.txt").write_text("changed content")
    (root / "d").mkdir()
    (root / "d" / "f").write_text("x")
    wait_for(lambda: rec.delivered() == {"new.txt", "doc.txt", "d"}, what="polled changes")
    rec.take()

    shutil.rmtree(root)
    wait_for(lambda: (1, "offline") in rec.states, what="offline while polling")
    make_root(root)
    wait_for(lambda: (1, "online") in rec.states, what="online while polling")
    wait_for(rec.has_full, what="full rescan")


def test_periodic_full_rescan(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher(full_rescan_interval=0.5)
    watching(w, root)
    wait_for(lambda: sum(full for _, _, full in rec.dirty) >= 2, what="two safety-net rescans")


# --- trust -----------------------------------------------------------------------------------


def test_is_trusted_semantics(tmp_path: Path, rec: Recorder, make_watcher) -> None:
    root = make_root(tmp_path / "root")
    w = make_watcher(quiet=1.0)
    assert not w.is_trusted(1)  # not watched
    watching(w, root)
    assert not w.is_trusted(1)  # never scanned
    w.mark_scanned(1)
    wait_for(lambda: w.is_trusted(1), what="trusted after a full scan")

    (root / "f.txt").write_text("x")
    wait_for(lambda: w.pending(1) == {"f.txt"}, what="pending key")
    assert not w.is_trusted(1)  # something is pending
    wait_for(lambda: rec.delivered() == {"f.txt"}, what="delivery")
    assert w.pending(1) == set()
    assert w.is_trusted(1)  # delivered: the caller refreshes f.txt, the watcher vouches

    w.unwatch(1)
    assert not w.is_trusted(1)
    assert observer(w) is None


def test_reading_files_costs_the_watcher_nothing(
    tmp_path: Path, rec: Recorder, make_watcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opens and read-only closes are not even asked of the kernel (a sync reads its whole
    source; a backup tool reads everything): no event reaches the watcher for them."""
    root = make_root(tmp_path / "root")
    for i in range(20):
        (root / f"f{i}.txt").write_text(str(i))
    seen: list[str] = []
    real = Watcher._on_event

    def spy(self, location_id, gen, event):  # type: ignore[no-untyped-def]
        seen.append(event.event_type)
        real(self, location_id, gen, event)

    monkeypatch.setattr(Watcher, "_on_event", spy)
    w = make_watcher()
    watching(w, root)
    time.sleep(0.3)
    seen.clear()

    for i in range(20):
        (root / f"f{i}.txt").read_text()
    settle(rec, root)

    assert "opened" not in seen and "closed_no_write" not in seen
    assert "created" in seen  # the sentinel: events do get through
    (root / "f3.txt").chmod(0o600)
    wait_for(lambda: "f3.txt" in rec.delivered(), what="a chmod (attrib) is still seen")
