"""The engine runtime in a child process, for the desktop app.

Sync threads hold Python's GIL most of the time they are not in a system call; in the
GUI's own process that made the event loop wait up to ~150 ms for it (SPEC 7: never more
than 50 ms). `EngineProcess` offers the GUI the same API as `EngineRuntime` (Futures for
work, `emit` for events) while the runtime, its watcher and its sync threads live in a
child started with `spawn` (never `fork`: the GUI process has threads).

Protocol over one pipe: the parent sends `(request id, method, args)`; the child answers
`(request id, ok, value)` and, at any time, `(0, "events", [event, ...])` or `(0, "log", record)`
(its log records, which the parent hands to its own logging: one log file). The child
stops when asked, or when the pipe closes (the GUI process died).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from . import forked_copies
from .conduits import list_conduits
from .db import Library
from .errors import SpaceSyncError
from .events import Emit

log = logging.getLogger(__name__)

_EVENT = 0  # request id of messages that are events
ENGINE_NICENESS = 5
COPY_WORKER_NICENESS = 10  # on top of the engine's
START_TIMEOUT = 60.0  # the child imports the engine and opens the library first
# Events travel in batches (_Outbox): at most this late, at most this many in one message.
EVENT_BATCH_S = 0.02
EVENT_BATCH_MOST = 2000
_ASYNC = frozenset(
    {"sync_now", "preview", "resolve", "rescan", "set_paused", "pause_all", "resume_all", "reload"}
)


class EngineProcess:
    """`EngineRuntime`'s front-end API, served by a runtime in a child process."""

    def __init__(self, lib: Library, emit: Emit, *, watch: bool = True) -> None:
        self.lib = lib
        self._emit = emit
        self._watch = watch
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()  # _pending and sends
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the child and wait until its runtime runs (call off the GUI thread)."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=child_main,
            args=(str(self.lib.data_dir), child, self._watch),
            name="spacesync-engine",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self._reader = threading.Thread(
            target=self._read, name="spacesync-engine-pipe", daemon=True
        )
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT) or not self._proc.is_alive():
            self.stop(1.0)
            raise SpaceSyncError("the sync engine process did not start; see the log file")

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the child to stop (its current item finishes or is safely abandoned)."""
        proc = self._proc
        if proc is None:
            return
        if proc.is_alive() and not self._closed:
            try:
                self._send(next(self._ids), "stop", (timeout,))
            except (OSError, ValueError):
                pass
        proc.join(timeout + 1.0)
        if proc.is_alive():
            log.warning("the engine process did not stop in time; terminating it")
            proc.terminate()
            proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(2.0)
        self._close()

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
            if self._conn is not None:
                self._conn.close()
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(SpaceSyncError("the sync engine stopped"))

    # -- requests ------------------------------------------------------------------------

    def _send(self, rid: int, method: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            if self._conn is None or self._closed:
                raise SpaceSyncError("the sync engine is not running")
            self._conn.send((rid, method, args))

    def _request(self, method: str, *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        rid = next(self._ids)
        with self._lock:
            closed = self._closed or self._conn is None
            if not closed:
                self._pending[rid] = fut
        if closed:
            fut.set_exception(SpaceSyncError("the sync engine is not running"))
            return fut
        try:
            self._send(rid, method, args)
        except (OSError, ValueError, SpaceSyncError) as e:
            with self._lock:
                self._pending.pop(rid, None)
            fut.set_exception(SpaceSyncError(f"the sync engine is not running ({e})"))
        return fut

    def sync_now(self, conduit_id: int, force: bool = False) -> Future[Any]:
        return self._request("sync_now", conduit_id, force)

    def sync_all(self) -> list[Future[Any]]:
        return [self.sync_now(c.id) for c in list_conduits(self.lib) if not c.paused]

    def preview(self, conduit_id: int) -> Future[Any]:
        return self._request("preview", conduit_id)

    def resolve(self, conflict_id: int, keep: str) -> Future[Any]:
        return self._request("resolve", conflict_id, keep)

    def rescan(self, location_id: int) -> Future[Any]:
        return self._request("rescan", location_id)

    def set_paused(self, conduit_id: int, paused: bool) -> Future[Any]:
        return self._request("set_paused", conduit_id, paused)

    def pause_all(self) -> Future[Any]:
        return self._request("pause_all")

    def resume_all(self) -> Future[Any]:
        return self._request("resume_all")

    def reload(self) -> Future[Any]:
        return self._request("reload")

    def next_run(self, conduit_id: int) -> float | None:
        """Blocks briefly for the child's answer: call from a worker thread."""
        try:
            return self._request("next_run", conduit_id).result(5.0)  # type: ignore[no-any-return]
        except Exception:
            return None

    # -- the pipe reader -------------------------------------------------------------------

    def _read(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            try:
                rid, ok, value = conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an answer that does not unpickle: name it, go on
                log.exception("unreadable message from the engine process")
                continue
            if rid == _EVENT:
                if ok == "ready":
                    self._ready.set()
                elif ok == "log":
                    # The engine's log lines land where the app's own go (its log file).
                    record = logging.makeLogRecord(value)
                    logging.getLogger(record.name).handle(record)
                elif ok == "events":
                    for ev in value:
                        self._emit(ev)
                continue
            with self._lock:
                fut = self._pending.pop(rid, None)
            if fut is not None and not fut.done():
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)
        self._ready.set()  # a child that died before it was ready: start() checks
        self._close()


