"""History: the generations (sync runs) of the selected conduit, newest first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from spacesync_gui.engine.history import GenerationInfo

from .. import fmt
from .table import Column, RowTableModel

STATUS_TEXT = {"completed": "Completed", "failed": "Failed", "refused": "Refused"}


def _status(g: GenerationInfo) -> str:
    text = STATUS_TEXT.get(g.status, g.status.capitalize())
    if g.status == "completed" and g.verified:
        text += " ✓"
    return text


def _duration(g: GenerationInfo) -> str:
    return "" if g.finished_at is None else fmt.duration(g.finished_at - g.started_at)


def _details(g: GenerationInfo) -> str:
    lines = [g.reason] if g.reason else []
    lines += [f"{e.get('path', '')}: {e.get('message', '')}" for e in g.error_details[:20]]
    if len(g.error_details) > 20:
        lines.append(f"… and {len(g.error_details) - 20} more")
    return "\n".join(lines)


class GenerationsModel(RowTableModel[GenerationInfo]):
    STARTED, STATUS, COPIED, DELETED, MOVED, CONFLICTS, BYTES, ERRORS, DURATION = range(9)

    def __init__(self, parent: Any = None) -> None:
        self.columns = (
            Column(
                "Started",
                lambda g: fmt.short_stamp(g.started_at),
                sort=lambda g: g.started_at,
                tooltip=lambda g: fmt.stamp(g.started_at),
            ),
            Column("Status", _status, tooltip=_details),
            Column("Copied", lambda g: str(g.copied), sort=lambda g: g.copied, align_right=True),
            Column("Deleted", lambda g: str(g.deleted), sort=lambda g: g.deleted, align_right=True),
            Column("Moved", lambda g: str(g.moved), sort=lambda g: g.moved, align_right=True),
            Column(
                "Conflicts",
                lambda g: (
                    f"{g.conflicts}"
                    + (f" (+{g.conflicts_resolved} settled)" if g.conflicts_resolved else "")
                ),
                sort=lambda g: g.conflicts,
                align_right=True,
            ),
            Column(
                "Transferred", lambda g: fmt.size(g.bytes), sort=lambda g: g.bytes, align_right=True
            ),
            Column(
                "Errors",
                lambda g: str(g.errors),
                sort=lambda g: g.errors,
                tooltip=_details,
                align_right=True,
            ),
            Column("Duration", _duration, align_right=True),
        )
        super().__init__(key=lambda g: g.id, parent=parent)
        self.conduit_id: int | None = None

    def show(self, conduit_id: int | None, rows: list[GenerationInfo]) -> None:
        """Rows of another conduit replace everything; the same conduit merges."""
        if conduit_id != self.conduit_id:
            self.beginResetModel()
            self._rows, self._pos, self.conduit_id = [], {}, conduit_id
            self.endResetModel()
        # Newest first: runs not shown yet go on top, the rest merge in place.
        newer = [g for g in rows if g.id not in self._pos]
        fresh = {g.id for g in rows}
        for gone in [k for k in self._pos if k not in fresh]:
            self.remove(gone)
        for g in rows:
            if g.id in self._pos:
                self.upsert(g)
        self.prepend(newer)

    def extra_data(self, row: GenerationInfo, column: int, role: int) -> Any:
        bad = row.status != "completed" or row.errors
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS and bad:
            return QBrush(QColor("#c62828"))
        return None
