"""What the user can do, in one place for the toolbar, context menus, drops and the tray.

Every operation runs its disk and database work through the bridge (off the GUI thread),
reports engine errors through `prompts`, and asks the state for a reload afterwards.
Dialogs are opened non-modally (`open()`), so nothing here ever blocks the event loop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from spacesync_gui.engine import conduits as conduits_api
from spacesync_gui.engine import locations as locations_api
from spacesync_gui.engine.conduits import ConduitInfo
from spacesync_gui.engine.errors import SpaceSyncError

from . import desktop, prompts
from .async_slots import user_slot
from .bridge import EngineBridge
from .conduit_editor import ConduitEditor
from .conflict_dialog import ConflictDialog
from .dnd import classify, refusal_text
from .preview_dialog import PreviewDialog
from .settings import AppSettings, Autostart, launch_command, save_settings
from .state import AppState
from .tasks import spawn

log = logging.getLogger(__name__)


class AppController(QObject):
    # The dialogs opened, so the window can track them and tests can drive them.
    editorOpened = Signal(object)
    previewOpened = Signal(object)
    conflictsOpened = Signal(object)
    locationsAdded = Signal(list)  # LocationInfo
    showWindowRequested = Signal()
    quitRequested = Signal()
    settingsChanged = Signal(object)
    conduitSaved = Signal(object)  # ConduitInfo

    def __init__(
        self,
        bridge: EngineBridge,
        state: AppState,
        settings: AppSettings,
        *,
        autostart: Autostart | None = None,
        explicit_data_dir: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.state = state
        self.settings = settings
        self.autostart = autostart or Autostart()
        # Kept so the start-at-login command opens this same library.
        self.explicit_data_dir = explicit_data_dir
        self.window: Callable[[], QWidget | None] = lambda: None
        self.dialogs: list[QDialog] = []

    def dialog_parent(self) -> QWidget | None:
        return self.window()

    def _keep(self, dialog: QDialog) -> None:
        """Hold a reference while the dialog is open (Python would collect it); let go
        when it finishes or when Qt deletes it with its parent."""
        self.dialogs.append(dialog)
        dialog.finished.connect(functools.partial(self._finished, dialog))
        dialog.destroyed.connect(functools.partial(self._destroyed, dialog))

    def _finished(self, dialog: QDialog, _result: int = 0) -> None:
        self._destroyed(dialog)
        dialog.deleteLater()

    def _destroyed(self, dialog: QDialog, *_: object) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    # -- locations and drops ---------------------------------------------------------

    async def add_folders(self, paths: list[str]) -> list[locations_api.LocationInfo]:
        """Add dropped or chosen folders as locations; files are refused with a message."""
        folders, others = await self.bridge.call(classify, paths)
        if others:
            prompts.warn(self.dialog_parent(), "Only folders can be added", refusal_text(others))
        added, problems = [], []
        for folder in folders:
            try:
                added.append(await self.bridge.db(locations_api.add_location, folder))
            except SpaceSyncError as e:
                problems.append(str(e))
        for loc in added:
            self.state.log(f"Added folder {loc.path}")
        if problems:
            prompts.warn(self.dialog_parent(), "Some folders were not added", "\n".join(problems))
        if added:
            await self.bridge.reload()
            self.state.request_reload()
            self.locationsAdded.emit(added)
        return added

    @user_slot(list)
    async def drop_on_window(self, paths: list[str]) -> None:
        await self.add_folders(paths)

    @user_slot(list)
    async def drop_for_new_conduit(self, paths: list[str]) -> None:
        """Folders dropped on the "new sync pair" area: the editor, pre-filled."""
        folders, others = await self.bridge.call(classify, paths)
        if others:
            prompts.warn(self.dialog_parent(), "Only folders can be synced", refusal_text(others))
        if folders:
            self.new_conduit(folders[0], folders[1] if len(folders) > 1 else "")

    @user_slot(list, str)
    async def drop_on_location(self, paths: list[str], location_path: str) -> None:
        """A folder dropped on a location row pairs it with that location."""
        if not location_path:
            await self.add_folders(paths)
            return
        folders, others = await self.bridge.call(classify, paths)
        if others:
            prompts.warn(self.dialog_parent(), "Only folders can be synced", refusal_text(others))
        if folders:
            self.new_conduit(folders[0], location_path)

    @user_slot()
    async def choose_and_add_folder(self) -> None:
        path = prompts.choose_folder(self.dialog_parent(), "Add a folder", str(Path.home()))
        if path:
            await self.add_folders([path])

    @user_slot(int)
    async def rescan_location(self, location_id: int) -> None:
        """Scan a folder now (queued behind any running sync, like the engine's own scans)."""
        await self.bridge.rescan(location_id)
        self.state.request_reload()

    @user_slot(int)
    async def remove_location(self, location_id: int) -> None:
        loc = self.state.locations.find(location_id)
        where = loc.path if loc else f"location {location_id}"
        if not prompts.confirm(
            self.dialog_parent(),
            "Remove folder",
            f"Stop indexing {where}?\nIts files stay where they are.",
            ok="Remove",
        ):
            return
        await self.bridge.db(locations_api.remove_location, location_id)
        await self.bridge.reload()
        self.state.log(f"Removed folder {where}")
        self.state.request_reload()

    # -- conduits ----------------------------------------------------------------------

    def new_conduit(self, source: str = "", target: str = "") -> ConduitEditor:
        editor = ConduitEditor(
            self.bridge,
            source=source,
            target=target,
            defaults=self.settings.defaults,
            parent=self.dialog_parent(),
        )
        self._open_editor(editor)
        return editor

    def edit_conduit(self, conduit_id: int) -> ConduitEditor | None:
        conduit = self.state.conduits.find(conduit_id)
        if conduit is None:
            return None
        editor = ConduitEditor(self.bridge, conduit, parent=self.dialog_parent())
        self._open_editor(editor)
        return editor

    def _open_editor(self, editor: ConduitEditor) -> None:
        editor.saved.connect(self._conduit_saved)
        editor.previewRequested.connect(self._preview_from_editor)
        self._keep(editor)
        editor.open()
        self.editorOpened.emit(editor)

    @Slot(object)
    def _conduit_saved(self, info: ConduitInfo) -> None:
        self.state.log(f"Saved sync pair {info.name}")
        self.conduitSaved.emit(info)
        self.state.request_reload()

    @Slot(int)
    def _preview_from_editor(self, conduit_id: int) -> None:
        self.state.request_reload()
        editor = self.sender()
        self.preview(conduit_id, parent=editor if isinstance(editor, QWidget) else None)

    def preview(self, conduit_id: int, parent: QWidget | None = None) -> PreviewDialog:
        dialog = PreviewDialog(
            self.bridge,
            conduit_id,
            self.state.conduit_name(conduit_id),
            parent=parent or self.dialog_parent(),
        )
        dialog.syncRequested.connect(self.sync_now)
        dialog.forceRequested.connect(self.force_sync)
        self._keep(dialog)
        dialog.open()
        dialog.run()
        self.previewOpened.emit(dialog)
        return dialog

    @user_slot(int)
    async def sync_now(self, conduit_id: int) -> None:
        conduit = self.state.conduits.find(conduit_id)
        if conduit is not None and conduit.paused:
            # Syncing a pair the user explicitly starts is what they want, even if paused.
            await self.bridge.set_paused(conduit_id, False)
        self.state.set_queued(conduit_id, True)
        try:
            await self.bridge.sync_now(conduit_id)
        finally:
            # Normally RunFinished cleared it already; a refusal before the run did not.
            self.state.set_queued(conduit_id, False)

    @user_slot(int)
    async def force_sync(self, conduit_id: int) -> None:
        """Run although a safety check refused it (SPEC 3.1: only when the user says so)."""
        conduit = self.state.conduits.find(conduit_id)
        reason = (self.state.conduits.live(conduit_id).last_summary or {}).get("reason")
        name = conduit.name if conduit else f"conduit {conduit_id}"
        if not prompts.confirm(
            self.dialog_parent(),
            "Sync anyway?",
            f"SpaceSync stopped {name} to protect your files"
            + (f":\n{reason}" if reason else ".")
            + "\n\nOnly continue if you meant to make these changes. Replaced and deleted "
            "files are kept as the pair's deletion setting says.",
            ok="Sync anyway",
        ):
            return
        self.state.set_queued(conduit_id, True)
        try:
            await self.bridge.sync_now(conduit_id, force=True)
        finally:
            self.state.set_queued(conduit_id, False)

    @user_slot()
    async def sync_all(self) -> None:
        ids = [c.id for c in self.state.conduits.rows() if not c.paused]
        for cid in ids:
            self.state.set_queued(cid, True)
        try:
            await self.bridge.sync_all()
        finally:
            for cid in ids:
                self.state.set_queued(cid, False)

    @user_slot(int, bool)
    async def set_paused(self, conduit_id: int, paused: bool) -> None:
        await self.bridge.set_paused(conduit_id, paused)
        self.state.log(f"{self.state.conduit_name(conduit_id)} {'paused' if paused else 'resumed'}")
        self.state.request_reload()

    @user_slot(bool)
    async def set_all_paused(self, paused: bool) -> None:
        await self.bridge.set_all_paused(paused)
        self.state.log("All sync pairs paused" if paused else "All sync pairs resumed")
        self.state.request_reload()

    def all_paused(self) -> bool:
        rows = self.state.conduits.rows()
        return bool(rows) and all(c.paused for c in rows)

    @user_slot(int)
    async def remove_conduit(self, conduit_id: int) -> None:
        name = self.state.conduit_name(conduit_id)
        if not prompts.confirm(
            self.dialog_parent(),
            "Remove sync pair",
            f"Stop syncing {name}?\nThe files on both sides stay as they are.",
            ok="Remove",
        ):
            return
        await self.bridge.db(conduits_api.remove_conduit, conduit_id)
        await self.bridge.reload()
        self.state.log(f"Removed sync pair {name}")
        self.state.request_reload()

    def open_folder(self, path: str) -> None:
        desktop.open_path(path)

    # -- conflicts ---------------------------------------------------------------------

    def open_conflicts(self, conduit_id: int | None = None) -> ConflictDialog:
        dialog = ConflictDialog(
            self.bridge, self.state.conduits.rows(), conduit_id, parent=self.dialog_parent()
        )
        dialog.applied.connect(self._conflicts_applied)
        self._keep(dialog)
        dialog.open()
        spawn(dialog.load())
        self.conflictsOpened.emit(dialog)
        return dialog

    @Slot(int, int)
    def _conflicts_applied(self, resolved: int, failed: int) -> None:
        if resolved:
            self.state.log(f"Resolved {resolved} conflict{'s' if resolved != 1 else ''}")
        self.state.request_reload()

    # -- app ---------------------------------------------------------------------------

    def open_settings(self) -> QDialog:
        from .settings_dialog import SettingsDialog  # it imports this module

        dialog = SettingsDialog(self, parent=self.dialog_parent())
        self._keep(dialog)
        dialog.open()
        return dialog

    async def save_settings(self, settings: AppSettings) -> None:
        """Store the settings and make start-at-login match them."""
        cmd = launch_command(self.explicit_data_dir, settings.start_minimized)
        await self.bridge.call(save_settings, self.bridge.lib.data_dir, settings)
        await self.bridge.call(self.autostart.apply, settings.start_at_login, cmd)
        self.settings = settings
        self.settingsChanged.emit(settings)

    @Slot()
    def show_window(self) -> None:
        self.showWindowRequested.emit()

    @Slot()
    def quit(self) -> None:
        self.quitRequested.emit()
        app = QApplication.instance()
        if app is not None:
            app.quit()