# -- the child ---------------------------------------------------------------------------


def _picklable_error(e: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return SpaceSyncError(str(e) or type(e).__name__)


class _PipeLogHandler(logging.Handler):
    """Sends the engine process's log records to the app, which writes them to its log."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__(logging.INFO)
        self._send = send
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            d = dict(record.__dict__)
            d["msg"], d["args"] = record.getMessage(), None
            if record.exc_info:
                d["exc_text"] = self._formatter.formatException(record.exc_info)
            d["exc_info"] = None
            d["processName"] = "spacesync-engine"
            self._send((_EVENT, "log", {k: v for k, v in d.items() if _plain(v)}))
        except Exception:  # noqa: BLE001 - logging must never break the engine
            self.handleError(record)


def _plain(v: object) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


class _Outbox:
    """The child's messages to the parent. Events go in batches, one pickle and one write
    every EVENT_BATCH_S (or EVENT_BATCH_MOST events): a run of 100,000 files emits 100,000
    ItemFinished, and one message each cost both processes a second of CPU, taken from
    the copies. Any other message first sends the events before it, so the parent sees
    everything in the order it happened (a run's events before its answer)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # the batch, and every write to the pipe
        self._events: list[Any] = []
        self._wake = threading.Event()
        self._closed = False

    def start(self) -> None:
        """The flushing thread (not in __init__: the CopyHelper forks before threads)."""
        threading.Thread(target=self._run, name="spacesync-engine-events", daemon=True).start()

    def event(self, ev: Any) -> None:
        with self._lock:
            self._events.append(ev)
            if len(self._events) >= EVENT_BATCH_MOST:
                self._flush()
                return
        self._wake.set()

    def send(self, msg: tuple[Any, ...]) -> None:
        with self._lock:
            self._flush()
            self._write(msg)

    def close(self) -> None:
        """Send what is left; the flushing thread ends."""
        with self._lock:
            self._flush()
            self._closed = True
        self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            time.sleep(EVENT_BATCH_S)  # let the batch fill
            with self._lock:
                self._flush()

    def _flush(self) -> None:
        if self._events:
            events, self._events = self._events, []
            self._write((_EVENT, "events", events))

    def _write(self, msg: tuple[Any, ...]) -> None:
        if self._closed:
            return
        try:
            self._conn.send(msg)
        except (OSError, ValueError):
            pass  # the parent is gone; recv() in child_main ends the loop


def child_main(data_dir: str, conn: Connection, watch: bool) -> None:
    """The engine process: one runtime, driven by the parent's requests."""
    from .db import open_library
    from .runtime import EngineRuntime

    outbox = _Outbox(conn)
    send = outbox.send

    def answer(rid: int, fut: Future[Any]) -> None:
        e = fut.exception()
        if e is None:
            send((rid, True, fut.result()))
        else:
            send((rid, False, _picklable_error(e)))

    root = logging.getLogger()
    root.addHandler(_PipeLogHandler(send))
    root.setLevel(logging.INFO)
    if hasattr(os, "nice"):
        # Below the app in the CPU queue: on a busy machine the window is served first,
        # and a sync only gives up what the GUI actually uses (little).
        os.nice(ENGINE_NICENESS)
    lib = open_library(Path(data_dir))
    # Before the runtime starts threads (fork is safe now). Its copy workers fill both
    # CPUs of a small machine: further down the queue, so the window still gets one. It
    # forks the runs' second scanning process too (forked_scans.py).
    forked_copies.start_helper(niceness=COPY_WORKER_NICENESS, lib=lib)
    outbox.start()
    runtime = EngineRuntime(lib, outbox.event, watch=watch)
    runtime.start()
    send((_EVENT, "ready", None))
    timeout = 5.0
    try:
        while True:
            try:
                rid, method, args = conn.recv()
            except (EOFError, OSError):
                break  # the GUI process is gone: stop like a SIGTERM would
            if method == "stop":
                timeout = args[0]
                break
            try:
                if method == "next_run":
                    send((rid, True, runtime.next_run(*args)))
                elif method in _ASYNC:
                    fut = getattr(runtime, method)(*args)
                    fut.add_done_callback(lambda f, rid=rid: answer(rid, f))
                else:
                    raise SpaceSyncError(f"unknown engine request {method!r}")
            except Exception as e:
                send((rid, False, _picklable_error(e)))
    finally:
        runtime.stop(timeout)
        outbox.close()
        forked_copies.stop_helper()
        lib.close()
        conn.close()
