"""The conduit editor: every setting of a sync pair, validated as the user types.

Validation uses the engine's own validators (the CLI gives the same answers) and runs on
the bridge's pool, because checking a folder touches the disk. Each keystroke restarts a
short timer; a result for values that have since changed is dropped. OK stays disabled
until the current values are known to be valid.

Preview needs a conduit in the library (the engine plans from it), so previewing a new
pair saves it *paused* first; Cancel then removes it again, with any location it created.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from spacesync_gui.engine import conduits as conduits_api
from spacesync_gui.engine import locations as locations_api
from spacesync_gui.engine.conduits import ConduitInfo
from spacesync_gui.engine.db import Library
from spacesync_gui.engine.errors import SpaceSyncError, UserError

from .async_slots import user_slot
from .bridge import EngineBridge
from .editor_fields import FolderField, OptionalSpin, ScheduleField
from .icons import app_icon
from .settings import ConduitDefaults
from .tasks import spawn

log = logging.getLogger(__name__)

MODE_CHOICES = (
    ("bidirectional", "Two-way: changes on either side go to the other"),
    ("mirror", "Mirror: the target becomes an exact copy of the source"),
)
CONFLICT_CHOICES = (
    ("ask", "Ask me"),
    ("newest", "Keep the newest"),
    ("source", "Keep the source's version"),
    ("target", "Keep the target's version"),
    ("largest", "Keep the largest"),
    ("keep-both", "Keep both (rename the target's)"),
)
DELETE_CHOICES = (
    ("versioning", "Keep old versions in .spacesync/versions"),
    ("trash", "Move to the trash"),
    ("permanent", "Delete permanently"),
)


@dataclass(frozen=True)
class EditorValues:
    source: str
    target: str
    name: str
    mode: str
    schedule: str
    conflict: str
    deletes: str
    ignore: tuple[str, ...] = ()
    transfers: int = 4
    bwlimit: float | None = None
    keep_versions_days: int | None = None
    keep_versions_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for add_conduit / edit_conduit / validate_settings."""
        d = asdict(self)
        for k in ("source", "target", "extra"):
            d.pop(k)
        d["ignore"] = list(self.ignore)
        return d


def validate(values: EditorValues, check_endpoints: bool) -> str | None:
    """The first problem with `values` as one line, or None. Runs off the GUI thread."""
    try:
        if check_endpoints:
            if not values.source:
                return "Choose the source folder."
            if not values.target:
                return "Choose the target folder."
            conduits_api.validate_endpoints(values.source, values.target)
        conduits_api.validate_settings(**values.settings())
    except UserError as e:
        msg = str(e)
        return msg[:1].upper() + msg[1:]
    return None


def _create_paused(lib: Library, values: EditorValues) -> tuple[ConduitInfo, list[int]]:
    """Save a new pair paused (so no schedule runs it before OK); returns it and the ids
    of the locations this created, for Cancel to take back."""
    before = {loc.id for loc in locations_api.list_locations(lib)}
    info = conduits_api.add_conduit(lib, values.source, values.target, **values.settings())
    conduits_api.set_paused(lib, info.id, True)
    created = [loc.id for loc in locations_api.list_locations(lib) if loc.id not in before]
    return info, created


def _discard(lib: Library, conduit_id: int, location_ids: list[int]) -> None:
    conduits_api.remove_conduit(lib, conduit_id)
    for loc_id in location_ids:
        try:
            locations_api.remove_location(lib, loc_id)
        except SpaceSyncError as e:  # still used elsewhere, or its marker is stuck
            log.info("kept location %s: %s", loc_id, e)


def _save(
    lib: Library, values: EditorValues, existing: ConduitInfo | None, unpause: bool
) -> ConduitInfo:
    if existing is None:
        info = conduits_api.add_conduit(lib, values.source, values.target, **values.settings())
    else:
        settings = values.settings()
        # edit_conduit treats None as "unchanged"; a limit the user emptied is cleared.
        cleared = {k for k in conduits_api.CLEARABLE if settings[k] is None}
        info = conduits_api.edit_conduit(lib, existing.id, clear=cleared, **settings)
    if unpause and info.paused:
        info = conduits_api.set_paused(lib, info.id, False)
    return info


