"""Synthesised drag-and-drop events, as a file manager would send them."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def url_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drag_enter(widget: QWidget, mime: QMimeData, pos: QPoint | None = None) -> QDragEnterEvent:
    pos = pos or widget.rect().center()
    ev = QDragEnterEvent(
        QPointF(pos), Qt.DropAction.CopyAction | Qt.DropAction.LinkAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, ev)
    return ev


def drag_move(widget: QWidget, mime: QMimeData, pos: QPoint | None = None) -> QDragMoveEvent:
    pos = pos or widget.rect().center()
    ev = QDragMoveEvent(
        QPointF(pos), Qt.DropAction.CopyAction | Qt.DropAction.LinkAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, ev)
    return ev


def drag_leave(widget: QWidget) -> None:
    QApplication.sendEvent(widget, QDragLeaveEvent())


def drop(widget: QWidget, mime: QMimeData, pos: QPoint | None = None) -> QDropEvent:
    pos = pos or widget.rect().center()
    ev = QDropEvent(
        QPointF(pos), Qt.DropAction.CopyAction | Qt.DropAction.LinkAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, ev)
    return ev


def drag_and_drop(widget: QWidget, mime: QMimeData, pos: QPoint | None = None) -> QDropEvent:
    enter = drag_enter(widget, mime, pos)
    assert enter.isAccepted(), "the drag was not accepted"
    drag_move(widget, mime, pos)
    return drop(widget, mime, pos)
