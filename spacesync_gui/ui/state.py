"""What the windows and the tray show, kept current from the database and engine events.

Full reloads read the library on the bridge's pool (never on the GUI thread) and are
coalesced: asking for one while one runs just schedules another right after. Between
reloads, engine events update single rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from spacesync_gui.engine.conduits import ConduitInfo, list_conduits
from spacesync_gui.engine.db import Library
from spacesync_gui.engine.events import (
    ConflictFound,
    ItemFinished,
    Progress,
    RunFinished,
    ScanProgress,
)
from spacesync_gui.engine.history import ConflictInfo, list_conflicts
from spacesync_gui.engine.locations import LocationInfo, list_locations

from .bridge import EngineBridge
from .models import ActivityModel, ConduitsModel, LocationsModel
from .tasks import spawn

log = logging.getLogger(__name__)

IDLE, SYNCING, PAUSED, ERROR, CONFLICTS = "idle", "syncing", "paused", "error", "conflicts"
OVERALL_STATES = (IDLE, SYNCING, PAUSED, ERROR, CONFLICTS)


@dataclass(frozen=True)
class Snapshot:
    locations: list[LocationInfo]
    conduits: list[ConduitInfo]
    conflicts: list[ConflictInfo]
    next_runs: dict[int, float | None] = field(default_factory=dict)


def load_snapshot(lib: Library, bridge: EngineBridge) -> Snapshot:
    """Runs on the pool: everything the main window and tray list, in one trip."""
    conduits = list_conduits(lib)
    return Snapshot(
        locations=list_locations(lib),
        conduits=conduits,
        conflicts=list_conflicts(lib),
        next_runs={c.id: bridge.next_run(c.id) for c in conduits},
    )


def run_summary(name: str, ev: RunFinished) -> tuple[str, str]:
    """(text, level) for the activity log and notifications."""
    s = ev.summary
    if ev.status == "refused":
        return f"{name}: refused — {s.get('reason') or 'see the log'}", "warning"
    if ev.status == "failed":
        reason = s.get("reason") or s.get("error") or "see the log"
        return f"{name}: sync failed — {reason}", "error"
    parts = [
        f"{s[k]} {k}" for k in ("copied", "moved", "deleted") if isinstance(s.get(k), int) and s[k]
    ]
    errors = s.get("errors")
    n_errors = len(errors) if isinstance(errors, list) else int(errors or 0)  # type: ignore[call-overload]
    if n_errors:
        parts.append(f"{n_errors} failed")
    if s.get("conflicts"):
        parts.append(f"{s['conflicts']} conflicts to resolve")
    text = ", ".join(parts) if parts else "already in sync"
    return f"{name}: {text}", ("warning" if n_errors or s.get("conflicts") else "info")


# One line per edited target file a run overwrote could flood the log: the first few only.
WARNINGS_SHOWN = 10


def run_warnings(name: str, ev: RunFinished) -> list[str]:
    """The run's warnings (patterns that leave everything out, a verify that found changes,
    overwritten target edits) as activity lines; "already in sync" alone would hide them."""
    said = ev.summary.get("warnings")
    if not isinstance(said, list) or not said:
        return []
    lines = [f"{name}: {w}" for w in said[:WARNINGS_SHOWN]]
    if len(said) > WARNINGS_SHOWN:
        lines.append(f"{name}: ... and {len(said) - WARNINGS_SHOWN} more warnings")
    return lines


def has_changes(ev: RunFinished) -> bool:
    return any(
        isinstance(ev.summary.get(k), int) and ev.summary[k] for k in ("copied", "moved", "deleted")
    )


class AppState(QObject):
    reloaded = Signal()
    overallChanged = Signal(str)
    conflictsChanged = Signal(int)
    # title, text, level (info|warning|error): the tray turns these into notifications.
    notify = Signal(str, str, str)

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.locations = LocationsModel(self)
        self.conduits = ConduitsModel(self)
        self.activity = ActivityModel(parent=self)
        self.conflicts: list[ConflictInfo] = []
        self.loaded = False
        # Set when the engine could not start: nothing will sync, which the tray must show.
        self.engine_failed = False
        self._overall = IDLE
        self._reloading = False
        self._reload_again = False
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(150)
        self._reload_timer.timeout.connect(self._start_reload)
        # Relative times ("5 min ago", "in 3 min") and next runs go stale on their own.
        self._clock = QTimer(self)
        self._clock.setInterval(30_000)
        self._clock.timeout.connect(self.request_reload)
        self._clock.start()

        bridge.runStarted.connect(self._on_run_started)
        bridge.planReady.connect(self.conduits.plan_ready)
        bridge.runPhase.connect(self.conduits.run_phase)
        bridge.progress.connect(self._on_progress)
        bridge.itemsFinished.connect(self._on_items_finished)
        bridge.conflictFound.connect(self._on_conflict_found)
        bridge.runFinished.connect(self._on_run_finished)
        bridge.scanProgress.connect(self._on_scan_progress)
        bridge.locationStateChanged.connect(self._on_location_state)
        bridge.runtimeStarted.connect(self.request_reload)
        bridge.warning.connect(self._on_warning)

    # -- reloads -----------------------------------------------------------------------

    @Slot()
    def request_reload(self) -> None:
        """Debounced: a burst of events costs one database trip."""
        if not self._reload_timer.isActive():
            self._reload_timer.start()

    @Slot()
    def _start_reload(self) -> None:
        spawn(self.reload())

    async def reload(self) -> None:
        if self._reloading:
            self._reload_again = True
            return
        self._reloading = True
        try:
            while True:
                self._reload_again = False
                snap = await self.bridge.call(load_snapshot, self.bridge.lib, self.bridge)
                self._apply(snap)
                if not self._reload_again:
                    break
        except Exception:
            log.exception("could not read the library")
        finally:
            self._reloading = False
        self.loaded = True
        self.reloaded.emit()

    def _apply(self, snap: Snapshot) -> None:
        self.locations.set_rows(snap.locations)
        self.conduits.set_rows(snap.conduits)
        self.conduits.set_next_runs(snap.next_runs)
        counts: dict[int, int] = {}
        for c in snap.conflicts:
            counts[c.conduit_id] = counts.get(c.conduit_id, 0) + 1
        self.conduits.set_conflict_counts(counts)
        if [c.id for c in snap.conflicts] != [c.id for c in self.conflicts]:
            self.conflicts = snap.conflicts
            self.conflictsChanged.emit(len(snap.conflicts))
        self._update_overall()

    # -- the one-word state of the whole app (tray icon, window title) ------------------

    def overall(self) -> str:
        return self._overall

    def _compute_overall(self) -> str:
        conduits = self.conduits.rows()
        if self.conduits.any_running():
            return SYNCING
        if self.conflicts:
            return CONFLICTS
        if self.engine_failed and conduits:
            return ERROR
        if any(c.last_status in ("failed", "refused") and not c.paused for c in conduits) or any(
            loc.state != "online" for loc in self.locations.rows()
        ):
            return ERROR
        if conduits and all(c.paused for c in conduits):
            return PAUSED
        return IDLE

    def _update_overall(self) -> None:
        state = self._compute_overall()
        if state != self._overall:
            self._overall = state
            self.overallChanged.emit(state)

    def set_engine_failed(self, failed: bool) -> None:
        self.engine_failed = failed
        self._update_overall()

    def set_queued(self, conduit_id: int, queued: bool) -> None:
        self.conduits.set_queued(conduit_id, queued)
        self._update_overall()

    def conduit_name(self, conduit_id: int) -> str:
        c = self.conduits.find(conduit_id)
        return c.name if c else f"conduit {conduit_id}"

    def log(self, text: str, level: str = "info") -> None:
        self.activity.add(text, level)
        log.log(logging.getLevelName(level.upper()), "%s", text)

    # -- engine events -----------------------------------------------------------------

    @Slot(int)
    def _on_run_started(self, conduit_id: int) -> None:
        self.conduits.run_started(conduit_id)
        self.activity.add(f"{self.conduit_name(conduit_id)}: sync started")
        self._update_overall()

    @Slot(object)
    def _on_progress(self, ev: Progress) -> None:
        was_running = self.conduits.is_running(ev.conduit_id)
        self.conduits.apply_progress(ev)
        if not was_running:
            self._update_overall()

    @Slot(list)
    def _on_items_finished(self, items: list[ItemFinished]) -> None:
        lines: list[tuple[str, str]] = []
        # Only the newest lines survive the log's bound; formatting more is wasted time.
        for it in items[-self.activity.limit :]:
            if it.ok:
                lines.append((f"{it.op} {it.path}", "info"))
            else:
                lines.append((f"{it.op} {it.path} failed: {it.message}", "error"))
        self.activity.extend(lines)

    @Slot(object)
    def _on_conflict_found(self, ev: ConflictFound) -> None:
        self.activity.add(f"{self.conduit_name(ev.conduit_id)}: conflict at {ev.path}", "warning")

    @Slot(object)
    def _on_run_finished(self, ev: RunFinished) -> None:
        name = self.conduit_name(ev.conduit_id)
        if ev.summary.get("dry_run"):
            # A preview: its dialog shows the plan; nothing ran, nothing to announce.
            self.activity.add(f"{name}: preview made, nothing changed")
            return
        known_conflicts = self.conduits.live(ev.conduit_id).conflicts
        self.conduits.run_finished(ev)
        text, level = run_summary(name, ev)
        self.log(text, level)
        for line in run_warnings(name, ev):
            self.log(line, "warning")
        pending = ev.summary.get("conflicts")
        if ev.status != "completed":
            self.notify.emit("Sync problem", text, "error")
        elif isinstance(pending, int) and pending > known_conflicts:
            # Only new conflicts are news; ones already waiting were announced before.
            self.notify.emit("Conflicts to resolve", text, "warning")
        elif has_changes(ev):
            self.notify.emit("Sync finished", text, "info")
        self._update_overall()
        self.request_reload()

    @Slot(str)
    def _on_warning(self, message: str) -> None:
        self.log(message, "warning")
        self.notify.emit("SpaceSync needs attention", message, "warning")

    @Slot(object)
    def _on_scan_progress(self, ev: ScanProgress) -> None:
        self.locations.apply_scan(ev)
        if ev.done:
            self.request_reload()

    @Slot(int, str)
    def _on_location_state(self, location_id: int, state: str) -> None:
        self.locations.apply_state(location_id, state)
        loc = self.locations.find(location_id)
        where = Path(loc.path).name if loc else f"location {location_id}"
        level = "info" if state == "online" else "warning"
        self.log(f"{where} is now {state}", level)
        self._update_overall()
