"""File-system watcher: watchdog events become debounced dirty subtrees per location (SPEC 2).

Events are hints, not truth. They are turned into *keys* (paths relative to the location
root, see `paths.key_for`) and coalesced per key, so that an editor's safe-save (write a temp
file, rename it over the target), a delete+create or a burst of writes leaves one dirty key;
a path that appeared and vanished again within one batch (a temp file) leaves none.
A location's batch is delivered once it has been quiet for `quiet` seconds, reduced to a
minimal set of subtrees, as `on_dirty(location_id, subtrees, full)` from one thread.

`full=True` means "rescan the whole location": the watcher lost track (inotify queue
overflow, a dead observer, an unknown event, a root that came back online) or the periodic
safety net is due. Where inotify runs out of watches, or watching cannot work at all
(`polling=True`), watchdog's PollingObserver takes over.

Root health is checked every `check_interval` seconds with a stat and a read of the
location marker: a missing root is *offline*, a root without the right marker *replaced*
(`on_state`); its observer is stopped and restarted, with a full rescan, once it is back.

`is_trusted` tells the sync service whether it may refresh only the dirty paths: true only
while the observer has run healthy since the caller's last full scan (`mark_scanned`) and
nothing is pending.

Threads: one watchdog observer (plus its emitter and, on Linux, inotify reader) per
location, named `spacesync-watch-*-<id>`, and one `spacesync-watch-dispatch` thread that
checks roots, (re)starts observers and calls every callback. Observer threads only record
events under the state lock; they never call user code.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import stat
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from watchdog.events import (
    EVENT_TYPE_ATTRIB,
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_OPENED,
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from .constants import OFFLINE, ONLINE, REPLACED
from .paths import key_for, marker_path
from .rules import IgnoreRules, builtin_ignored

log = logging.getLogger(__name__)

# watchdog's recursive inotify emitter adds a folder made together with its parent (mkdir
# -p) twice, once while walking the new parent and once for its own create event, and
# warns that the second add replaces the first's callback (the same one): harmless noise.
warnings.filterwarnings(
    "ignore", message="Callback with id .* already exists for watch", category=RuntimeWarning
)

OnDirty = Callable[[int, set[str], bool], None]
OnState = Callable[[int, str], None]
OnWarning = Callable[[int, str], None]

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
MAX_USER_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"

# Events that say nothing about content or metadata.
_NO_CHANGE = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})
# The events asked of the observer. Leaving out opens and read-only closes keeps them out
# of the kernel's inotify mask: reading a watched folder (a backup tool, a sync reading its
# own source) then costs the watcher nothing, where it cost ~70 µs of CPU per file read.
# Folder "modified" events are left out too: a folder's mtime moves with its children.
_WANTED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileModifiedEvent,
    FileAttribEvent,
    DirAttribEvent,
    FileClosedEvent,
]
_CHANGED = frozenset({EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED, EVENT_TYPE_ATTRIB})

# What an event did to one path.
_CREATED, _GONE, _CHANGE, _MOVED_IN = "created", "gone", "changed", "moved-in"


@dataclass(frozen=True)
class WatchedLocation:
    id: int
    root: str
    uuid: str  # the content the root's marker must have for the root to be "online"
    ignore: tuple[str, ...] = ()  # the location's gitignore-style patterns


# --- Small pure helpers --------------------------------------------------------------------


def reduce_subtrees(keys: Iterable[str]) -> set[str]:
    """The minimal set of subtrees covering `keys`: a key below another one is dropped."""
    keyset = set(keys)
    out = set()
    for k in keyset:
        parts = k.split("/")
        if not any("/".join(parts[:i]) in keyset for i in range(1, len(parts))):
            out.add(k)
    return out


def probe_location(root: str, uuid: str) -> str:
    """online, offline (root missing or unreadable) or replaced (marker missing or foreign)."""
    return _MarkerProbe(root, uuid).probe()


class _MarkerProbe:
    """Probes a root every few seconds, reading the marker only when its stat changed.

    Reading it each time would wake the location's observer with open/close events and
    keep a sleeping disk busy; a stat is served from the inode cache.
    """

    def __init__(self, root: str, uuid: str) -> None:
        self.root = root
        self.uuid = uuid
        self._marker = marker_path(root)
        self._seen: tuple[int, int, int, int] | None = None  # marker's ino, dev, size, mtime_ns
        self._seen_state = REPLACED

    def probe(self) -> str:
        try:
            st = os.stat(self.root)
        except OSError:
            return OFFLINE
        if not stat.S_ISDIR(st.st_mode):
            return OFFLINE
        try:
            mst = os.stat(self._marker)
        except (FileNotFoundError, NotADirectoryError):
            return REPLACED
        except OSError:
            return OFFLINE  # an I/O error on the marker: the drive is not usable right now
        sig = (mst.st_ino, mst.st_dev, mst.st_size, mst.st_mtime_ns)
        if sig != self._seen:
            try:
                text = self._marker.read_text(encoding="utf-8", errors="replace")
            except (FileNotFoundError, NotADirectoryError):
                return REPLACED
            except OSError:
                return OFFLINE
            self._seen = sig
            self._seen_state = ONLINE if text.strip() == self.uuid else REPLACED
        return self._seen_state


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def watch_limit_message(root: str) -> str:
    """The message for an exhausted inotify watch limit, naming the exact command to run."""
    current = _read_int(MAX_USER_WATCHES)
    target = current * 2 if current else 524288
    now = f" (now {current})" if current else ""
    return (
        f"inotify watch limit reached while watching {root}{now}: falling back to polling, "
        f"which is slower. To watch natively, raise the limit with "
        f"`sudo sysctl fs.inotify.max_user_watches={target}` (add "
        f"`fs.inotify.max_user_watches={target}` to a file in /etc/sysctl.d/ to keep it)."
    )


def instance_limit_message(root: str) -> str:
    current = _read_int(MAX_USER_INSTANCES)
    target = current * 2 if current else 1024
    return (
        f"inotify instance limit reached while watching {root}: falling back to polling. "
        f"Raise it with `sudo sysctl fs.inotify.max_user_instances={target}`."
    )


def _is_ignored(rules: IgnoreRules, key: str, is_dir: bool) -> bool:
    # Every component counts: `.spacesync/tmp/x` is ignored although `x` is not.
    if any(builtin_ignored(part) for part in key.split("/")):
        return True
    return rules.user_ignored(key, is_dir)


# --- inotify with overflow and watch-limit reporting ---------------------------------------
#
# watchdog 7 handles an inotify queue overflow internally (it rebuilds its watches and only
# logs a warning), and it silently skips sub-folders whose watch cannot be added (ENOSPC).
# Both mean events were or will be lost, so the Watcher must hear of them. We get there
# through watchdog's public seams only: InotifyEmitter accepts the InotifyFD to use, and
# every watch group registers itself as a callback on it; wrapping both lets us see
# `on_queue_overflow` and the OSError of `add_callback`.


@dataclass(frozen=True)
class _InotifyHooks:
    on_overflow: Callable[[], None]
    on_watch_limit: Callable[[], None]


class _CallbackProxy:
    """Stands in for a watch group on the InotifyFD, reporting queue overflows."""

    def __init__(self, group: Any, hooks: _InotifyHooks) -> None:
        self._group = group
        self._hooks = hooks

    def on_event(self, event: Any) -> None:
        self._group.on_event(event)

    def on_watch_deleted(self, wd: Any) -> None:
        self._group.on_watch_deleted(wd)

    def on_queue_overflow(self) -> None:
        self._group.on_queue_overflow()  # let watchdog rebuild its watches first
        self._hooks.on_overflow()


class _InotifyFDProxy:
    """The InotifyFD as the emitter's watch group sees it; reports ENOSPC on add_callback."""

    def __init__(self, fd: Any, hooks: _InotifyHooks) -> None:
        self._fd = fd
        self._hooks = hooks
        # One proxy per watch group, so the FD's per-callback de-duplication still works.
        # dict.setdefault is atomic under the GIL, so no lock is needed here.
        self._proxies: dict[int, _CallbackProxy] = {}

    def add_callback(self, path: bytes, mask: int, callback: Any, id_: int) -> Any:
        proxy = self._proxies.setdefault(id(callback), _CallbackProxy(callback, self._hooks))
        try:
            return self._fd.add_callback(path, mask, proxy, id_)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                self._hooks.on_watch_limit()
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fd, name)


