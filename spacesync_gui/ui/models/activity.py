"""The activity log: the newest lines of what happened, bounded so it never grows."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

Index = QModelIndex | QPersistentModelIndex
LevelRole = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Line:
    at: float
    level: str  # info | warning | error
    text: str


class ActivityModel(QAbstractListModel):
    def __init__(self, limit: int = 1000, parent: Any = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self._lines: deque[Line] = deque()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._lines)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._lines):
            return None
        line = self._lines[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{time.strftime('%H:%M:%S', time.localtime(line.at))}  {line.text}"
        if role == LevelRole:
            return line.level
        if role == Qt.ItemDataRole.ForegroundRole and line.level != "info":
            return QBrush(QColor("#c62828" if line.level == "error" else "#b26a00"))
        return None

    def lines(self) -> list[Line]:
        return list(self._lines)

    def add(self, text: str, level: str = "info") -> None:
        self.extend([(text, level)])

    def extend(self, entries: list[tuple[str, str]]) -> None:
        """Append a batch: one insert and at most one trim, however many lines."""
        if not entries:
            return
        now = time.time()
        new = [Line(now, level, text) for text, level in entries[-self.limit :]]
        overflow = len(self._lines) + len(new) - self.limit
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            for _ in range(overflow):
                self._lines.popleft()
            self.endRemoveRows()
        first = len(self._lines)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._lines.extend(new)
        self.endInsertRows()
