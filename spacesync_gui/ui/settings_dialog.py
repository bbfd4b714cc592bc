"""The settings window: start at login, start minimised, notifications, new-pair defaults."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from spacesync_gui.engine.conduits import MAX_TRANSFERS

from .async_slots import user_slot
from .conduit_editor import CONFLICT_CHOICES, DELETE_CHOICES, MODE_CHOICES
from .controller import AppController
from .editor_fields import ScheduleField
from .settings import AppSettings, ConduitDefaults

log = logging.getLogger(__name__)


def _combo(parent: QWidget, choices: tuple[tuple[str, str], ...], current: str) -> QComboBox:
    combo = QComboBox(parent)
    for key, text in choices:
        combo.addItem(text, key)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


class SettingsDialog(QDialog):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        s = controller.settings
        self.setWindowTitle("SpaceSync settings")
        self.start_at_login = QCheckBox("Start SpaceSync when I log in", self)
        self.start_at_login.setChecked(s.start_at_login)
        self.start_minimized = QCheckBox("Start minimised to the tray", self)
        self.start_minimized.setChecked(s.start_minimized)
        self.notifications = QCheckBox("Notify me about finished syncs, problems and conflicts")
        self.notifications.setChecked(s.notifications)
        d = s.defaults
        self.mode = _combo(self, MODE_CHOICES, d.mode)
        self.schedule = ScheduleField(self)
        self.schedule.setValue(d.schedule)
        self.conflict = _combo(self, CONFLICT_CHOICES, d.conflict)
        self.deletes = _combo(self, DELETE_CHOICES, d.deletes)
        self.transfers = QSpinBox(self)
        self.transfers.setRange(1, MAX_TRANSFERS)
        self.transfers.setValue(d.transfers)

        general = QGroupBox("General", self)
        g = QVBoxLayout(general)
        for w in (self.start_at_login, self.start_minimized, self.notifications):
            g.addWidget(w)
        defaults = QGroupBox("Defaults for new sync pairs", self)
        f = QFormLayout(defaults)
        f.addRow("Mode:", self.mode)
        f.addRow("Sync:", self.schedule)
        f.addRow("Conflicts:", self.conflict)
        f.addRow("Replaced and deleted files:", self.deletes)
        f.addRow("Parallel transfers:", self.transfers)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(general)
        layout.addWidget(defaults)
        layout.addWidget(buttons)

    def values(self) -> AppSettings:
        return replace(
            self.controller.settings,
            start_at_login=self.start_at_login.isChecked(),
            start_minimized=self.start_minimized.isChecked(),
            notifications=self.notifications.isChecked(),
            defaults=ConduitDefaults(
                mode=self.mode.currentData(),
                schedule=self.schedule.value(),
                conflict=self.conflict.currentData(),
                deletes=self.deletes.currentData(),
                transfers=self.transfers.value(),
            ),
        )

    @user_slot()
    async def _save(self) -> None:
        await self.controller.save_settings(self.values())
        self.accept()
