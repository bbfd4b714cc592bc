"""A dry run's plan: what a sync would do, filterable by action and by path text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from .table import Column, RowRole, RowTableModel

ACTION_TEXT = {
    "copy": "Copy",
    "delete": "Delete",
    "move": "Move",
    "mkdir": "Create folder",
    "rmdir": "Remove folder",
    "touch": "Update time",
    "conflict": "Conflict",
}
# Destructive and attention-needing actions stand out in the list.
ACTION_COLOR = {"delete": "#c62828", "rmdir": "#c62828", "conflict": "#e65100"}


@dataclass(frozen=True)
class PlanItem:
    n: int
    action: str
    path: str
    side: str = ""
    from_path: str = ""
    kind: str = ""

    @classmethod
    def from_listing(cls, n: int, d: Mapping[str, Any]) -> PlanItem:
        return cls(
            n=n,
            action=str(d.get("action", "")),
            path=str(d.get("path", "")),
            side=str(d.get("side", "") or ""),
            from_path=str(d.get("from", "") or ""),
            kind=str(d.get("kind", "") or ""),
        )


def _where(p: PlanItem) -> str:
    if p.action == "conflict":
        return "both sides"
    return f"on {p.side}" if p.side else ""


class PlanModel(RowTableModel[PlanItem]):
    ACTION, PATH, SIDE = range(3)

    def __init__(self, parent: Any = None) -> None:
        self.columns = (
            Column("Action", lambda p: ACTION_TEXT.get(p.action, p.action)),
            Column(
                "Path",
                lambda p: f"{p.from_path} → {p.path}" if p.from_path else p.path,
                tooltip=lambda p: p.kind,
            ),
            Column("Where", _where),
        )
        super().__init__(key=lambda p: p.n, parent=parent)

    def extra_data(self, row: PlanItem, column: int, role: int) -> Any:
        color = ACTION_COLOR.get(row.action)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.ACTION and color:
            return QBrush(QColor(color))
        return None

    def load(self, listing: Iterable[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = [PlanItem.from_listing(n, d) for n, d in enumerate(listing)]
        self._pos = {p.n: p.n for p in self._rows}
        self.endResetModel()

    def counts(self) -> Counter[str]:
        return Counter(p.action for p in self._rows)


class PlanFilterModel(QSortFilterProxyModel):
    """Shows the items of one action (or all) whose path contains the filter text."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._action: str | None = None
        self._text = ""

    def set_action(self, action: str | None) -> None:
        self.beginFilterChange()
        self._action = action
        self.endFilterChange()

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.casefold()
        self.endFilterChange()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        item: PlanItem = self.sourceModel().index(row, 0, parent).data(RowRole)
        if self._action and item.action != self._action:
            return False
        return (
            not self._text
            or self._text in item.path.casefold()
            or (self._text in item.from_path.casefold())
        )