class ConduitEditor(QDialog):
    """New (`conduit=None`) or existing pair. `saved` carries the stored ConduitInfo."""

    saved = Signal(object)
    validated = Signal(str)  # the message shown, "" when valid (tests wait on it)
    previewRequested = Signal(int)  # conduit id, once it exists in the library

    def __init__(
        self,
        bridge: EngineBridge,
        conduit: ConduitInfo | None = None,
        *,
        source: str = "",
        target: str = "",
        defaults: ConduitDefaults | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.conduit = conduit
        self.is_new = conduit is None
        # A new pair saved paused for a preview, and the locations that created.
        self._draft: ConduitInfo | None = None
        self._draft_locations: list[int] = []
        self._original: EditorValues | None = None
        self._preview_saved_edits = False
        self._generation = 0
        self.valid = False
        self.setWindowTitle("New sync pair" if conduit is None else f"Edit {conduit.name}")
        self.setWindowIcon(app_icon())
        self.setMinimumWidth(620)
        self._build()
        self._load(conduit, source, target, defaults or ConduitDefaults())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self._validate_now)
        self._connect_changes()
        self._changed()

    # -- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        self.source = FolderField("source", self)
        self.target = FolderField("target", self)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("Named after the folders when left empty")
        self.mode = QComboBox(self)
        for key, text in MODE_CHOICES:
            self.mode.addItem(text, key)
        self.schedule = ScheduleField(self)
        self.conflict = QComboBox(self)
        for key, text in CONFLICT_CHOICES:
            self.conflict.addItem(text, key)
        self.deletes = QComboBox(self)
        for key, text in DELETE_CHOICES:
            self.deletes.addItem(text, key)
        self.keep_days = OptionalSpin("Delete versions older than", " days", 1, 3650, 30, self)
        self.keep_count = OptionalSpin("Keep at most", " versions per file", 1, 1000, 10, self)
        self.ignore = QPlainTextEdit(self)
        self.ignore.setPlaceholderText("One pattern per line, like .gitignore, e.g.\n*.tmp\nbuild/")
        self.ignore.setFixedHeight(72)
        self.transfers = QSpinBox(self)
        self.transfers.setRange(1, conduits_api.MAX_TRANSFERS)
        self.bwlimit = OptionalSpin("Limit to", " MB/s", 0.1, 10000, 10, self, decimals=1)

        pair = QGroupBox("Folders", self)
        form = QFormLayout(pair)
        form.addRow("Source:", self.source)
        form.addRow("Target:", self.target)
        form.addRow("Name:", self.name)
        form.addRow("Mode:", self.mode)
        form.addRow("Sync:", self.schedule)

        rules = QGroupBox("Rules", self)
        form2 = QFormLayout(rules)
        form2.addRow("Conflicts:", self.conflict)
        form2.addRow("Replaced and deleted files:", self.deletes)
        form2.addRow("", self.keep_days)
        form2.addRow("", self.keep_count)
        form2.addRow("Ignore:", self.ignore)
        form2.addRow("Parallel transfers:", self.transfers)
        form2.addRow("Bandwidth:", self.bwlimit)

        self.message = QLabel(self)
        self.message.setObjectName("ValidationMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c62828;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Create" if self.is_new else "Save")
        self.preview_button = QPushButton("Preview…", self)
        self.preview_button.setToolTip("Show what the first sync would do, changing nothing")
        self.buttons.addButton(self.preview_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.preview_button.clicked.connect(self._preview)

        layout = QVBoxLayout(self)
        layout.addWidget(pair)
        layout.addWidget(rules)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _load(
        self, c: ConduitInfo | None, source: str, target: str, defaults: ConduitDefaults
    ) -> None:
        if c is None:
            self.source.setText(source)
            self.target.setText(target)
            self._select(self.mode, defaults.mode)
            self.schedule.setValue(defaults.schedule)
            self._select(self.conflict, defaults.conflict)
            self._select(self.deletes, defaults.deletes)
            self.transfers.setValue(defaults.transfers)
            return
        self.source.setText(c.source)
        self.target.setText(c.target)
        for f in (self.source, self.target):
            f.setReadOnly(True)
            f.setToolTip("To sync other folders, create a new pair")
        self.name.setText(c.name)
        self._select(self.mode, c.mode)
        self.schedule.setValue(c.schedule)
        self._select(self.conflict, c.conflict)
        self._select(self.deletes, c.deletes)
        self.ignore.setPlainText("\n".join(c.ignore))
        self.transfers.setValue(c.transfers)
        self.bwlimit.setValue(c.bwlimit)
        self.keep_days.setValue(c.keep_versions_days)
        self.keep_count.setValue(c.keep_versions_count)
        self._original = self.values()

    @staticmethod
    def _select(combo: QComboBox, key: str) -> None:
        i = combo.findData(key)
        if i >= 0:
            combo.setCurrentIndex(i)

    def _connect_changes(self) -> None:
        for sig in (
            self.source.changed, self.target.changed, self.name.textChanged,
            self.mode.currentIndexChanged, self.schedule.changed,
            self.conflict.currentIndexChanged, self.deletes.currentIndexChanged,
            self.ignore.textChanged, self.transfers.valueChanged, self.bwlimit.changed,
            self.keep_days.changed, self.keep_count.changed,
        ):  # fmt: skip
            sig.connect(self._changed)

    # -- values and validation ---------------------------------------------------------

    def values(self) -> EditorValues:
        ignore = tuple(ln.strip() for ln in self.ignore.toPlainText().splitlines() if ln.strip())
        name = self.name.text().strip()
        if not name:
            src, dst = self.source.text().rstrip("/\\"), self.target.text().rstrip("/\\")
            name = f"{_base(src)} → {_base(dst)}" if src and dst else "unnamed"
        return EditorValues(
            source=self.source.text(),
            target=self.target.text(),
            name=name,
            mode=self.mode.currentData(),
            schedule=self.schedule.value(),
            conflict=self.conflict.currentData(),
            deletes=self.deletes.currentData(),
            ignore=ignore,
            transfers=self.transfers.value(),
            bwlimit=self.bwlimit.value(),
            keep_versions_days=self.keep_days.value(),  # type: ignore[arg-type]
            keep_versions_count=self.keep_count.value(),  # type: ignore[arg-type]
        )

    @Slot()
    def _changed(self) -> None:
        two_way = self.mode.currentData() == "bidirectional"
        self.conflict.setEnabled(two_way)
        self.conflict.setToolTip("" if two_way else "A mirror has no conflicts: the source wins")
        versioning = self.deletes.currentData() == "versioning"
        self.keep_days.setEnabled(versioning)
        self.keep_count.setEnabled(versioning)
        # Until the current values are checked, they count as invalid.
        self._generation += 1
        self._set_valid(False, self.message.text())
        self._timer.start()

    @Slot()
    def _validate_now(self) -> None:
        spawn(self._run_validation(self._generation, self.values()))

    async def _run_validation(self, generation: int, values: EditorValues) -> None:
        check_endpoints = self.is_new and self._draft is None
        problem = await self.bridge.call(validate, values, check_endpoints)
        if generation != self._generation:
            return  # the user typed on; a newer check is coming
        self._set_valid(problem is None, problem or "")
        self.validated.emit(problem or "")

    def _set_valid(self, valid: bool, message: str) -> None:
        self.valid = valid
        self.message.setText(message)
        self.ok_button.setEnabled(valid)
        self.preview_button.setEnabled(valid)

    # -- actions -----------------------------------------------------------------------

    @user_slot()
    async def _preview(self) -> None:
        values = self.values()
        if self.is_new and self._draft is None:
            self._draft, self._draft_locations = await self.bridge.call(
                _create_paused, self.bridge.lib, values
            )
            self.source.setReadOnly(True)
            self.target.setReadOnly(True)
            await self.bridge.reload()
        else:
            existing = self._draft or self.conduit
            assert existing is not None
            await self.bridge.call(_save, self.bridge.lib, values, existing, False)
            self._preview_saved_edits = self._draft is None
            await self.bridge.reload()
        conduit_id = (self._draft or self.conduit).id  # type: ignore[union-attr]
        self.previewRequested.emit(conduit_id)

    @user_slot()
    async def _accept(self) -> None:
        if not self.valid:
            return
        self.ok_button.setEnabled(False)
        values = self.values()
        try:
            info = await self.bridge.call(
                _save, self.bridge.lib, values, self._draft or self.conduit, True
            )
        except UserError as e:
            self._set_valid(False, str(e))
            return
        self._draft = None
        await self.bridge.reload()
        self.saved.emit(info)
        self.accept()

    def reject(self) -> None:
        draft = self._draft
        self._draft = None
        if draft is not None:
            self.bridge.submit(_discard, self.bridge.lib, draft.id, self._draft_locations)
            self.bridge.submit(self._reload_runtime)
        elif self._preview_saved_edits and self._original is not None:
            # A preview saved the edits; Cancel puts the old settings back.
            self.bridge.submit(_save, self.bridge.lib, self._original, self.conduit, False)
            self.bridge.submit(self._reload_runtime)
        super().reject()

    def _reload_runtime(self) -> None:
        if self.bridge.runtime is not None:
            self.bridge.runtime.reload()


def _base(path: str) -> str:
    return Path(path).name or path
