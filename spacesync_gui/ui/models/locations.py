"""Locations: indexed folder roots with state, file count, size and last scan."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from spacesync_gui.engine.events import ScanProgress
from spacesync_gui.engine.locations import LocationInfo

from .. import fmt
from .table import Column, RowTableModel

STATE_TEXT = {
    "online": "Online",
    "offline": "Offline — folder missing",
    "replaced": "Replaced — marker missing",
}


class LocationsModel(RowTableModel[LocationInfo]):
    NAME, STATE, FILES, SIZE, LAST_SCAN = range(5)

    def __init__(self, parent: Any = None) -> None:
        self.columns = (
            Column("Folder", lambda r: fmt.endpoint(r.path), tooltip=lambda r: r.path),
            Column("State", self._state_text, sort=lambda r: r.state),
            Column("Files", lambda r: f"{r.files:,}", sort=lambda r: r.files, align_right=True),
            Column("Size", lambda r: fmt.size(r.bytes), sort=lambda r: r.bytes, align_right=True),
            Column(
                "Last scan",
                lambda r: fmt.when(r.last_scan),
                sort=lambda r: r.last_scan or 0,
                tooltip=lambda r: fmt.stamp(r.last_scan),
            ),
        )
        super().__init__(key=lambda r: r.id, parent=parent)
        # Scans in progress, by location id: shown in the State column until done.
        self._scans: dict[int, ScanProgress] = {}

    def _state_text(self, r: LocationInfo) -> str:
        scan = self._scans.get(r.id)
        if scan is not None and r.state == "online":
            # A shared scan's counts so far are one process's part: at least that many.
            more = "+" if scan.shared else ""
            return f"Scanning… {scan.files_seen:,}{more} files"
        text = STATE_TEXT.get(r.state, r.state)
        if r.scan_errors and r.state == "online":
            text += f" ({r.scan_errors} unreadable)"
        return text

    def extra_data(self, row: LocationInfo, column: int, role: int) -> Any:
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column == self.STATE
            and row.state != "online"
        ):
            return QBrush(QColor("#c62828"))
        return None

    # -- event updates -----------------------------------------------------------------

    def apply_scan(self, ev: ScanProgress) -> None:
        i = self.row_of(ev.location_id)
        if i < 0:
            return
        if ev.done:
            # A partial (watcher) scan reports only its subtree, so the totals come from
            # the reload the owner schedules on `done`, not from this event.
            self._scans.pop(ev.location_id, None)
        else:
            self._scans[ev.location_id] = ev
        self.row_changed(i, self.STATE, self.STATE)

    def apply_state(self, location_id: int, state: str) -> None:
        row = self.find(location_id)
        if row is not None:
            self.upsert(dataclasses.replace(row, state=state))
