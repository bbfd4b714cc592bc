"""What a sync would do (a dry run): counts and a filterable list of the planned items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .async_slots import user_slot
from .bridge import EngineBridge
from .icons import app_icon
from .models import PlanFilterModel, PlanModel
from .models.plan import ACTION_TEXT

COUNT_ORDER = ("copy", "move", "delete", "mkdir", "rmdir", "touch", "conflict")


def report_dict(report: Any) -> dict[str, Any]:
    """A RunReport (or its JSON) as a plain dict."""
    if isinstance(report, Mapping):
        return dict(report)
    to_json = getattr(report, "to_json", None)
    if callable(to_json):
        return dict(to_json())
    return dict(vars(report))


def counts_text(counts: Mapping[str, int]) -> str:
    parts = [f"{counts[a]:,} × {ACTION_TEXT[a].lower()}" for a in COUNT_ORDER if counts.get(a)]
    return ", ".join(parts) if parts else "Nothing to do: both sides are in sync."


class PreviewDialog(QDialog):
    """Runs `bridge.preview(conduit_id)` when shown and lists the plan."""

    loaded = Signal()
    syncRequested = Signal(int)
    forceRequested = Signal(int)  # sync although a safety check refused it

    def __init__(
        self, bridge: EngineBridge, conduit_id: int, name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.conduit_id = conduit_id
        self.report: dict[str, Any] | None = None
        self.refused = False
        self.setWindowTitle(f"Preview — {name}")
        self.setWindowIcon(app_icon())
        self.resize(720, 480)

        self.summary = QLabel("Planning… (scanning both folders, nothing is changed)", self)
        self.summary.setWordWrap(True)
        self.model = PlanModel(self)
        self.proxy = PlanFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self.action_filter = QComboBox(self)
        self.action_filter.addItem("All actions", None)
        for action in COUNT_ORDER:
            self.action_filter.addItem(ACTION_TEXT[action], action)
        self.text_filter = QLineEdit(self)
        self.text_filter.setPlaceholderText("Filter by path")
        self.text_filter.setClearButtonEnabled(True)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setAlternatingRowColors(True)

        filters = QHBoxLayout()
        filters.addWidget(self.action_filter)
        filters.addWidget(self.text_filter, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.sync_button = QPushButton("Sync now", self)
        self.sync_button.setEnabled(False)
        buttons.addButton(self.sync_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.sync_button.clicked.connect(self._sync)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.action_filter.currentIndexChanged.connect(self._filter_changed)
        self.text_filter.textChanged.connect(self.proxy.set_text)

    @Slot()
    def _filter_changed(self) -> None:
        self.proxy.set_action(self.action_filter.currentData())

    @user_slot()
    async def run(self) -> None:
        try:
            report = await self.bridge.preview(self.conduit_id)
        except Exception as e:
            self.summary.setText(f"The preview failed: {e}")
            self.loaded.emit()
            raise
        self.show_report(report_dict(report))

    def show_report(self, report: dict[str, Any]) -> None:
        self.report = report
        self.model.load(report.get("plan") or [])
        counts = counts_text(self.model.counts())
        notes = [str(w) for w in report.get("warnings") or []]
        notes += [f"{e.get('path')}: {e.get('message')}" for e in report.get("errors") or []]
        details = "".join(f"\n• {n}" for n in notes[:5])
        self.refused = report.get("status") == "refused"
        if self.refused:
            self.summary.setText(
                f"A sync would be refused: {report.get('reason') or 'see the log'}.\n{counts}"
                + details
            )
            self.summary.setStyleSheet("color: #c62828;")
            self.sync_button.setText("Sync anyway…")
        else:
            self.summary.setText(f"{counts}\nNothing has been changed yet.{details}")
        self.sync_button.setEnabled(report.get("status") != "failed")
        self.loaded.emit()

    @Slot()
    def _sync(self) -> None:
        if self.refused:
            self.forceRequested.emit(self.conduit_id)
        else:
            self.syncRequested.emit(self.conduit_id)
        self.accept()
