"""A table model over a list of frozen dataclasses keyed by id.

Rows are replaced wholesale only on a full reload; afterwards single rows are updated
in place and only that row's cells are announced (dataChanged), so selections, scroll
positions and editors survive the frequent updates a running sync produces.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex

# Roles shared by every table: the row's dataclass and its key.
RowRole = Qt.ItemDataRole.UserRole + 1
KeyRole = Qt.ItemDataRole.UserRole + 2
SortRole = Qt.ItemDataRole.UserRole + 3


@dataclass(frozen=True)
class Column(Generic[R]):
    header: str
    text: Callable[[R], str]
    sort: Callable[[R], Any] | None = None
    tooltip: Callable[[R], str] | None = None
    align_right: bool = False


class RowTableModel(QAbstractTableModel, Generic[R]):
    columns: Sequence[Column[Any]] = ()

    def __init__(self, key: Callable[[R], Hashable], parent: Any = None) -> None:
        super().__init__(parent)
        self._key = key
        self._rows: list[R] = []
        self._pos: dict[Hashable, int] = {}

    # -- Qt API ----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tooltip(row) if col.tooltip else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == SortRole:
            return col.sort(row) if col.sort else col.text(row)
        if role == RowRole:
            return row
        if role == KeyRole:
            return self._key(row)
        return self.extra_data(row, index.column(), role)

    def extra_data(self, row: R, column: int, role: int) -> Any:
        """Subclasses answer their own roles here (decorations, progress, ...)."""
        return None

    # -- rows --------------------------------------------------------------------------

    def rows(self) -> list[R]:
        return list(self._rows)

    def row_at(self, row: int) -> R:
        return self._rows[row]

    def find(self, key: Hashable) -> R | None:
        i = self._pos.get(key)
        return None if i is None else self._rows[i]

    def row_of(self, key: Hashable) -> int:
        """The row number of `key`, or -1."""
        return self._pos.get(key, -1)

    def set_rows(self, rows: Sequence[R]) -> None:
        """Merge a fresh full list: unchanged rows stay put, changed ones are updated,
        gone ones removed and new ones appended, each announced on its own."""
        fresh = {self._key(r): r for r in rows}
        for key in [k for k in self._pos if k not in fresh]:
            self.remove(key)
        for r in rows:
            self.upsert(r)

    def upsert(self, row: R) -> None:
        key = self._key(row)
        i = self._pos.get(key)
        if i is None:
            n = len(self._rows)
            self.beginInsertRows(QModelIndex(), n, n)
            self._rows.append(row)
            self._pos[key] = n
            self.endInsertRows()
        elif self._rows[i] != row:
            self._rows[i] = row
            self.row_changed(i)

    def prepend(self, rows: Sequence[R]) -> None:
        """Insert new rows at the top, in the order given (for newest-first lists)."""
        if not rows:
            return
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[:0] = rows
        self._pos = {self._key(r): n for n, r in enumerate(self._rows)}
        self.endInsertRows()

    def remove(self, key: Hashable) -> None:
        i = self._pos.get(key)
        if i is None:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        self._pos = {self._key(r): n for n, r in enumerate(self._rows)}
        self.endRemoveRows()

    def row_changed(self, i: int, first_col: int = 0, last_col: int | None = None) -> None:
        last = self.columnCount() - 1 if last_col is None else last_col
        self.dataChanged.emit(self.index(i, first_col), self.index(i, last))