def _make_inotify_observer_class() -> type[BaseObserver] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        from watchdog.observers.inotify import InotifyEmitter
        from watchdog.observers.inotify_c import InotifyFD
    except Exception:  # unsupported libc, or a watchdog without these seams
        return None

    class _InotifyObserver(BaseObserver):
        """watchdog's InotifyObserver with its InotifyFD wrapped (see above)."""

        def __init__(self, hooks: _InotifyHooks, thread_name: str) -> None:
            self._inotify_fd = InotifyFD()  # raises OSError(EMFILE) at the instance limit
            self._inotify_fd.name = thread_name
            self._inotify_fd.start()
            super().__init__(InotifyEmitter, inotify_fd=_InotifyFDProxy(self._inotify_fd, hooks))

        def helper_threads(self) -> list[threading.Thread]:
            return [self._inotify_fd]

        def on_thread_stop(self) -> None:
            super().on_thread_stop()
            self._inotify_fd.stop()
            with contextlib.suppress(RuntimeError):
                self._inotify_fd.join()

    return _InotifyObserver


_INOTIFY_OBSERVER = _make_inotify_observer_class()


def _observer_healthy(obs: BaseObserver) -> bool:
    """True when the observer and every thread it needs are alive."""
    emitters = list(obs.emitters)
    helpers: list[threading.Thread] = getattr(obs, "helper_threads", list)()
    return (
        obs.is_alive()
        and bool(emitters)
        and all(e.is_alive() for e in emitters)
        and all(t.is_alive() for t in helpers)
    )


