"""The main window: locations, sync pairs with live progress, history and activity.

It only shows and forwards: models come from AppState, operations go to AppController.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from spacesync_gui.engine.conduits import ConduitInfo
from spacesync_gui.engine.events import RunFinished
from spacesync_gui.engine.history import list_generations

from .controller import AppController
from .dnd import DropHint, DropZone, LocationsView, local_paths
from .icons import app_icon, tray_icon
from .models import GenerationsModel
from .models.table import KeyRole, RowRole
from .progress_delegate import ProgressDelegate
from .state import AppState
from .tasks import spawn

STATE_TEXT = {
    "idle": "Everything is in sync",
    "syncing": "Syncing…",
    "paused": "All sync pairs are paused",
    "error": "A problem needs attention",
    "conflicts": "Conflicts wait for a decision",
}


TableT = TypeVar("TableT", bound=QTableView)


def _style_table(t: TableT) -> TableT:
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.verticalHeader().hide()
    t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    t.horizontalHeader().setHighlightSections(False)
    t.setWordWrap(False)
    t.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 12)
    return t


def _table(parent: QWidget) -> QTableView:
    return _style_table(QTableView(parent))


class FirstRunPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h2>Welcome to SpaceSync</h2>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "Drop the two folders you want to keep in sync — or one, and choose the other "
            "next. Nothing is copied until you say so.",
            self,
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_zone = DropZone("Drop folders here", self, large=True)
        self.choose_button = QPushButton("Choose folders…", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 32, 48, 32)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(16)
        layout.addWidget(self.drop_zone, 3)
        layout.addWidget(self.choose_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)


class MainWindow(QMainWindow):
    historyLoaded = Signal(int)

    def __init__(
        self, state: AppState, controller: AppController, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.controller = controller
        controller.window = lambda: self
        # Set by the app: True when closing should hide to the tray instead of quitting.
        self.close_to_tray: Callable[[], bool] = lambda: False
        self.setWindowTitle("SpaceSync")
        self.setWindowIcon(app_icon())
        self.resize(1100, 720)
        self.setAcceptDrops(True)
        self.history = GenerationsModel(self)
        self._select_after_reload: int | None = None
        self._build_actions()
        self._build_pages()
        self._build_toolbar()
        self.drop_hint = DropHint("Drop folders to add them", self)
        self._connect()
        self._update_page()
        self._update_actions()
        self._state_changed(state.overall())

    # -- construction ------------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], object], tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip or text)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        c = self.controller
        self.add_folder_action = self._action("Add folder…", c.choose_and_add_folder)
        self.new_conduit_action = self._action(
            "New sync pair…", self._new_conduit, "Pair two folders"
        )
        self.new_conduit_action.setShortcut(QKeySequence.StandardKey.New)
        self.sync_action = self._action("Sync now", self._sync_selected)
        self.sync_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.sync_all_action = self._action("Sync all", c.sync_all)
        self.pause_action = self._action("Pause", self._toggle_pause_selected)
        self.preview_action = self._action(
            "Preview…", self._preview_selected, "What a sync would do, changing nothing"
        )
        self.edit_action = self._action("Edit…", self._edit_selected)
        self.remove_action = self._action("Remove…", self._remove_selected)
        self.remove_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.conflicts_action = self._action("Resolve conflicts…", self._open_conflicts)
        self.settings_action = self._action("Settings…", self._open_settings)
        self.quit_action = self._action("Quit", c.quit)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.addAction(self.quit_action)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.add_folder_action, self.new_conduit_action):
            bar.addAction(a)
        bar.addSeparator()
        for a in (
            self.sync_action, self.sync_all_action, self.pause_action, self.preview_action,
            self.edit_action, self.remove_action,
        ):  # fmt: skip
            bar.addAction(a)
        bar.addSeparator()
        self.conflicts_badge = QToolButton(self)
        self.conflicts_badge.setDefaultAction(self.conflicts_action)
        self.conflicts_badge.setStyleSheet(
            "QToolButton { background: #d32f2f; color: white; border-radius: 9px;"
            " padding: 2px 10px; font-weight: bold; }"
        )
        self.conflicts_badge_action = bar.addWidget(self.conflicts_badge)
        spacer = QWidget(self)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(self.settings_action)
        self.addToolBar(bar)
        self.toolbar = bar
        self._update_badge(len(self.state.conflicts))

    def _build_pages(self) -> None:
        self.pages = QStackedWidget(self)
        self.first_run = FirstRunPage(self)
        self.pages.addWidget(self.first_run)

        main = QWidget(self)
        self.locations_view = _style_table(LocationsView(main))
        self.locations_view.setModel(self.state.locations)
        lh = self.locations_view.horizontalHeader()
        lh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 5):
            lh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.pair_zone = DropZone(
            "Drop a folder here to sync it — or drag one folder onto another", main
        )

        self.conduits_view = _table(main)
        self.conduits_view.setModel(self.state.conduits)
        self.conduits_view.setItemDelegateForColumn(
            self.state.conduits.STATUS, ProgressDelegate(self.conduits_view)
        )
        ch = self.conduits_view.horizontalHeader()
        ch.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        ch.setSectionResizeMode(self.state.conduits.STATUS, QHeaderView.ResizeMode.Stretch)
        ch.setMinimumSectionSize(60)
        self.conduits_view.doubleClicked.connect(self._edit_selected)

        locations_box = QGroupBox("Folders", main)
        lb = QVBoxLayout(locations_box)
        lb.addWidget(self.locations_view, 1)
        lb.addWidget(self.pair_zone)
        conduits_box = QGroupBox("Sync pairs", main)
        cb = QVBoxLayout(conduits_box)
        cb.addWidget(self.conduits_view)

        self.history_view = _table(main)
        self.history_view.setModel(self.history)
        self.history_view.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.history_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.activity_view = QListView(main)
        self.activity_view.setModel(self.state.activity)
        self.activity_view.setUniformItemSizes(True)
        self.tabs = QTabWidget(main)
        self.tabs.addTab(self.history_view, "History")
        self.tabs.addTab(self.activity_view, "Activity")

        top = QSplitter(Qt.Orientation.Horizontal, main)
        top.addWidget(locations_box)
        top.addWidget(conduits_box)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 5)
        top.setSizes([430, 830])
        self.top_splitter = top
        outer = QSplitter(Qt.Orientation.Vertical, main)
        self.outer_splitter = outer
        outer.addWidget(top)
        outer.addWidget(self.tabs)
        outer.setStretchFactor(0, 3)
        outer.setStretchFactor(1, 2)
        layout = QVBoxLayout(main)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(outer)
        self.main_page = main
        self.pages.addWidget(main)
        self.setCentralWidget(self.pages)
        self.state_label = QLabel(self)
        self.statusBar().addWidget(self.state_label, 1)

    def _connect(self) -> None:
        s, c = self.state, self.controller
        s.reloaded.connect(self._update_page)
        s.reloaded.connect(self._update_actions)
        s.reloaded.connect(self._update_status)
        s.reloaded.connect(self._select_saved)
        c.conduitSaved.connect(self._conduit_saved)
        s.conflictsChanged.connect(self._update_badge)
        s.overallChanged.connect(self._state_changed)
        s.conduits.dataChanged.connect(self._update_actions)
        s.bridge.runFinished.connect(self._run_finished)
        s.bridge.runtimeStarted.connect(self._update_actions)
        s.bridge.runtimeStarted.connect(self._update_status)
        self.conduits_view.selectionModel().selectionChanged.connect(self._conduit_selected)
        s.activity.rowsInserted.connect(self._follow_activity)
        self.conduits_view.customContextMenuRequested.connect(self._conduit_menu)
        self.locations_view.customContextMenuRequested.connect(self._location_menu)
        self.locations_view.pairRequested.connect(self._pair_requested)
        self.locations_view.pathsDroppedOnRow.connect(c.drop_on_location)
        self.pair_zone.pathsDropped.connect(c.drop_for_new_conduit)
        self.first_run.drop_zone.pathsDropped.connect(c.drop_for_new_conduit)
        self.first_run.choose_button.clicked.connect(self._new_conduit)

    # -- selection ---------------------------------------------------------------------

    def selected_conduit(self) -> ConduitInfo | None:
        rows = self.conduits_view.selectionModel().selectedRows()
        return rows[0].data(RowRole) if rows else None

    def select_conduit(self, conduit_id: int) -> None:
        row = self.state.conduits.row_of(conduit_id)
        if row >= 0:
            self.conduits_view.selectRow(row)

    def select_location(self, location_id: int) -> None:
        row = self.state.locations.row_of(location_id)
        if row >= 0:
            self.locations_view.selectRow(row)

    @Slot(QItemSelection, QItemSelection)
    def _conduit_selected(self, *_: object) -> None:
        self._update_actions()
        conduit = self.selected_conduit()
        spawn(self._load_history(conduit.id if conduit else None))

    async def _load_history(self, conduit_id: int | None) -> None:
        rows = []
        if conduit_id is not None:
            try:
                rows = await self.state.bridge.db(list_generations, conduit_id, 100)
            except Exception:  # removed meanwhile: show nothing
                rows = []
        current = self.selected_conduit()
        if (current.id if current else None) != conduit_id:
            return
        self.history.show(conduit_id, rows)
        self.historyLoaded.emit(conduit_id if conduit_id is not None else -1)

    @Slot(object)
    def _conduit_saved(self, info: ConduitInfo) -> None:
        self._select_after_reload = info.id

    @Slot()
    def _select_saved(self) -> None:
        cid, self._select_after_reload = self._select_after_reload, None
        if cid is not None:
            self.select_conduit(cid)

    @Slot(object)
    def _run_finished(self, ev: RunFinished) -> None:
        current = self.selected_conduit()
        if current is not None and current.id == ev.conduit_id:
            spawn(self._load_history(ev.conduit_id))

    # -- state display -----------------------------------------------------------------

    @Slot()
    def _update_page(self) -> None:
        empty = self.state.loaded and self.state.conduits.rowCount() == 0
        self.pages.setCurrentWidget(self.first_run if empty else self.main_page)
        if not empty and not self.selected_conduit() and self.state.conduits.rowCount():
            self.conduits_view.selectRow(0)

    @Slot()
    def _update_actions(self) -> None:
        c = self.selected_conduit()
        has = c is not None
        engine = self.state.bridge.runtime is not None
        running = has and self.state.conduits.is_running(c.id)  # type: ignore[union-attr]
        self.sync_action.setEnabled(has and engine and not running)
        self.sync_all_action.setEnabled(engine and self.state.conduits.rowCount() > 0)
        self.preview_action.setEnabled(has and engine)
        self.pause_action.setEnabled(has)
        self.pause_action.setText("Resume" if has and c.paused else "Pause")  # type: ignore[union-attr]
        self.edit_action.setEnabled(has)
        self.remove_action.setEnabled(has and not running)

    @Slot(int)
    def _update_badge(self, count: int) -> None:
        self.conflicts_action.setText(f"⚠ {count} conflict{'s' if count != 1 else ''}")
        self.conflicts_badge_action.setVisible(count > 0)
        self.conflicts_action.setEnabled(count > 0)

    @Slot(str)
    def _state_changed(self, state: str) -> None:
        self.setWindowIcon(app_icon() if state == "idle" else tray_icon(state))
        self._update_status()

    @Slot()
    def _update_status(self) -> None:
        if not self.state.loaded:
            text = "Loading…"
        elif self.state.conduits.rowCount() == 0:
            text = "No sync pairs yet"
        else:
            text = STATE_TEXT.get(self.state.overall(), self.state.overall())
        if self.state.bridge.runtime is None and self.state.loaded:
            text += " — the sync engine is not running"
        self.state_label.setText(text)

    @Slot()
    def _follow_activity(self) -> None:
        # Follow new lines only when the user has not scrolled up to read older ones.
        bar = self.activity_view.verticalScrollBar()
        if bar.value() >= bar.maximum() - 2:
            QTimer.singleShot(0, self.activity_view.scrollToBottom)

    # -- window layout, kept between runs --------------------------------------------

    def restore_layout(self, settings: QSettings) -> None:
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/top", self.top_splitter.restoreState),
            ("window/outer", self.outer_splitter.restoreState),
        ):
            value = settings.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def save_layout(self, settings: QSettings) -> None:
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/top", self.top_splitter.saveState())
        settings.setValue("window/outer", self.outer_splitter.saveState())
        settings.sync()

    # -- actions on the selection ------------------------------------------------------

    @Slot()
    def _new_conduit(self) -> None:
        loc = self.locations_view.currentIndex().data(RowRole)
        self.controller.new_conduit(loc.path if loc else "")

    @Slot()
    def _sync_selected(self) -> None:
        if c := self.selected_conduit():
            self.controller.sync_now(c.id)

    @Slot()
    def _toggle_pause_selected(self) -> None:
        if c := self.selected_conduit():
            self.controller.set_paused(c.id, not c.paused)

    @Slot()
    def _preview_selected(self) -> None:
        if c := self.selected_conduit():
            self.controller.preview(c.id)

    @Slot()
    def _edit_selected(self) -> None:
        if c := self.selected_conduit():
            self.controller.edit_conduit(c.id)

    @Slot()
    def _remove_selected(self) -> None:
        if c := self.selected_conduit():
            self.controller.remove_conduit(c.id)

    @Slot()
    def _open_conflicts(self) -> None:
        self.controller.open_conflicts()

    @Slot()
    def _open_settings(self) -> None:
        self.controller.open_settings()

    @Slot(str, str)
    def _pair_requested(self, source: str, target: str) -> None:
        self.controller.new_conduit(source, target)

    # -- context menus -----------------------------------------------------------------

    def conduit_menu(self, conduit: ConduitInfo) -> QMenu:
        c = self.controller
        menu = QMenu(self)
        for action in (self.sync_action, self.preview_action, self.pause_action):
            menu.addAction(action)
        menu.addAction(self.edit_action)
        live = self.state.conduits.live(conduit.id)
        if live.conflicts:
            menu.addAction(f"Resolve {live.conflicts} conflicts…",
                           functools.partial(c.open_conflicts, conduit.id))  # fmt: skip
        if conduit.last_status == "refused":
            menu.addAction("Sync anyway…", functools.partial(c.force_sync, conduit.id))
        menu.addSeparator()
        menu.addAction("Open source folder", functools.partial(c.open_folder, conduit.source))
        menu.addAction("Open target folder", functools.partial(c.open_folder, conduit.target))
        menu.addSeparator()
        menu.addAction(self.remove_action)
        return menu

    @Slot(QPoint)
    def _conduit_menu(self, pos: QPoint) -> None:
        index = self.conduits_view.indexAt(pos)
        if not index.isValid():
            return
        self.conduits_view.selectRow(index.row())
        self.conduit_menu(index.data(RowRole)).popup(self.conduits_view.viewport().mapToGlobal(pos))

    def location_menu(self, location_id: int) -> QMenu:
        c = self.controller
        loc = self.state.locations.find(location_id)
        menu = QMenu(self)
        if loc is None:
            return menu
        menu.addAction("Open folder", functools.partial(c.open_folder, loc.path))
        menu.addAction("Scan now", functools.partial(c.rescan_location, loc.id)).setEnabled(
            self.state.bridge.runtime is not None
        )
        menu.addAction("New sync pair from here…", functools.partial(c.new_conduit, loc.path))
        menu.addSeparator()
        menu.addAction("Remove…", functools.partial(c.remove_location, loc.id))
        return menu

    @Slot(QPoint)
    def _location_menu(self, pos: QPoint) -> None:
        index = self.locations_view.indexAt(pos)
        if index.isValid():
            menu = self.location_menu(index.data(KeyRole))
            menu.popup(self.locations_view.viewport().mapToGlobal(pos))

    # -- drops on the window -----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            first_run = self.pages.currentWidget() is self.first_run
            self.drop_hint.text = (
                "Drop folders to sync them" if first_run else "Drop folders to add them"
            )
            self.drop_hint.show_over(self)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_hint.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_hint.hide()
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if self.pages.currentWidget() is self.first_run:
            # No pair yet: whatever the user drops is meant to become one.
            self.controller.drop_for_new_conduit(paths)
        else:
            self.controller.drop_on_window(paths)

    # -- closing -----------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_to_tray():
            # Syncs go on in the tray; the window comes back from the tray menu.
            event.ignore()
            self.hide()
            return
        event.accept()
        self.controller.quit()
