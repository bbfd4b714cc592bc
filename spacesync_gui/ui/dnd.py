"""Drag and drop of folders: drop zones, the drop hint, and location rows as drag sources.

Handlers only collect local paths; whether they are folders is decided off the GUI
thread (`classify`, run through the bridge) because even a stat can hang on a network
mount. Files are refused with a message after the drop, not silently at drag time, so
the user learns why nothing happened.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QAbstractItemView, QFrame, QLabel, QTableView, QVBoxLayout, QWidget

from .models.table import KeyRole, RowRole

LOCATION_MIME = "application/x-spacesync-location-id"


def local_paths(mime: QMimeData) -> list[str]:
    """The local file-system paths a drag carries (remote URLs are ignored)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def folder_mime(paths: list[str]) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    return mime


def classify(paths: list[str]) -> tuple[list[str], list[str]]:
    """(folders, everything else) — run off the GUI thread."""
    folders: list[str] = []
    others: list[str] = []
    for p in paths:
        (folders if os.path.isdir(p) else others).append(p)
    return folders, others


def refusal_text(others: list[str]) -> str:
    names = ", ".join(Path(p).name or p for p in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    what = "is not a folder" if len(others) == 1 else "are not folders"
    return f"{names}{more} {what}. SpaceSync syncs folders: drop the folder that holds them."


class DropHint(QWidget):
    """A translucent overlay with a dashed frame, shown over a widget while dragging."""

    def __init__(self, text: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.text = text
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def show_over(self, rect_owner: QWidget) -> None:
        self.setGeometry(rect_owner.rect())
        self.raise_()
        self.show()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = self.palette().highlight().color()
        fill = QColor(accent)
        fill.setAlpha(40)
        p.fillRect(self.rect(), fill)
        pen = QPen(accent, 3, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(self.rect().adjusted(8, 8, -8, -8), 12, 12)
        font = p.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        p.setFont(font)
        p.setPen(self.palette().text().color())
        p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.text)


class DropZone(QFrame):
    """A dashed area that takes dropped folders ("Drop folders here")."""

    pathsDropped = Signal(list)

    def __init__(self, text: str, parent: QWidget | None = None, *, large: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("DropZone")
        self.setAcceptDrops(True)
        self.setMinimumHeight(220 if large else 64)
        self.label = QLabel(text, self)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        if large:
            font = self.label.font()
            font.setPointSizeF(font.pointSizeF() * 1.8)
            self.label.setFont(font)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        self._hover = False

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = self.palette().highlight().color() if self._hover else QColor("#9e9e9e")
        if self._hover:
            fill = QColor(color)
            fill.setAlpha(35)
            p.setBrush(fill)
        p.setPen(QPen(color, 2, Qt.PenStyle.DashLine))
        p.drawRoundedRect(self.rect().adjusted(2, 2, -2, -2), 10, 10)

    def _set_hover(self, on: bool) -> None:
        self._hover = on
        self.update()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self._set_hover(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_hover(False)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.pathsDropped.emit(paths)


class LocationsView(QTableView):
    """Location rows can be dragged onto each other (or external folders onto a row)
    to pair them; `pairRequested(source_path, target_path)` asks for the editor."""

    pairRequested = Signal(str, str)
    # Local paths dropped on a row: (paths, that row's location path).
    pathsDroppedOnRow = Signal(list, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.LinkAction)

    def startDrag(self, supported: Qt.DropAction) -> None:
        from PySide6.QtGui import QDrag

        index = self.currentIndex()
        if not index.isValid():
            return
        loc = index.data(RowRole)
        mime = folder_mime([loc.path])
        mime.setData(LOCATION_MIME, str(index.data(KeyRole)).encode())
        drag = QDrag(self)
        drag.setMimeData(mime)
        # Link only: a file manager given Copy would duplicate the whole folder.
        drag.exec(Qt.DropAction.LinkAction, Qt.DropAction.LinkAction)

    def _row_at(self, pos: QPoint) -> QModelIndex:
        return self.indexAt(pos)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.setDropAction(Qt.DropAction.LinkAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        index = self._row_at(event.position().toPoint())
        if index.isValid():
            self.selectRow(index.row())
        event.setDropAction(Qt.DropAction.LinkAction)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = local_paths(mime)
        index = self._row_at(event.position().toPoint())
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.LinkAction)
        event.accept()
        if not index.isValid():
            # Dropped on empty space below the rows: same as dropping on the window.
            self.pathsDroppedOnRow.emit(paths, "")
            return
        target = index.data(RowRole).path
        if mime.hasFormat(LOCATION_MIME):
            if paths[0] != target:
                self.pairRequested.emit(paths[0], target)
            return
        self.pathsDroppedOnRow.emit(paths, target)
