"""The tray icon: state at a glance, a menu for the common actions, notifications.

Whether a tray exists is injected (`available`), so the logic is testable offscreen where
there is none. Without a tray the menu still exists (tests drive it) but nothing is shown,
and the window stays the app's only way in: closing it quits.
"""

from __future__ import annotations

import functools
import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from .controller import AppController
from .icons import tray_icon
from .main_window import STATE_TEXT
from .state import AppState

log = logging.getLogger(__name__)

LEVEL_ICON = {
    "info": QSystemTrayIcon.MessageIcon.Information,
    "warning": QSystemTrayIcon.MessageIcon.Warning,
    "error": QSystemTrayIcon.MessageIcon.Critical,
}


class TrayController(QObject):
    notified = Signal(str, str, str)  # title, text, level: every notification shown
    menuRebuilt = Signal()

    def __init__(
        self,
        state: AppState,
        controller: AppController,
        window: QWidget,
        *,
        available: bool | None = None,
        dark: bool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.controller = controller
        self.window = window
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.dark = dark
        self.menu = QMenu(window)
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(self)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated)
        state.overallChanged.connect(self._state_changed)
        state.notify.connect(self.notify)
        self._state_changed(state.overall())
        self.rebuild_menu()

    def show(self) -> None:
        if self.icon is not None:
            self.icon.show()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    def keeps_app_alive(self) -> bool:
        """Closing the window hides it only when the tray can bring it back."""
        return self.icon is not None and self.icon.isVisible()

    # -- state -------------------------------------------------------------------------

    @Slot(str)
    def _state_changed(self, state: str) -> None:
        self.current_state = state
        if self.icon is not None:
            self.icon.setIcon(tray_icon(state, self.dark))
            self.icon.setToolTip(f"SpaceSync — {STATE_TEXT.get(state, state)}")

    @Slot(str, str, str)
    def notify(self, title: str, text: str, level: str = "info") -> None:
        if not self.controller.settings.notifications:
            return
        if self.icon is not None and self.icon.isVisible():
            self.icon.showMessage(title, text, LEVEL_ICON.get(level, LEVEL_ICON["info"]), 8000)
        self.notified.emit(title, text, level)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            if self.window.isVisible() and not self.window.isMinimized():
                self.window.hide()
            else:
                self.controller.show_window()

    # -- menu, rebuilt each time it opens so it is never stale ----------------------------

    @Slot()
    def rebuild_menu(self) -> None:
        c, m = self.controller, self.menu
        m.clear()
        m.addAction("Open SpaceSync", c.show_window)
        m.addSeparator()
        conduits = self.state.conduits.rows()
        engine = self.state.bridge.runtime is not None
        sync_all = m.addAction("Sync all now", c.sync_all)
        sync_all.setEnabled(engine and bool(conduits))
        all_paused = c.all_paused()
        m.addAction(
            "Resume all" if all_paused else "Pause all",
            functools.partial(c.set_all_paused, not all_paused),
        ).setEnabled(bool(conduits))
        if conduits:
            m.addSeparator()
        for conduit in conduits:
            sub = m.addMenu(f"{conduit.name} — {self.state.conduits.status_text(conduit)}")
            sub.addAction("Sync now", functools.partial(c.sync_now, conduit.id)).setEnabled(
                engine and not self.state.conduits.is_running(conduit.id)
            )
            sub.addAction(
                "Resume" if conduit.paused else "Pause",
                functools.partial(c.set_paused, conduit.id, not conduit.paused),
            )
            sub.addSeparator()
            sub.addAction("Open source folder", functools.partial(c.open_folder, conduit.source))
            sub.addAction("Open target folder", functools.partial(c.open_folder, conduit.target))
        if self.state.conflicts:
            m.addSeparator()
            n = len(self.state.conflicts)
            m.addAction(f"Resolve {n} conflict{'s' if n != 1 else ''}…", self._open_conflicts)
        m.addSeparator()
        m.addAction("Settings…", self._open_settings)
        m.addAction("Quit SpaceSync", c.quit)
        self.menuRebuilt.emit()

    @Slot()
    def _open_settings(self) -> None:
        self.controller.show_window()
        self.controller.open_settings()

    @Slot()
    def _open_conflicts(self) -> None:
        self.controller.show_window()
        self.controller.open_conflicts()

    def action(self, text: str) -> object:
        """The menu entry whose text starts with `text` (top level, then submenus)."""
        for a in self.menu.actions():
            if a.text().startswith(text):
                return a
        raise KeyError(text)
