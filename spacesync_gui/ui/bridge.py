"""The one object between the GUI thread and the engine.

It owns the engine runtime (its own threads: watcher, scheduler, sync worker) and a small
pool for the library reads and writes the GUI needs, so the GUI thread never touches disk
or database. Engine events arrive on engine threads through `post`, wait in a queue, and
leave as Qt signals from the GUI thread at most every `interval_ms` (coalesced, see
event_queue). Engine futures become awaitables for qasync slots (`asyncio.wrap_future`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from spacesync_gui.engine import conduits as conduits_api
from spacesync_gui.engine.db import Library
from spacesync_gui.engine.errors import SpaceSyncError
from spacesync_gui.engine.events import (
    ConflictFound,
    Emit,
    EngineWarning,
    Event,
    ItemFinished,
    LocationStateChanged,
    PlanReady,
    Progress,
    RunFinished,
    RunPhase,
    RunStarted,
    ScanProgress,
)

from .event_queue import EventQueue

log = logging.getLogger(__name__)
T = TypeVar("T")


class RuntimeUnavailable(SpaceSyncError):
    """The sync engine could not be started; browsing and editing still work."""


class Runtime(Protocol):
    """What the GUI uses of spacesync_gui.engine.runtime.EngineRuntime."""

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def sync_now(self, conduit_id: int, force: bool = False) -> concurrent.futures.Future[Any]: ...
    def sync_all(self) -> list[concurrent.futures.Future[Any]]: ...
    def preview(self, conduit_id: int) -> concurrent.futures.Future[Any]: ...
    def resolve(self, conflict_id: int, keep: str) -> concurrent.futures.Future[Any]: ...
    def rescan(self, location_id: int) -> concurrent.futures.Future[Any]: ...
    # These may return a Future (the engine thread does the work); the bridge waits for it.
    def set_paused(self, conduit_id: int, paused: bool) -> object: ...
    def pause_all(self) -> object: ...
    def resume_all(self) -> object: ...
    def reload(self) -> object: ...
    def next_run(self, conduit_id: int) -> float | None: ...


RuntimeFactory = Callable[[Library, Emit], Runtime | None]


def default_runtime_factory(lib: Library, emit: Emit) -> Runtime | None:
    """The engine in its own process: sync threads never compete with the event loop
    for Python's GIL (see engine/process.py)."""
    try:
        from spacesync_gui.engine.process import EngineProcess
    except ImportError as e:
        log.warning("sync engine unavailable (%s); running without syncing", e)
        return None
    return EngineProcess(lib, emit)