def _dispose(obs: BaseObserver, timeout: float) -> None:
    obs.stop()
    with contextlib.suppress(RuntimeError):  # never started
        obs.join(timeout)


# --- Per-location state --------------------------------------------------------------------


@dataclass(slots=True)
class _Change:
    """What one batch of events did to one key."""

    existed_before: bool  # the path existed before the batch's first event
    exists_now: bool  # it exists after the batch's last event
    is_dir: bool


@dataclass(eq=False)
class _LocState:
    loc: WatchedLocation
    root: str  # absolute, no trailing separator
    prefixes: tuple[str, ...]  # root + separator, also resolved: event paths start with one
    rules: IgnoreRules
    probe: _MarkerProbe
    polling: bool
    next_full: float
    state: str = ONLINE  # as last reported (the caller assumes online when it calls watch)
    observer: BaseObserver | None = None
    gen: int = 0  # observer generation; events of older observers are dropped
    started_once: bool = False
    pending: dict[str, _Change] = field(default_factory=dict)
    first_at: float | None = None  # first event of the pending batch
    last_at: float | None = None  # latest event of the pending batch
    full: bool = False  # a full rescan is pending
    trusted: bool = False
    untrusted_at: float = -math.inf  # when the watcher last lost track of changes
    check_now: bool = True  # probe the root and fix the observer on the next dispatch pass
    limit_hit: bool = False  # inotify ran out of watches: switch to polling
    failure: str | None = None  # why the observer must be restarted
    suppressed: dict[str, float] = field(default_factory=dict)  # key -> until
    suppressed_trees: dict[str, float] = field(default_factory=dict)  # key -> until


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, location_id: int, gen: int) -> None:
        self._watcher = watcher
        self._location_id = location_id
        self._gen = gen

    def dispatch(self, event: FileSystemEvent) -> None:
        self._watcher._on_event(self._location_id, self._gen, event)


