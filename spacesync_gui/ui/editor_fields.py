"""Input widgets of the conduit editor that are more than one stock widget."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from . import prompts
from .dnd import local_paths


class FolderField(QWidget):
    """A folder path: typed, chosen with Browse, or dropped from the file manager."""

    changed = Signal(str)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Drop a folder here or choose one")
        self.edit.setClearButtonEnabled(True)
        self.browse = QPushButton("Browse…", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.setAcceptDrops(True)
        self.edit.setAcceptDrops(False)  # the field handles drops, not the line edit
        self.edit.textChanged.connect(self.changed)
        self.browse.clicked.connect(self._browse)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self.edit.setText(text)

    def setReadOnly(self, ro: bool) -> None:
        self.edit.setReadOnly(ro)
        self.edit.setClearButtonEnabled(not ro)
        self.browse.setEnabled(not ro)
        self.setAcceptDrops(not ro)

    def _browse(self) -> None:
        path = prompts.choose_folder(self, f"Choose the {self.title} folder", self.text())
        if path:
            self.setText(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            # Whether it is a folder is checked by the editor's validation, which says so.
            self.setText(paths[0])


SCHEDULE_KINDS = (("manual", "Manually"), ("instant", "When files change"), ("interval", "Every"))
UNITS = (("m", "minutes"), ("h", "hours"), ("d", "days"))


class ScheduleField(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox(self)
        for key, text in SCHEDULE_KINDS:
            self.kind.addItem(text, key)
        self.amount = QSpinBox(self)
        self.amount.setRange(1, 999)
        self.amount.setValue(15)
        self.unit = QComboBox(self)
        for key, text in UNITS:
            self.unit.addItem(text, key)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind)
        layout.addWidget(self.amount)
        layout.addWidget(self.unit)
        layout.addStretch(1)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.amount.valueChanged.connect(self.changed)
        self.unit.currentIndexChanged.connect(self.changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        interval = self.kind.currentData() == "interval"
        self.amount.setVisible(interval)
        self.unit.setVisible(interval)
        self.changed.emit()

    def value(self) -> str:
        kind = self.kind.currentData()
        if kind != "interval":
            return str(kind)
        return f"interval:{self.amount.value()}{self.unit.currentData()}"

    def setValue(self, schedule: str) -> None:
        if schedule.startswith("interval:"):
            self.kind.setCurrentIndex(self.kind.findData("interval"))
            self.unit.setCurrentIndex(self.unit.findData(schedule[-1]))
            self.amount.setValue(int(schedule[9:-1]))
        else:
            self.kind.setCurrentIndex(max(0, self.kind.findData(schedule)))


class OptionalSpin(QWidget):
    """A checkbox that enables a number: unchecked means "no limit" (None)."""

    changed = Signal()

    def __init__(
        self,
        label: str,
        suffix: str,
        lo: float,
        hi: float,
        default: float,
        parent: QWidget | None = None,
        *,
        decimals: int = 0,
    ) -> None:
        super().__init__(parent)
        self.check = QCheckBox(label, self)
        self.spin = QDoubleSpinBox(self)
        self.spin.setDecimals(decimals)
        self.spin.setRange(lo, hi)
        self.spin.setValue(default)
        self.spin.setSuffix(suffix)
        self.spin.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(self.spin)
        layout.addStretch(1)
        self.check.toggled.connect(self.spin.setEnabled)
        self.check.toggled.connect(self.changed)
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> float | None:
        """The number (an int when the field has no decimals), or None when unchecked."""
        if not self.check.isChecked():
            return None
        v = self.spin.value()
        return v if self.spin.decimals() else int(round(v))

    def setValue(self, value: float | None) -> None:
        self.check.setChecked(value is not None)
        if value is not None:
            self.spin.setValue(value)
