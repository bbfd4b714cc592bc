"""Conduits: the sync pairs, with their live run status and progress.

The database rows (ConduitInfo) change rarely; the live part (running, progress, next
run, pending conflicts) changes several times a second during a run and is kept beside
them, so a progress update repaints one Status cell and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from spacesync_gui.engine.conduits import ConduitInfo
from spacesync_gui.engine.events import PlanReady, Progress, RunFinished, RunPhase

from .. import fmt
from .table import Column, RowTableModel

ProgressRole = Qt.ItemDataRole.UserRole + 10
StatusKeyRole = Qt.ItemDataRole.UserRole + 11

MODE_TEXT = {"mirror": "Mirror", "bidirectional": "Two-way"}
LAST_STATUS_TEXT = {
    "completed": "In sync",
    "failed": "Failed",
    "refused": "Refused",
    None: "Never synced",
}


def schedule_text(schedule: str) -> str:
    if schedule.startswith("interval:"):
        n, unit = schedule[9:-1], schedule[-1]
        return f"Every {n} {dict(m='min', h='h', d='d')[unit]}"
    return {"manual": "Manual", "instant": "On change"}.get(schedule, schedule)


def endpoints_text(r: ConduitInfo) -> str:
    arrow = "→" if r.mode == "mirror" else "↔"
    return f"{fmt.endpoint(r.source)} {arrow} {fmt.endpoint(r.target)}"


PHASE_TEXT = {
    "preflight": "Checking folders…",
    "scanning": "Scanning…",
    "planning": "Planning…",
}


@dataclass
class LiveState:
    # Asked to sync from this window; the engine is scanning and planning (no RunStarted yet).
    queued: bool = False
    phase: str = ""
    running: bool = False
    progress: Progress | None = None
    next_run: float | None = None
    conflicts: int = 0
    last_summary: dict[str, Any] | None = None


def progress_text(p: Progress) -> str:
    """Short enough for a table cell; the file counts and current file go in the tooltip."""
    if p.bytes_total:
        parts = [f"{int(100 * progress_fraction(p))}%"]
    else:
        parts = [f"{p.files_done:,} of {p.files_total:,} items"]
    if p.speed:
        parts.append(fmt.speed(p.speed))
    if p.eta is not None:
        parts.append(f"{fmt.duration(p.eta)} left")
    return " · ".join(parts)


def progress_fraction(p: Progress) -> float:
    if p.bytes_total:
        return min(1.0, p.bytes_done / p.bytes_total)
    if p.files_total:
        return min(1.0, p.files_done / p.files_total)
    return -1.0  # unknown: the delegate draws a busy bar


class ConduitsModel(RowTableModel[ConduitInfo]):
    NAME, ENDPOINTS, MODE, SCHEDULE, STATUS, LAST_SYNC, NEXT_RUN = range(7)

    def __init__(self, parent: Any = None) -> None:
        self.columns = (
            Column("Name", lambda r: r.name),
            Column(
                "Source → Target",
                endpoints_text,
                tooltip=lambda r: f"{r.source}\n{'→' if r.mode == 'mirror' else '↔'} {r.target}",
            ),
            Column("Mode", lambda r: MODE_TEXT.get(r.mode, r.mode)),
            Column("Schedule", lambda r: schedule_text(r.schedule)),
            Column("Status", self.status_text, sort=self.status_key, tooltip=self._status_tip),
            Column(
                "Last sync",
                lambda r: fmt.when(r.last_sync),
                sort=lambda r: r.last_sync or 0,
                tooltip=lambda r: fmt.stamp(r.last_sync),
            ),
            Column(
                "Next run",
                self._next_text,
                sort=lambda r: self.live(r.id).next_run or float("inf"),
                tooltip=lambda r: fmt.stamp(self.live(r.id).next_run),
            ),
        )
        super().__init__(key=lambda r: r.id, parent=parent)
        self._live: dict[int, LiveState] = {}

    def live(self, conduit_id: int) -> LiveState:
        return self._live.setdefault(conduit_id, LiveState())

    # -- cell texts --------------------------------------------------------------------

    def status_key(self, r: ConduitInfo) -> str:
        """One word for the state, for sorting, tests and the tray."""
        live = self.live(r.id)
        if live.running or live.queued:
            return "syncing"
        if r.paused:
            return "paused"
        if live.conflicts:
            return "conflicts"
        if r.last_status in ("failed", "refused"):
            return "error"
        return "idle"

    def status_text(self, r: ConduitInfo) -> str:
        live = self.live(r.id)
        if live.running:
            return progress_text(live.progress) if live.progress else "Starting…"
        if live.queued:
            return live.phase or "Preparing…"
        if r.paused:
            return "Paused"
        text = LAST_STATUS_TEXT.get(r.last_status, r.last_status or "")
        if live.conflicts:
            n = live.conflicts
            text = f"{n} conflict{'s' if n != 1 else ''} to resolve"
        return text

    def _status_tip(self, r: ConduitInfo) -> str:
        live = self.live(r.id)
        if live.running and live.progress:
            p = live.progress
            tip = f"{p.files_done:,} of {p.files_total:,} items done"
            if p.bytes_total:
                tip += f", {fmt.size(p.bytes_done)} of {fmt.size(p.bytes_total)}"
            return tip + (f"\nNow: {p.current}" if p.current else "")
        summary = live.last_summary
        if summary:
            return ", ".join(f"{k}: {v}" for k, v in summary.items() if not isinstance(v, list))
        return ""

    def _next_text(self, r: ConduitInfo) -> str:
        if r.paused or r.schedule == "manual":
            return "—"
        if r.schedule == "instant" and self.live(r.id).next_run is None:
            return "On change"
        return fmt.when(self.live(r.id).next_run)

    def extra_data(self, row: ConduitInfo, column: int, role: int) -> Any:
        if column != self.STATUS:
            return None
        if role == ProgressRole:
            live = self.live(row.id)
            if live.queued and not live.running:
                return (-1.0, live.phase or "Preparing…")
            if not live.running:
                return None
            if live.progress is None:
                return (-1.0, "Starting…")
            return (progress_fraction(live.progress), progress_text(live.progress))
        if role == StatusKeyRole:
            return self.status_key(row)
        if role == Qt.ItemDataRole.ForegroundRole and self.status_key(row) in (
            "error",
            "conflicts",
        ):
            return QBrush(QColor("#c62828"))
        return None

    # -- event updates: each touches only the cells it changes ----------------------------

    def _touch(self, conduit_id: int, *columns: int) -> None:
        i = self.row_of(conduit_id)
        if i >= 0:
            self.row_changed(i, min(columns), max(columns))

    def set_queued(self, conduit_id: int, queued: bool) -> None:
        live = self.live(conduit_id)
        if live.queued != queued:
            live.queued, live.phase = queued, ""
            self._touch(conduit_id, self.STATUS)

    def run_phase(self, ev: RunPhase) -> None:
        """A run (scheduled ones too) is under way before its first progress: say which
        step it is in. Previews (dry runs) must not make an idle pair look busy."""
        if ev.dry_run or ev.phase not in PHASE_TEXT:
            return
        live = self.live(ev.conduit_id)
        if not live.running:
            live.queued, live.phase = True, PHASE_TEXT[ev.phase]
            self._touch(ev.conduit_id, self.STATUS)

    def plan_ready(self, ev: PlanReady) -> None:
        """Only shown for real runs: previews plan too, and must not make an idle pair
        look busy."""
        live = self.live(ev.conduit_id)
        if live.queued and not live.running and not ev.dry_run:
            n = ev.actions
            live.phase = f"Planned {n:,} change{'s' if n != 1 else ''}, starting…"
            self._touch(ev.conduit_id, self.STATUS)

    def run_started(self, conduit_id: int) -> None:
        live = self.live(conduit_id)
        live.running, live.progress = True, None
        self._touch(conduit_id, self.STATUS)

    def apply_progress(self, ev: Progress) -> None:
        live = self.live(ev.conduit_id)
        live.running, live.progress = True, ev
        self._touch(ev.conduit_id, self.STATUS)

    def run_finished(self, ev: RunFinished) -> None:
        live = self.live(ev.conduit_id)
        live.running, live.progress, live.queued, live.phase = False, None, False, ""
        live.last_summary = dict(ev.summary)
        self._touch(ev.conduit_id, self.STATUS)

    def set_conflict_counts(self, counts: dict[int, int]) -> None:
        for cid in [*self._pos]:
            n = counts.get(cid, 0)  # type: ignore[call-overload]
            live = self.live(cid)  # type: ignore[arg-type]
            if live.conflicts != n:
                live.conflicts = n
                self._touch(cid, self.STATUS)  # type: ignore[arg-type]

    def set_next_runs(self, next_runs: dict[int, float | None]) -> None:
        for cid, when in next_runs.items():
            live = self.live(cid)
            if live.next_run != when:
                live.next_run = when
                self._touch(cid, self.NEXT_RUN)

    def is_running(self, conduit_id: int) -> bool:
        live = self.live(conduit_id)
        return live.running or live.queued

    def any_running(self) -> bool:
        return any(s.running or s.queued for s in self._live.values())
