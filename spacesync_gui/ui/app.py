"""The running desktop app: what it owns, in the order it is built and torn down.

Start: QApplication -> single-instance guard (a second launch shows the first and exits)
-> library -> bridge/state/controller/window/tray -> qasync loop, with the engine runtime
started in its own threads once the loop runs. Stop: hide the window and tray, stop the
engine (it finishes or safely abandons the current item), close the library.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QObject, QSettings, QTimer, Slot
from PySide6.QtWidgets import QApplication

from spacesync_gui.engine.db import Library, open_library
from spacesync_gui.engine.errors import CorruptLibrary, LibraryError

from . import prompts
from .bridge import EngineBridge, RuntimeFactory, default_runtime_factory
from .controller import AppController
from .icons import app_icon
from .main_window import MainWindow
from .settings import AppSettings, Autostart, load_settings
from .single_instance import SingleInstance
from .state import AppState
from .tasks import spawn
from .tray import TrayController

log = logging.getLogger(__name__)

APP_NAME = "SpaceSync"
ENGINE_STOP_TIMEOUT = 5.0


class SpaceSyncApp(QObject):
    def __init__(
        self,
        lib: Library,
        settings: AppSettings,
        *,
        runtime_factory: RuntimeFactory = default_runtime_factory,
        tray_available: bool | None = None,
        explicit_data_dir: Path | None = None,
        autostart: Autostart | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.lib = lib
        self.bridge = EngineBridge(lib, runtime_factory, parent=self)
        self.state = AppState(self.bridge, parent=self)
        self.controller = AppController(
            self.bridge,
            self.state,
            settings,
            autostart=autostart,
            explicit_data_dir=explicit_data_dir,
            parent=self,
        )
        self.window = MainWindow(self.state, self.controller)
        # Window size and splitters: a small INI beside the library, read once, written at exit.
        self.layout_settings = QSettings(
            str(lib.data_dir / "gui-layout.ini"), QSettings.Format.IniFormat
        )
        self.window.restore_layout(self.layout_settings)
        self.tray = TrayController(
            self.state, self.controller, self.window, available=tray_available, parent=self
        )
        self.window.close_to_tray = self._close_to_tray
        self._told_about_tray = False
        self.controller.showWindowRequested.connect(self.show_window)
        self.engine_task: asyncio.Task[bool] | None = None
        self._closed = False

    def start(self, minimized: bool = False) -> None:
        self.tray.show()
        # Minimised means "tray only", which needs a tray to come back from.
        if not (minimized and self.tray.keeps_app_alive()):
            self.window.show()
        self.state.request_reload()
        self.engine_task = spawn(self._start_engine())
        # Everything built so far (Qt bindings, modules, widgets) lives as long as the app:
        # leave it out of the garbage collector's full passes, which otherwise walk it all
        # and stalled the event loop for 100-130 ms at a time during a big sync.
        gc.freeze()

    async def _start_engine(self) -> bool:
        try:
            started = await self.bridge.start()
        except Exception as e:
            log.exception("the sync engine failed to start")
            self.state.log(f"The sync engine failed to start: {e}", "error")
            started = False
        else:
            if started:
                self.state.log("Sync engine started")
            else:
                self.state.log("Sync engine not available: only browsing and editing work", "error")
        self.state.set_engine_failed(not started)
        return started

    def _close_to_tray(self) -> bool:
        if not self.tray.keeps_app_alive():
            return False
        if not self._told_about_tray:
            # Once per session, so a closed window is not mistaken for a quit app.
            self._told_about_tray = True
            self.tray.notify(
                "SpaceSync is still running",
                "Syncing goes on in the background. Quit from the tray menu.",
                "info",
            )
        return True

    @Slot()
    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    @Slot()
    def show_requested(self) -> None:
        log.info("another launch asked for the window")
        self.show_window()

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.tray.hide()
        for dialog in list(self.controller.dialogs):
            dialog.close()
        self.window.close_to_tray = lambda: False
        self.window.save_layout(self.layout_settings)
        self.window.hide()
        self.bridge.shutdown(ENGINE_STOP_TIMEOUT)
        self.window.deleteLater()


def _install_signal_handlers(app: QApplication) -> QTimer:
    """Ctrl+C / SIGTERM quit cleanly. Python runs handlers only when it gets control, so
    a cheap timer hands it control twice a second."""

    def quit_app(*_: object) -> None:
        app.quit()

    signal.signal(signal.SIGINT, quit_app)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, quit_app)
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(500)
    return timer


def _is_damaged(error: LibraryError) -> bool:
    # A corrupt file, as opposed to one that is locked, too new or not writable.
    return isinstance(error, CorruptLibrary)


def open_library_or_ask(data_dir: Path) -> Library | None:
    """Open the library; if it is damaged, offer to rebuild it from the saved settings
    (never done silently: the user decides). None when it cannot be used."""
    try:
        return open_library(data_dir)
    except LibraryError as e:
        error = e
    log.error("%s", error)
    if _is_damaged(error) and prompts.confirm(
        None,
        "SpaceSync library damaged",
        f"{error}.\n\nRebuild it now? Your folders and sync pairs are restored from the "
        "saved settings and the damaged file is kept aside; the first syncs afterwards "
        "delete nothing.",
        ok="Rebuild",
    ):
        from spacesync_gui.engine.settings_backup import rebuild_library

        try:
            lib, moved, n_locations, n_conduits = rebuild_library(data_dir)
        except Exception as e:  # the rebuild itself failed: say so, keep everything
            log.exception("rebuild failed")
            prompts.warn(None, "SpaceSync cannot start", f"The rebuild failed: {e}")
            return None
        log.info(
            "library rebuilt: %s folders, %s sync pairs; damaged file kept at %s",
            n_locations, n_conduits, moved,
        )  # fmt: skip
        return lib
    prompts.warn(None, "SpaceSync cannot start", str(error))
    return None


# The engine's copy threads are Python threads: under the default 5 ms switch interval
# the GUI thread can wait several slices for the GIL while they run (measured stalls of
# 100 ms and more during a sync of many small files). 1 ms roughly halves that.
GIL_SWITCH_INTERVAL = 0.001


def run(data_dir: Path, *, explicit_data_dir: Path | None = None, minimized: bool = False) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName("org.spacesync.SpaceSync")
    app.setWindowIcon(app_icon())
    # The window's close button decides (tray or quit); dialogs closing must not quit.
    app.setQuitOnLastWindowClosed(False)

    guard = SingleInstance(data_dir)
    if not guard.claim():
        log.info("SpaceSync is already running for %s; asked it to show its window", data_dir)
        return 0
    lib = open_library_or_ask(data_dir)
    if lib is None:
        guard.close()
        return 2
    settings = load_settings(data_dir)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    spacesync = SpaceSyncApp(lib, settings, explicit_data_dir=explicit_data_dir)
    guard.showRequested.connect(spacesync.show_requested)
    _timer = _install_signal_handlers(app)
    log.info("SpaceSync started (data dir %s)", data_dir)
    try:
        loop.call_soon(spacesync.start, minimized or settings.start_minimized)
        loop.run_forever()
    finally:
        log.info("shutting down")
        _timer.stop()
        spacesync.shutdown()
        guard.close()
        lib.close()
        loop.close()
        asyncio.set_event_loop(None)
    log.info("SpaceSync stopped")
    return 0
