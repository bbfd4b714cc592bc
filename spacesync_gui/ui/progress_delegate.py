"""Draws the Status cell of a running conduit as a progress bar with its text."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from .models.conduits import ProgressRole


class ProgressDelegate(QStyledItemDelegate):
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        progress = index.data(ProgressRole)
        if progress is None:
            super().paint(painter, option, index)
            return
        fraction, text = progress
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.minimum = 0
        # A negative fraction means "size unknown yet": min == max draws a busy bar.
        bar.maximum = 0 if fraction < 0 else 1000
        bar.progress = 0 if fraction < 0 else int(fraction * 1000)
        # Never wrap inside the bar: a narrow column gets an elided text (full in tooltip).
        bar.text = option.fontMetrics.elidedText(
            text, Qt.TextElideMode.ElideRight, max(0, bar.rect.width() - 8)
        )
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
