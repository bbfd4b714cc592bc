"""The pending conflicts of two-way pairs: both versions side by side, one choice each.

Choices are collected first and applied together ("Apply"), each through
`bridge.resolve` (the engine's copy/delete machinery, which keeps the losing version in
the versions store). Items left on "Decide later" stay pending.
"""

from __future__ import annotations

import asyncio
import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spacesync_gui.engine.conduits import ConduitInfo
from spacesync_gui.engine.history import ConflictInfo, list_conflicts

from . import desktop, fmt, prompts
from .async_slots import user_slot
from .bridge import EngineBridge
from .file_preview import FilePreview, load_preview
from .icons import app_icon
from .models import ConflictsModel
from .models.conflicts import CHOICE_TEXT, CHOICES, KIND_TEXT, SKIP
from .models.table import RowRole
from .tasks import spawn

log = logging.getLogger(__name__)


class VersionPane(QGroupBox):
    """One side's version: facts, a preview, and open/reveal buttons."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.path = ""
        self.facts = QLabel(self)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setWordWrap(True)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note = QLabel(self)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.stack = QStackedWidget(self)
        for w in (self.note, self.text, self.image):
            self.stack.addWidget(w)
        self.open_button = QPushButton("Open", self)
        self.reveal_button = QPushButton("Show in folder", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.facts)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self.open_button.clicked.connect(self._open)
        self.reveal_button.clicked.connect(self._reveal)

    def show_version(self, path: str, version: dict[str, Any] | None) -> None:
        self.path = path
        if version is None:
            facts = "<b>Deleted</b> on this side"
        else:
            kind = {"dir": "Folder", "symlink": "Link"}.get(version.get("kind", ""), "File")
            facts = (
                f"<b>{kind}</b>, {fmt.size(version.get('size'))}<br>"
                f"Modified {fmt.stamp(version.get('mtime'))}"
            )
        self.facts.setText(f"{facts}<br><small>{html.escape(fmt.home_path(path))}</small>")
        exists = version is not None
        self.open_button.setEnabled(exists)
        self.reveal_button.setEnabled(exists)
        self.show_preview(FilePreview("none", note="Loading preview…" if exists else ""))

    def show_preview(self, preview: FilePreview) -> None:
        if preview.kind == "text":
            self.text.setPlainText(preview.text)
            self.stack.setCurrentWidget(self.text)
        elif preview.kind == "image":
            self.image.setPixmap(QPixmap.fromImage(preview.image))
            self.stack.setCurrentWidget(self.image)
            return
        if preview.kind == "none":
            self.note.setText(preview.note)
            self.stack.setCurrentWidget(self.note)

    @Slot()
    def _open(self) -> None:
        desktop.open_path(self.path)

    @Slot()
    def _reveal(self) -> None:
        desktop.reveal(self.path)


class ConflictDialog(QDialog):
    loaded = Signal()
    applied = Signal(int, int)  # resolved, failed
    previewShown = Signal()

    def __init__(
        self,
        bridge: EngineBridge,
        conduits: list[ConduitInfo],
        conduit_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.conduits = {c.id: c for c in conduits}
        self.conduit_id = conduit_id
        self.setWindowTitle("Conflicts")
        self.setWindowIcon(app_icon())
        self.resize(980, 640)
        self.model = ConflictsModel(self)
        self.model.conduit_names = {c.id: c.name for c in conduits}
        self._build()

    def _build(self) -> None:
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setAlternatingRowColors(True)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.source_pane = VersionPane("Source version", self)
        self.target_pane = VersionPane("Target version", self)
        panes = QWidget(self)
        panes_layout = QHBoxLayout(panes)
        panes_layout.setContentsMargins(0, 0, 0, 0)
        panes_layout.addWidget(self.source_pane)
        panes_layout.addWidget(self.target_pane)

        self.choice_group = QButtonGroup(self)
        self.choice_buttons: dict[str, QRadioButton] = {}
        choices = QHBoxLayout()
        for i, key in enumerate(CHOICES):
            button = QRadioButton(CHOICE_TEXT[key], self)
            self.choice_group.addButton(button, i)
            self.choice_buttons[key] = button
            choices.addWidget(button)
        self.apply_all_button = QPushButton("Use this choice for all", self)
        choices.addStretch(1)
        choices.addWidget(self.apply_all_button)
        self.choice_group.idClicked.connect(self._choice_clicked)
        self.apply_all_button.clicked.connect(self._choice_for_all)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(panes)
        splitter.setStretchFactor(1, 2)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.apply_button = QPushButton("Apply choices", self)
        self.apply_button.setDefault(True)
        self.buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.ApplyRole)
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self._apply)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(splitter, 1)
        layout.addLayout(choices)
        layout.addWidget(self.buttons)
        self._update_controls()

    # -- loading -----------------------------------------------------------------------

    async def load(self) -> None:
        conflicts = await self.bridge.db(list_conflicts, self.conduit_id)
        self.show_conflicts(conflicts)

    def show_conflicts(self, conflicts: list[ConflictInfo]) -> None:
        self.model.set_rows(conflicts)
        n = self.model.rowCount()
        self.intro.setText(
            f"{n} file{'s' if n != 1 else ''} changed on both sides. Pick the version to keep "
            "for each; the other one is kept in the versions store, not lost."
            if n
            else "No conflicts wait for a decision."
        )
        if n and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self._update_controls()
        self.loaded.emit()

    @user_slot()
    async def refresh(self) -> None:
        await self.load()

    # -- selection and choices ---------------------------------------------------------

    def current(self) -> ConflictInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(RowRole) if rows else None

    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, *_: object) -> None:
        c = self.current()
        self._update_controls()
        if c is None:
            return
        self.choice_buttons[self.model.choice(c.id)].setChecked(True)
        conduit = self.conduits.get(c.conduit_id)
        if conduit is None:
            return
        src = str(Path(conduit.source) / c.path)
        dst = str(Path(conduit.target) / c.path)
        self.source_pane.show_version(src, c.source)
        self.target_pane.show_version(dst, c.target)
        self.source_pane.setTitle(f"Source — {fmt.endpoint(conduit.source)}")
        self.target_pane.setTitle(f"Target — {fmt.endpoint(conduit.target)}")
        self.source_pane.setToolTip(KIND_TEXT.get(c.kind, c.kind))
        spawn(self._load_previews(c.id, src, dst))

    async def _load_previews(self, conflict_id: int, src: str, dst: str) -> None:
        src_preview, dst_preview = await asyncio.gather(
            self.bridge.call(load_preview, src), self.bridge.call(load_preview, dst)
        )
        current = self.current()
        if current is None or current.id != conflict_id:
            return  # the user moved on
        self.source_pane.show_preview(src_preview)
        self.target_pane.show_preview(dst_preview)
        self.previewShown.emit()

    @Slot(int)
    def _choice_clicked(self, button_id: int) -> None:
        c = self.current()
        if c is not None:
            self.model.set_choice(c.id, CHOICES[button_id])
        self._update_controls()

    @Slot()
    def _choice_for_all(self) -> None:
        self.model.set_all(CHOICES[max(0, self.choice_group.checkedId())])
        self._update_controls()

    def choose(self, conflict_id: int, choice: str) -> None:
        """Set one item's choice (as clicking its radio button does)."""
        self.model.set_choice(conflict_id, choice)
        c = self.current()
        if c is not None and c.id == conflict_id:
            self.choice_buttons[choice].setChecked(True)
        self._update_controls()

    def _update_controls(self) -> None:
        has_current = self.current() is not None
        for b in self.choice_buttons.values():
            b.setEnabled(has_current)
        self.apply_all_button.setEnabled(has_current)
        self.apply_button.setEnabled(bool(self.model.decisions()))

    # -- applying ----------------------------------------------------------------------

    @user_slot()
    async def _apply(self) -> None:
        await self.apply()

    async def apply(self) -> tuple[int, int]:
        """Resolve every item with a choice; returns (resolved, failed)."""
        decisions = self.model.decisions()
        if not decisions:
            return 0, 0
        self.apply_button.setEnabled(False)
        resolved, failures = 0, []
        for conflict, choice in decisions:
            try:
                report = await self.bridge.resolve(conflict.id, choice)
            except Exception as e:
                log.warning("resolving conflict %s failed: %s", conflict.id, e)
                failures.append(f"{conflict.path}: {e}")
                continue
            status = getattr(report, "status", None) or (
                report.get("status") if isinstance(report, dict) else None
            )
            if status not in (None, "completed"):
                reason = getattr(report, "reason", None) or status
                failures.append(f"{conflict.path}: {reason}")
                continue
            resolved += 1
            self.model.remove(conflict.id)
        if failures:
            prompts.warn(
                self,
                "Some conflicts were not resolved",
                "\n".join(failures[:15])
                + (f"\n… and {len(failures) - 15} more" if len(failures) > 15 else ""),
            )
        await self.load()
        self.applied.emit(resolved, len(failures))
        return resolved, len(failures)

    def pending(self) -> list[ConflictInfo]:
        return [c for c in self.model.rows() if self.model.choice(c.id) == SKIP]
