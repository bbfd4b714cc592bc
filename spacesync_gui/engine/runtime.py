"""The engine loop that the headless daemon and the desktop app both run.

One thread ("spacesync-engine") owns the sync service and the database writes: it keeps
the index live from watcher hints, starts due runs one at a time, and serves requests
(sync now, preview, resolve) handed in through a queue as Futures. Watcher callbacks
and front-end calls only enqueue, so nothing outside the engine thread ever waits on
disk or database work.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .conduits import MIRROR, list_conduits, set_paused
from .constants import ONLINE
from .db import Library
from .errors import SpaceSyncError
from .events import Emit, EngineWarning, LocationStateChanged
from .locations import change_counters, list_locations, refresh_state, scan
from .results import RunReport, ScanResult
from .scan_split import scan_whole
from .scheduler import INSTANT, Scheduler, parse_schedule
from .service import FileSyncService
from .watcher import WatchedLocation, Watcher

log = logging.getLogger(__name__)

# Runs in a row an instant conduit gets for items its verify found changed during the run.
MAX_FOLLOW_UPS = 3


@dataclass
class _Request:
    kind: str  # sync | preview | resolve | reload | dirty | state | call
    args: tuple[Any, ...] = ()
    future: Future[Any] | None = field(default=None)


class EngineRuntime:
    def __init__(
        self,
        lib: Library,
        emit: Emit,
        *,
        watch: bool = True,
        quiet: float = 1.0,
        instant_quiet: float = 2.0,
        polling: bool = False,
        full_rescan_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lib = lib
        self._emit = emit
        self._clock = clock
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.scheduler = Scheduler(clock, quiet=instant_quiet)
        self.watcher: Watcher | None = None
        if watch:
            self.watcher = Watcher(
                self._on_dirty,
                self._on_state,
                quiet=quiet,
                polling=polling,
                full_rescan_interval=full_rescan_interval,
                on_warning=self._on_warning,
            )
        # The engine's own writes are not suppressed by time window (that would also
        # swallow a user's edit made right after a sync): the executor records what it
        # wrote in the index, so rescanning those paths finds no change and starts no run.
        # fork_workers: copies and a second scanning process are forked by the CopyHelper
        # where one was started (forked_copies.py); this process has threads: never here.
        self.service = FileSyncService(
            lib, emit, should_stop=self._stopping.is_set, fork_workers=True
        )
        # location id -> ids of the conduits with an endpoint in it (engine thread only)
        self._users: dict[int, list[int]] = {}
        self._instant: set[int] = set()
        # Locations all of whose conduits are mirrors: their scans leave a new or changed
        # file's hash to its copy, which reads it anyway (deferred.py), as a mirror run's
        # own scan does. Reading it in the scan too read every new file twice.
        self._mirrored: set[int] = set()
        self._watched: set[int] = set()
        self._follow_ups: dict[int, int] = {}  # conduit id -> follow-up runs in a row
        # conduit id -> its locations' change counters when its last run ended
        self._seen: dict[int, dict[int, int]] = {}
        self.idle = threading.Event()  # set while no run is in progress (tests, shutdown)
        self.idle.set()

    # -- front-end API (any thread) -----------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="spacesync-engine", daemon=True)
        self._thread.start()
        if self.watcher is not None:
            self.watcher.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop within `timeout`: the current item finishes or is abandoned safely (a copy
        in flight leaves only a temp file, which the next run removes)."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._queue.put(_Request("wake"))
        if self.watcher is not None:
            self.watcher.stop(timeout=max(0.5, timeout / 2))
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))

    def _submit(self, kind: str, *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        if self._stopping.is_set():
            fut.set_exception(SpaceSyncError("SpaceSync is shutting down"))
            return fut
        self._queue.put(_Request(kind, args, fut))
        return fut

    def sync_now(self, conduit_id: int, force: bool = False) -> Future[RunReport]:
        return self._submit("sync", conduit_id, force)

    def sync_all(self) -> list[Future[RunReport]]:
        return [self.sync_now(c.id) for c in list_conduits(self.lib) if not c.paused]

    def preview(self, conduit_id: int) -> Future[RunReport]:
        return self._submit("preview", conduit_id)

    def resolve(self, conflict_id: int, keep: str) -> Future[RunReport]:
        return self._submit("resolve", conflict_id, keep)

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run `fn` on the engine thread (database work for a front end)."""
        return self._submit("call", fn)

    def rescan(self, location_id: int) -> Future[Any]:
        """Scan a location now, in line with the runs (a user's "rescan")."""
        return self.call(lambda: self._scan(location_id, None))

    def set_paused(self, conduit_id: int, paused: bool) -> Future[Any]:
        def change() -> Any:
            info = set_paused(self.lib, conduit_id, paused)
            self._reload()
            return info

        return self.call(change)

    def pause_all(self) -> Future[Any]:
        return self.call(lambda: self._pause_all(True))

    def resume_all(self) -> Future[Any]:
        return self.call(lambda: self._pause_all(False))

    def reload(self) -> Future[Any]:
        return self._submit("reload")

    def next_run(self, conduit_id: int) -> float | None:
        return self.scheduler.next_due(conduit_id)

    # -- watcher callbacks (watcher thread) -------------------------------------------------
    def _on_dirty(self, location_id: int, subtrees: set[str], full: bool) -> None:
        self._queue.put(_Request("dirty", (location_id, frozenset(subtrees), full)))

    def _on_state(self, location_id: int, state: str) -> None:
        self._queue.put(_Request("state", (location_id, state)))

    def _on_warning(self, location_id: int, message: str) -> None:
        log.warning("%s", message)
        self._emit(EngineWarning(message, location_id))

    # -- the engine thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._reload()
            self._initial_scans()
        except Exception:
            log.exception("engine start-up failed")
        while not self._stopping.is_set():
            wake = self.scheduler.next_wakeup()
            timeout = 3600.0 if wake is None else max(0.0, min(3600.0, wake - self._clock()))
            try:
                req: _Request | None = self._queue.get(timeout=timeout)
            except queue.Empty:
                req = None
            if req is not None:
                self._handle(req)
            if self._stopping.is_set():
                break
            for cid in self.scheduler.due():
                if self._stopping.is_set() or not self._queue.empty():
                    break  # serve requests first; due runs stay due
                self._scheduled_run(cid)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                return
            if req.future is not None and not req.future.done():
                req.future.set_exception(SpaceSyncError("SpaceSync is shutting down"))

    def _handle(self, req: _Request) -> None:
        try:
            if req.kind == "dirty":
                self._rescan(*req.args)
                return
            if req.kind == "state":
                self._state_changed(*req.args)
                return
            if req.kind == "wake":
                return
            result: Any
            if req.kind == "sync":
                cid, force = req.args
                result = self._guarded_run(cid, force=force)
            elif req.kind == "preview":
                result = self._with_trust(lambda: self.service.sync(req.args[0], dry_run=True))
            elif req.kind == "resolve":
                result = self.service.resolve_conflict(*req.args)
            elif req.kind == "reload":
                self._reload()
                result = None
            elif req.kind == "call":
                result = req.args[0]()
            else:
                raise AssertionError(req.kind)
            if req.future is not None:
                req.future.set_result(result)
        except BaseException as e:  # handed to the caller, never kills the loop
            if req.future is not None and not req.future.done():
                req.future.set_exception(e)
            else:
                log.exception("engine request %s failed", req.kind)

    def _guarded_run(self, cid: int, force: bool = False) -> RunReport:
        self.scheduler.started(cid)
        self.idle.clear()
        try:
            report = self._with_trust(lambda: self.service.sync(cid, force=force))
            self._follow_up(cid, report)
            return report
        finally:
            self.scheduler.finished(cid)
            self._remember(cid)
            self.idle.set()

    def _remember(self, cid: int) -> None:
        """What the conduit has seen of its locations' indexes, as its run ends."""
        try:
            counters = change_counters(self.lib)
        except Exception:  # the run's own failure (e.g. a broken database) is reported
            log.exception("conduit %s: could not read the change counters", cid)
            self._seen.pop(cid, None)  # unknown: any later rescan counts as news
            return
        self._seen[cid] = {
            loc: counters.get(loc, 0) for loc, cids in self._users.items() if cid in cids
        }

    def _follow_up(self, cid: int, report: RunReport) -> None:
        """An instant conduit runs again when its verify found items that changed during
        the run: the verify's rescan put them in the index, so the watcher's rescan of the
        same change finds nothing new and would not start a run. Bounded, so a file that
        never verifies does not keep the engine busy; a watcher-seen change resets it."""
        changed_during_run = (
            report.status == "completed"
            and not report.dry_run
            and not report.verified
            and not report.errors
        )
        if cid not in self._instant or not changed_during_run:
            self._follow_ups.pop(cid, None)
            return
        done = self._follow_ups.get(cid, 0)
        if done >= MAX_FOLLOW_UPS:
            log.warning("conduit %s: still differing after %s follow-up runs", cid, done)
            return
        self._follow_ups[cid] = done + 1
        self.scheduler.notify_change(cid)

    def _scheduled_run(self, cid: int) -> None:
        try:
            report = self._guarded_run(cid)
            log.info(
                "conduit %s: %s (%s copied, %s deleted, %s moved, %s conflicts)",
                cid,
                report.status,
                report.copied,
                report.deleted,
                report.moved,
                report.conflicts,
            )
        except SpaceSyncError as e:
            log.warning("conduit %s: %s", cid, e)
        except Exception:
            log.exception("conduit %s: run failed", cid)

    def _with_trust(self, fn: Callable[[], RunReport]) -> RunReport:
        """Let the service skip the full rescan of locations the watcher vouches for."""
        if self.watcher is not None:
            self.service.trusted_dirty = {
                loc.id: self.watcher.pending(loc.id)
                for loc in list_locations(self.lib)
                if self.watcher.is_trusted(loc.id)
            }
        try:
            return fn()
        finally:
            self.service.trusted_dirty = None

    def _pause_all(self, paused: bool) -> None:
        for c in list_conduits(self.lib):
            if c.paused != paused:
                set_paused(self.lib, c.id, paused)
        self._reload()

    def _reload(self) -> None:
        """Re-read conduits and locations: schedules, watches, who uses which location."""
        users: dict[int, list[int]] = {}
        modes: dict[int, set[str]] = {}
        instant: set[int] = set()
        known = set()
        for c in list_conduits(self.lib):
            known.add(c.id)
            sched = parse_schedule(c.schedule)
            self.scheduler.set_conduit(c.id, sched, c.paused, c.last_sync)
            if sched.kind == INSTANT:
                instant.add(c.id)
            for loc_id in {c.source_location_id, c.target_location_id}:
                users.setdefault(loc_id, []).append(c.id)
                modes.setdefault(loc_id, set()).add(c.mode)
        for cid in list(self._users_all()):
            if cid not in known:
                self.scheduler.remove(cid)
        self._users, self._instant = users, instant
        self._mirrored = {loc_id for loc_id, m in modes.items() if m == {MIRROR}}
        if self.watcher is not None:
            watched = set()
            for loc in list_locations(self.lib):
                if loc.watch:
                    watched.add(loc.id)
                    self.watcher.watch(WatchedLocation(loc.id, loc.path, loc.uuid, loc.ignore))
            for loc_id in self._watched - watched:
                self.watcher.unwatch(loc_id)
            self._watched = watched

    def _users_all(self) -> set[int]:
        return {cid for cids in self._users.values() for cid in cids}

    def _initial_scans(self) -> None:
        """Bring the index up to date with what happened while the app was not running."""
        for loc in list_locations(self.lib):
            if self._stopping.is_set():
                return
            started = time.monotonic()
            try:
                self._scan(loc.id, None)
            except SpaceSyncError as e:
                log.info("%s", e)
                continue
            if self.watcher is not None:
                self.watcher.mark_scanned(loc.id, started)

    def _scan(self, location_id: int, subtree: str | None) -> ScanResult:
        """A subtree's scan, or (None or "") the whole location's, shared with a second
        process where one may be had; a location only mirrors use leaves hashes to the
        copies."""
        defer = location_id in self._mirrored
        if subtree:
            return scan(self.lib, location_id, subtree, emit=self._emit, defer_hashes=defer)
        return scan_whole(self.lib, location_id, emit=self._emit, defer=defer)

    def _rescan(self, location_id: int, subtrees: frozenset[str], full: bool) -> None:
        started = time.monotonic()
        changes = 0
        try:
            for sub in [None] if full else sorted(subtrees):
                r = self._scan(location_id, sub)
                changes += r.added + r.modified + r.deleted
        except SpaceSyncError as e:
            log.info("rescan of location %s: %s", location_id, e)
            return
        if full and self.watcher is not None:
            self.watcher.mark_scanned(location_id, started)
        # A change this rescan finds nothing new about may still be news to a conduit:
        # another conduit's run may have rescanned it first, or written it (a chain
        # A -> B -> C). The location's change counter tells: it moved since this
        # conduit's last run ended. (A conduit's own writes moved it before that end.)
        now = change_counters(self.lib).get(location_id, 0) if not changes else 0
        for cid in self._users.get(location_id, []):
            if cid in self._instant and (
                changes or self._seen.get(cid, {}).get(location_id) != now
            ):
                self._follow_ups.pop(cid, None)
                self.scheduler.notify_change(cid)

    def _state_changed(self, location_id: int, state: str) -> None:
        new = refresh_state(self.lib, location_id)
        if new != state:
            log.debug("location %s: watcher said %s, probe says %s", location_id, state, new)
        self._emit(LocationStateChanged(location_id, new))
        if new == ONLINE:
            self._rescan(location_id, frozenset(), True)