# --- The watcher ---------------------------------------------------------------------------


class Watcher:
    """Watches location roots and reports dirty subtrees (see the module docstring).

    Callbacks run on the `spacesync-watch-dispatch` thread, never under a lock:
    `on_dirty(location_id, subtrees, full)`, `on_state(location_id, state)` for online /
    offline / replaced changes, and `on_warning(location_id, message)` for problems the user
    should see (the inotify watch limit). A callback may call back into the Watcher.

    quiet: seconds without events before a batch is delivered; max_wait: deliver anyway
    this long after a batch's first event (a file that never stops changing);
    full_rescan_interval: the periodic safety net; polling / poll_interval: use watchdog's
    PollingObserver everywhere, and how often it walks the tree; check_interval: how often
    roots, markers and observer threads are checked; max_pending: beyond this many dirty
    keys a batch becomes a full rescan; clock: the time base of `suppress`, `mark_scanned`
    and the debounce (monotonic).
    """

    def __init__(
        self,
        on_dirty: OnDirty,
        on_state: OnState | None = None,
        *,
        quiet: float = 1.0,
        max_wait: float = 10.0,
        full_rescan_interval: float = 3600.0,
        polling: bool = False,
        poll_interval: float = 5.0,
        check_interval: float = 2.0,
        max_pending: int = 100_000,
        on_warning: OnWarning | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_dirty = on_dirty
        self._on_state = on_state
        self._on_warning = on_warning
        self._quiet = quiet
        self._max_wait = max_wait  # a never-quiet location (a growing log) still gets delivered
        self._full_interval = full_rescan_interval
        self._polling = polling
        self._poll_interval = poll_interval
        self._check_interval = check_interval
        self._max_pending = max_pending  # beyond this many keys a full rescan is cheaper
        self._clock = clock
        # Guards _locs, every _LocState field, _kick and _stopping. Held only briefly and
        # never while calling watchdog's start/stop or a callback.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        # Guards creating, starting and stopping observers, so that unwatch() and stop()
        # never race a restart on the dispatch thread. Taken before _lock, never inside it.
        self._lifecycle = threading.RLock()
        self._locs: dict[int, _LocState] = {}
        self._kick = False  # something needs the dispatch thread before its next deadline
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._gen_counter = 0

    # -- public API -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="spacesync-watch-dispatch", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every observer and the dispatch thread; no callback runs after this returns
        (unless the dispatch thread is stuck in one for longer than `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lifecycle:
            with self._lock:
                states = list(self._locs.values())
            for st in states:
                self._stop_observer(st, max(0.1, deadline - time.monotonic()))

    def watch(self, loc: WatchedLocation) -> None:
        """Start watching a location (again, if its root or uuid changed)."""
        root = os.path.abspath(loc.root)
        prefixes = {os.path.join(root, "")}
        with contextlib.suppress(OSError):
            prefixes.add(os.path.join(os.path.realpath(root), ""))  # FSEvents reports these
        with self._lock:
            old = self._locs.get(loc.id)
            if old is not None and old.root == root and old.loc.uuid == loc.uuid:
                old.loc, old.rules = loc, IgnoreRules(loc.ignore)
                return
        if old is not None:
            self.unwatch(loc.id)
        st = _LocState(
            loc=loc,
            root=root,
            prefixes=tuple(prefixes),
            rules=IgnoreRules(loc.ignore),
            probe=_MarkerProbe(root, loc.uuid),
            polling=self._polling,
            next_full=self._clock() + self._full_interval,
        )
        with self._lock:
            self._locs[loc.id] = st
            self._kick_locked()

    def unwatch(self, location_id: int) -> None:
        """Stop watching. A delivery already in progress may still complete."""
        with self._lifecycle:
            with self._lock:
                st = self._locs.pop(location_id, None)
            if st is not None:
                self._stop_observer(st, 5.0)

    def suppress(
        self, location_id: int, keys: Iterable[str], seconds: float = 2.0, *, subtrees: bool = False
    ) -> None:
        """Drop events for `keys` for the next `seconds`: the engine is about to write them.

        With `subtrees=True` everything below each key is suppressed too (renaming or
        deleting a folder). Cost: one dict update per key; expired entries are pruned by the
        dispatch thread.
        """
        until = self._clock() + seconds
        with self._lock:
            st = self._locs.get(location_id)
            if st is not None:
                # A later call never shortens an earlier window by much: all windows are
                # short and counted from now, so a plain update is good enough (and fast).
                (st.suppressed_trees if subtrees else st.suppressed).update(
                    dict.fromkeys(keys, until)
                )

    def mark_scanned(self, location_id: int, started: float | None = None) -> None:
        """The caller finished a full scan of the location (begun at `started`, a time of
        this Watcher's clock, if known). From now on the watcher may vouch for it, unless
        it lost track of changes after the scan started."""
        with self._lock:
            st = self._locs.get(location_id)
            if st is None:
                return
            if started is not None and st.untrusted_at >= started:
                return  # events may have been lost during the scan
            st.trusted = True
            st.full = False
            st.next_full = self._clock() + self._full_interval
            if not st.pending:
                st.first_at = st.last_at = None

    def is_trusted(self, location_id: int) -> bool:
        """True while the observer runs healthy since the last full scan, nothing is pending
        and nothing was lost (overflow, error, offline) since that scan."""
        with self._lock:
            st = self._locs.get(location_id)
            if (
                st is None
                or not st.trusted
                or st.state != ONLINE
                or st.full
                or st.check_now
                or st.limit_hit
                or st.failure
                or any(self._kept(c) for c in st.pending.values())
            ):
                return False
            obs = st.observer
        return obs is not None and _observer_healthy(obs)

    def pending(self, location_id: int) -> set[str]:
        """Dirty subtrees recorded but not yet delivered."""
        with self._lock:
            st = self._locs.get(location_id)
            if st is None:
                return set()
            return reduce_subtrees(k for k, c in st.pending.items() if self._kept(c))

    def state(self, location_id: int) -> str | None:
        """online / offline / replaced as last reported, None if not watched."""
        with self._lock:
            st = self._locs.get(location_id)
            return None if st is None else st.state

    def is_polling(self, location_id: int) -> bool:
        with self._lock:
            st = self._locs.get(location_id)
            return st is not None and st.polling

    # -- observer threads: recording events --------------------------------------------------

    def _on_event(self, location_id: int, gen: int, event: FileSystemEvent) -> None:
        # Runs on watchdog's observer thread: an exception here would kill it.
        try:
            self._record(location_id, gen, event)
        except Exception:
            log.exception("watcher: cannot handle %r; falling back to a full rescan", event)
            self._lost_track(location_id, gen, "error while handling an event")

    def _record(self, location_id: int, gen: int, event: FileSystemEvent) -> None:
        etype = event.event_type
        if etype in _NO_CHANGE:
            return
        if etype == EVENT_TYPE_MODIFIED and event.is_directory:
            return  # a folder's mtime moves with its children, whose events we get anyway
        known = etype in _CHANGED or etype in (
            EVENT_TYPE_CREATED,
            EVENT_TYPE_DELETED,
            EVENT_TYPE_MOVED,
        )
        if not known:
            log.warning("watcher: unknown event %r; falling back to a full rescan", event)
            self._lost_track(location_id, gen, f"unknown event {etype!r}")
            return
        now = self._clock()
        with self._lock:
            st = self._locs.get(location_id)
            if st is None or st.gen != gen:
                return  # an event of a stopped observer
            is_dir = event.is_directory
            src = self._rel(st, event.src_path)
            if etype == EVENT_TYPE_MOVED:
                dest = self._rel(st, getattr(event, "dest_path", ""))
                if src == "" or dest == "":
                    st.check_now = True  # the root itself moved
                    self._kick_locked()
                    return
                self._note(st, src, _GONE, is_dir, now)
                self._note(st, dest, _MOVED_IN, is_dir, now)
            elif src == "":
                if etype == EVENT_TYPE_DELETED:
                    st.check_now = True  # probe at once instead of at the next check
                    self._kick_locked()
                # Other events on the root itself change no entry.
            elif etype == EVENT_TYPE_CREATED:
                self._note(st, src, _CREATED, is_dir, now)
            elif etype == EVENT_TYPE_DELETED:
                self._note(st, src, _GONE, is_dir, now)
            else:
                self._note(st, src, _CHANGE, is_dir, now)

    @staticmethod
    def _rel(st: _LocState, path: bytes | str) -> str | None:
        """The path relative to the root ('' for the root), None when outside it."""
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path:
            return None
        for prefix in st.prefixes:
            if path.startswith(prefix):
                return path[len(prefix) :]
            if path == prefix[:-1]:
                return ""
        return None

    def _note(self, st: _LocState, rel: str | None, what: str, is_dir: bool, now: float) -> None:
        """Coalesce one event into the pending batch (called with _lock held)."""
        if rel is None:
            return  # moved in from or out to somewhere outside the root
        key = key_for(rel)
        if _is_ignored(st.rules, key, is_dir) or self._is_suppressed(st, key, now):
            return
        if not st.full:
            change = st.pending.get(key)
            exists = what != _GONE
            if change is None:
                # A move onto an existing path replaces it, so only a create proves absence.
                st.pending[key] = _Change(what != _CREATED, exists, is_dir)
                if len(st.pending) > self._max_pending:
                    st.pending.clear()
                    st.full = True
            else:
                change.exists_now = exists
                change.is_dir = is_dir
        if st.first_at is None:
            st.first_at = now
            self._kick_locked()  # the dispatch thread may be sleeping past now + quiet
        st.last_at = now

    @staticmethod
    def _is_suppressed(st: _LocState, key: str, now: float) -> bool:
        if st.suppressed.get(key, -math.inf) >= now:
            return True
        if st.suppressed_trees:
            parts = key.split("/")
            for i in range(1, len(parts) + 1):
                if st.suppressed_trees.get("/".join(parts[:i]), -math.inf) >= now:
                    return True
        return False

    @staticmethod
    def _kept(change: _Change) -> bool:
        # A path created and removed again within one batch (a temp file) changed nothing.
        return change.existed_before or change.exists_now

    def _lost_track(self, location_id: int, gen: int, why: str) -> None:
        """Events were lost (overflow, error, unknown event): a full rescan is needed."""
        now = self._clock()
        with self._lock:
            st = self._locs.get(location_id)
            if st is None or st.gen != gen:
                return
            self._untrust(st, now)
            st.full = True
            st.pending.clear()
            if st.first_at is None:
                st.first_at = now
            st.last_at = now
            self._kick_locked()
        log.warning("watcher: location %s: %s; a full rescan follows", location_id, why)

    def _watch_limit_hit(self, location_id: int, gen: int) -> None:
        with self._lock:
            st = self._locs.get(location_id)
            if st is None or st.gen != gen or st.limit_hit:
                return
            st.limit_hit = True
            self._untrust(st, self._clock())
            self._kick_locked()

    def _untrust(self, st: _LocState, now: float) -> None:
        st.trusted = False
        st.untrusted_at = now

    def _kick_locked(self) -> None:
        self._kick = True
        self._wake.notify_all()

    # -- dispatch thread ---------------------------------------------------------------------

    def _run(self) -> None:
        next_check = self._clock()
        while True:
            with self._lock:
                while not self._stopping and not self._kick:
                    wait = min(next_check, self._next_deadline_locked()) - self._clock()
                    if wait <= 0:
                        break
                    self._wake.wait(wait)
                if self._stopping:
                    return
                self._kick = False
            now = self._clock()
            probe_all = now >= next_check
            if probe_all:
                next_check = now + self._check_interval
            try:
                self._maintain_all(probe_all, now)
                self._deliver_due(self._clock())
            except Exception:  # keep watching whatever went wrong in one pass
                log.exception("watcher: dispatch pass failed")

    def _next_deadline_locked(self) -> float:
        deadline = math.inf
        for st in self._locs.values():
            if st.state != ONLINE:
                continue  # nothing is delivered for it; the periodic check brings it back
            deadline = min(deadline, st.next_full)
            due = self._due_at(st)
            if due is not None:
                deadline = min(deadline, due)
        return deadline

    def _due_at(self, st: _LocState) -> float | None:
        if st.first_at is None or st.last_at is None or st.state != ONLINE:
            return None
        return min(st.last_at + self._quiet, st.first_at + self._max_wait)

    def _maintain_all(self, probe_all: bool, now: float) -> None:
        with self._lock:
            ids = [
                i
                for i, st in self._locs.items()
                if probe_all or st.check_now or st.limit_hit or st.failure
            ]
            if probe_all:
                for st in self._locs.values():
                    self._prune_suppressed(st, now)
        for location_id in ids:
            self._maintain(location_id)

    @staticmethod
    def _prune_suppressed(st: _LocState, now: float) -> None:
        for d in (st.suppressed, st.suppressed_trees):
            if d:
                expired = [k for k, until in d.items() if until < now]
                for k in expired:
                    del d[k]

    def _maintain(self, location_id: int) -> None:
        """Probe one root and bring its observer in line (dispatch thread only)."""
        reports: list[tuple[str, Any]] = []
        with self._lifecycle:
            with self._lock:
                st = self._locs.get(location_id)
                if st is None:
                    return
                st.check_now = False
                failure, st.failure = st.failure, None
                limit_hit, st.limit_hit = st.limit_hit, False
            probed = st.probe.probe()
            if probed != ONLINE:
                self._stop_observer(st, 5.0)
                with self._lock:
                    if st.state != probed:
                        st.state = probed
                        self._untrust(st, self._clock())
                        st.pending.clear()
                        st.full = False
                        st.first_at = st.last_at = None
                        reports.append(("state", probed))
            else:
                reports.extend(self._ensure_observer(st, failure, limit_hit))
        self._report(location_id, reports)

    def _ensure_observer(
        self, st: _LocState, failure: str | None, limit_hit: bool
    ) -> list[tuple[str, Any]]:
        """Start or restart the observer of an online root; the reports to make."""
        reports: list[tuple[str, Any]] = []
        came_back = st.state != ONLINE
        obs = st.observer
        if obs is not None and not failure and not came_back:
            if not _observer_healthy(obs):
                failure = "the file-system observer stopped"
            elif not (limit_hit and not st.polling):
                return reports
        if limit_hit and not st.polling:
            st.polling = True
            message = watch_limit_message(st.root)
            log.warning("watcher: location %s: %s", st.loc.id, message)
            reports.append(("warning", message))
        if failure:
            log.warning("watcher: location %s: %s; restarting it", st.loc.id, failure)
        self._stop_observer(st, 5.0)
        first_start = not st.started_once
        reports.extend(self._start_observer(st))
        now = self._clock()
        with self._lock:
            if came_back:
                st.state = ONLINE
                reports.insert(0, ("state", ONLINE))
            if not first_start or came_back or limit_hit:
                # Changes since the last good observer are unknown: rescan everything.
                self._untrust(st, now)
                st.full = True
                st.pending.clear()
                st.first_at = st.last_at = now - self._quiet  # deliver at once
        return reports

    def _start_observer(self, st: _LocState) -> list[tuple[str, Any]]:
        """Start an observer for `st`, falling back to polling at inotify's limits."""
        reports: list[tuple[str, Any]] = []
        for _attempt in range(2):
            with self._lock:
                self._gen_counter += 1
                gen = st.gen = self._gen_counter
            lid = st.loc.id
            obs: BaseObserver | None = None
            try:
                obs = self._new_observer(st, gen)
                obs.schedule(
                    _Handler(self, lid, gen),
                    st.root,
                    recursive=True,
                    event_filter=_WANTED_EVENTS,
                )
                obs.name = f"spacesync-watch-observer-{lid}"
                for emitter in obs.emitters:
                    emitter.name = f"spacesync-watch-{'poll' if st.polling else 'emit'}-{lid}"
                obs.start()
            except OSError as e:
                if obs is not None:
                    _dispose(obs, 1.0)
                if st.polling or e.errno not in (errno.ENOSPC, errno.EMFILE):
                    # Root vanished in between, or no permission: the next check retries.
                    log.warning("watcher: cannot watch %s: %s", st.root, e)
                    with self._lock:
                        st.failure = f"cannot watch the root ({e})"
                    return reports
                if e.errno == errno.ENOSPC:
                    message = watch_limit_message(st.root)
                else:
                    message = instance_limit_message(st.root)
                log.warning("watcher: location %s: %s", lid, message)
                reports.append(("warning", message))
                st.polling = True
                continue
            with self._lock:
                st.observer = obs
                st.started_once = True
            return reports
        return reports

    def _new_observer(self, st: _LocState, gen: int) -> BaseObserver:
        lid = st.loc.id
        if st.polling:
            return PollingObserver(timeout=self._poll_interval)
        if _INOTIFY_OBSERVER is not None:
            hooks = _InotifyHooks(
                on_overflow=lambda: self._lost_track(lid, gen, "inotify queue overflow"),
                on_watch_limit=lambda: self._watch_limit_hit(lid, gen),
            )
            factory: Callable[..., BaseObserver] = _INOTIFY_OBSERVER
            return factory(hooks, f"spacesync-watch-inotify-{lid}")
        from watchdog.observers import Observer

        return Observer()

    def _stop_observer(self, st: _LocState, timeout: float) -> None:
        with self._lock:
            obs, st.observer = st.observer, None
            self._gen_counter += 1
            st.gen = self._gen_counter  # drop whatever the old observer still delivers
        if obs is not None:
            _dispose(obs, timeout)

    def _report(self, location_id: int, reports: list[tuple[str, Any]]) -> None:
        for kind, value in reports:
            callback: Callable[[int, str], None] | None = (
                self._on_state if kind == "state" else self._on_warning
            )
            if callback is None:
                continue
            try:
                callback(location_id, value)
            except Exception:
                log.exception("watcher: %s callback failed", kind)

    def _deliver_due(self, now: float) -> None:
        batches: list[tuple[int, set[str], bool]] = []
        with self._lock:
            for location_id, st in self._locs.items():
                if st.state != ONLINE:
                    continue
                if now >= st.next_full:
                    st.full = True  # the periodic safety net
                    if st.first_at is None:
                        st.first_at = st.last_at = now - self._quiet
                due = self._due_at(st)
                if due is None or due > now:
                    continue
                subtrees = reduce_subtrees(k for k, c in st.pending.items() if self._kept(c))
                full = st.full
                st.pending.clear()
                st.full = False
                st.first_at = st.last_at = None
                if full:
                    st.next_full = now + self._full_interval
                if subtrees or full:
                    batches.append((location_id, subtrees, full))
        for location_id, subtrees, full in batches:
            try:
                self._on_dirty(location_id, subtrees, full)
            except Exception:
                log.exception("watcher: on_dirty failed for location %s", location_id)
                with self._lock:
                    failed = self._locs.get(location_id)
                    if failed is not None:
                        self._untrust(failed, self._clock())  # the caller missed these changes
