"""Coalescing of engine events between the engine threads and the GUI (Qt-free).

Engine threads can report thousands of events a second; the GUI repaints a few times a
second. Within one batch only the newest Progress per conduit and the newest ScanProgress
per location survive (kept at the position of that newest one, so a stale progress never
lands after the RunFinished that follows it), and ItemStarted is dropped: Progress names
the current file already.
"""

from __future__ import annotations

import queue
import threading

from spacesync_gui.engine.events import Event, ItemStarted, Progress, ScanProgress


def _coalesce_key(event: Event) -> tuple[str, int] | None:
    if isinstance(event, Progress):
        return ("progress", event.conduit_id)
    if isinstance(event, ScanProgress):
        return ("scan", event.location_id)
    return None


def coalesce(events: list[Event]) -> list[Event]:
    last: dict[tuple[str, int], int] = {}
    for i, ev in enumerate(events):
        key = _coalesce_key(ev)
        if key is not None:
            last[key] = i
    out: list[Event] = []
    for i, ev in enumerate(events):
        if isinstance(ev, ItemStarted):
            continue
        key = _coalesce_key(ev)
        if key is None or last[key] == i:
            out.append(ev)
    return out


class EventQueue:
    """Thread-safe inbox. `put` says whether the consumer needs waking (first event since
    the last drain), so the producer signals the GUI once per batch, not once per event."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        # Guards `_wake_pending` so exactly one wake-up is in flight per batch.
        self._lock = threading.Lock()
        self._wake_pending = False

    def put(self, event: Event) -> bool:
        self._queue.put(event)
        with self._lock:
            if self._wake_pending:
                return False
            self._wake_pending = True
            return True

    def drain(self) -> list[Event]:
        with self._lock:
            # Cleared before draining: an event put after this point wakes the consumer again.
            self._wake_pending = False
        events: list[Event] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return coalesce(events)