class EngineBridge(QObject):
    scanProgress = Signal(object)  # ScanProgress
    locationStateChanged = Signal(int, str)
    planReady = Signal(object)  # PlanReady
    runStarted = Signal(int)
    runPhase = Signal(object)  # RunPhase
    progress = Signal(object)  # Progress, newest per conduit
    itemsFinished = Signal(list)  # list[ItemFinished], one batch per flush
    conflictFound = Signal(object)  # ConflictFound
    runFinished = Signal(object)  # RunFinished
    warning = Signal(str)  # engine warnings not tied to a run (e.g. the inotify limit)
    runtimeStarted = Signal()
    _wake = Signal()

    def __init__(
        self,
        lib: Library,
        runtime_factory: RuntimeFactory = default_runtime_factory,
        *,
        interval_ms: int = 200,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.lib = lib
        self._factory = runtime_factory
        self.runtime: Runtime | None = None
        self._interval_ms = interval_ms
        self._events = EventQueue()
        self._last_flush = 0.0
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="gui-library"
        )
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self._flush)
        # Emitted from engine threads; Qt queues it to this object's (the GUI) thread.
        self._wake.connect(self._schedule_flush)
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> bool:
        """Create and start the runtime off the GUI thread; False when there is none."""
        runtime = await self.call(self._factory, self.lib, self.post)
        if runtime is None:
            return False
        await self.call(runtime.start)
        self.runtime = runtime
        self.runtimeStarted.emit()
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine (it finishes or safely abandons the current item), then the pool.

        Called once the event loop has ended, so blocking here freezes nothing visible.
        """
        if self._closed:
            return
        self._closed = True
        self._flush_timer.stop()
        if self.runtime is not None:
            try:
                self.runtime.stop(timeout)
            except Exception:
                log.exception("engine did not stop cleanly")
            self.runtime = None
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- work off the GUI thread ------------------------------------------------------

    def submit(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the library pool and await its result."""
        return await asyncio.wrap_future(self._pool.submit(fn, *args, **kwargs))

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call` with the library as first argument: `await bridge.db(list_locations)`."""
        return await self.call(fn, self.lib, *args, **kwargs)

    def _require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeUnavailable("the sync engine is not running; see the log file")
        return self.runtime

    async def _runtime_future(self, method: str, *args: Any) -> Any:
        runtime = self._require_runtime()
        # Queuing a job may wait on engine locks, so even that happens off the GUI thread.
        fut = await self.call(getattr(runtime, method), *args)
        return await asyncio.wrap_future(fut)

    async def sync_now(self, conduit_id: int, force: bool = False) -> Any:
        return await self._runtime_future("sync_now", conduit_id, force)

    async def sync_all(self) -> list[Any]:
        runtime = self._require_runtime()
        futures = await self.call(runtime.sync_all)
        return await asyncio.gather(
            *(asyncio.wrap_future(f) for f in futures), return_exceptions=True
        )

    async def preview(self, conduit_id: int) -> Any:
        return await self._runtime_future("preview", conduit_id)

    async def resolve(self, conflict_id: int, keep: str) -> Any:
        return await self._runtime_future("resolve", conflict_id, keep)

    async def _runtime_call(self, method: str, *args: Any) -> Any:
        """A runtime method that may hand back a Future: await the work, not the queuing."""
        result = await self.call(getattr(self._require_runtime(), method), *args)
        if isinstance(result, concurrent.futures.Future):
            return await asyncio.wrap_future(result)
        return result

    async def set_paused(self, conduit_id: int, paused: bool) -> None:
        if self.runtime is not None:
            await self._runtime_call("set_paused", conduit_id, paused)
        else:
            await self.db(conduits_api.set_paused, conduit_id, paused)

    async def set_all_paused(self, paused: bool) -> None:
        if self.runtime is not None:
            await self._runtime_call("pause_all" if paused else "resume_all")
            return

        def pause_each(lib: Library) -> None:
            for c in conduits_api.list_conduits(lib):
                if c.paused != paused:
                    conduits_api.set_paused(lib, c.id, paused)

        await self.db(pause_each)

    async def rescan(self, location_id: int) -> Any:
        """Scan a location now, queued behind any running sync (like the engine's scans)."""
        return await self._runtime_future("rescan", location_id)

    async def reload(self) -> None:
        """Tell the engine that locations or conduits changed."""
        if self.runtime is not None:
            await self._runtime_call("reload")

    def next_run(self, conduit_id: int) -> float | None:
        """For use inside pool jobs only (it may read the database)."""
        if self.runtime is None:
            return None
        try:
            return self.runtime.next_run(conduit_id)
        except SpaceSyncError:
            return None

    # -- events from engine threads ---------------------------------------------------

    def post(self, event: Event) -> None:
        """The runtime's `emit`: safe to call from any thread."""
        if self._closed:
            return
        if self._events.put(event):
            self._wake.emit()

    @Slot()
    def _schedule_flush(self) -> None:
        if self._flush_timer.isActive():
            return
        since = (time.monotonic() - self._last_flush) * 1000
        self._flush_timer.start(max(0, int(self._interval_ms - since)))

    @Slot()
    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        finished: list[ItemFinished] = []
        for ev in self._events.drain():
            if isinstance(ev, ItemFinished):
                finished.append(ev)
                continue
            if finished:
                self.itemsFinished.emit(finished)
                finished = []
            self._deliver(ev)
        if finished:
            self.itemsFinished.emit(finished)

    def _deliver(self, ev: Event) -> None:
        if isinstance(ev, Progress):
            self.progress.emit(ev)
        elif isinstance(ev, ScanProgress):
            self.scanProgress.emit(ev)
        elif isinstance(ev, LocationStateChanged):
            self.locationStateChanged.emit(ev.location_id, ev.state)
        elif isinstance(ev, PlanReady):
            self.planReady.emit(ev)
        elif isinstance(ev, RunPhase):
            self.runPhase.emit(ev)
        elif isinstance(ev, RunStarted):
            self.runStarted.emit(ev.conduit_id)
        elif isinstance(ev, ConflictFound):
            self.conflictFound.emit(ev)
        elif isinstance(ev, RunFinished):
            self.runFinished.emit(ev)
        elif isinstance(ev, EngineWarning):
            self.warning.emit(ev.message)
        else:
            log.debug("unhandled engine event %r", ev)
