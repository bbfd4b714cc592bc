"""Everything the engine reports, as frozen dataclasses (SPEC 3.9).

The engine calls an `emit(event)` callback; the CLI prints or ignores, the daemon logs,
the GUI bridge turns them into throttled Qt signals. Events carry plain data only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class ScanProgress(Event):
    location_id: int
    files_seen: int
    bytes_seen: int
    files_hashed: int
    bytes_hashed: int
    done: bool = False
    # Another process scans part of the location at the same time (scan_split.py): the
    # counts so far are this process's part; the end (done) has both parts'.
    shared: bool = False


@dataclass(frozen=True)
class LocationStateChanged(Event):
    location_id: int
    state: str  # online | offline | replaced


@dataclass(frozen=True)
class PlanReady(Event):
    conduit_id: int
    actions: int
    bytes_total: int
    conflicts: int
    dry_run: bool = False


@dataclass(frozen=True)
class RunPhase(Event):
    """A run moved on: preflight, scanning, planning, executing, verifying."""

    conduit_id: int
    phase: str
    dry_run: bool = False


@dataclass(frozen=True)
class RunStarted(Event):
    conduit_id: int
    generation_id: int | None


@dataclass(frozen=True)
class ItemStarted(Event):
    conduit_id: int
    op: str
    path: str


@dataclass(frozen=True)
class ItemFinished(Event):
    conduit_id: int
    op: str
    path: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class Progress(Event):
    conduit_id: int
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: str
    speed: float  # bytes per second
    eta: float | None  # seconds


@dataclass(frozen=True)
class ConflictFound(Event):
    conduit_id: int
    path: str
    kind: str


@dataclass(frozen=True)
class RunFinished(Event):
    conduit_id: int
    generation_id: int | None
    status: str  # completed | refused | failed
    summary: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineWarning(Event):
    """Something the user should see that is not tied to one run (e.g. inotify limit)."""

    message: str
    location_id: int | None = None


Emit = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    """The default sink."""
