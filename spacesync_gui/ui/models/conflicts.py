"""Pending conflicts, each with the choice the user picked for it in the dialog."""

from __future__ import annotations

from typing import Any

from spacesync_gui.engine.history import ConflictInfo

from .. import fmt
from .table import Column, RowTableModel

SKIP = "skip"
CHOICES = ("source", "target", "both", SKIP)
CHOICE_TEXT = {
    "source": "Keep source",
    "target": "Keep target",
    "both": "Keep both",
    SKIP: "Decide later",
}
KIND_TEXT = {
    "both-modified": "Changed on both sides",
    "modify-delete": "Changed on one side, deleted on the other",
    "type-change": "File on one side, folder on the other",
}


def version_text(v: dict[str, Any] | None) -> str:
    if v is None:
        return "deleted"
    if v.get("kind") == "dir":
        return "folder"
    if v.get("kind") == "symlink":
        return "link"
    return f"{fmt.size(v.get('size'))}, {fmt.stamp(v.get('mtime'))}"


class ConflictsModel(RowTableModel[ConflictInfo]):
    PATH, CONDUIT, KIND, SOURCE, TARGET, CHOICE = range(6)

    def __init__(self, parent: Any = None) -> None:
        self.columns = (
            Column("Path", lambda c: c.path, tooltip=lambda c: c.path),
            Column("Conduit", lambda c: self.conduit_names.get(c.conduit_id, str(c.conduit_id))),
            Column("Conflict", lambda c: KIND_TEXT.get(c.kind, c.kind)),
            Column("Source version", lambda c: version_text(c.source)),
            Column("Target version", lambda c: version_text(c.target)),
            Column("Choice", lambda c: CHOICE_TEXT[self.choice(c.id)]),
        )
        super().__init__(key=lambda c: c.id, parent=parent)
        self.conduit_names: dict[int, str] = {}
        self._choices: dict[int, str] = {}

    def choice(self, conflict_id: int) -> str:
        return self._choices.get(conflict_id, SKIP)

    def set_choice(self, conflict_id: int, choice: str) -> None:
        if choice not in CHOICES:
            raise ValueError(f"unknown choice {choice!r}")
        if self._choices.get(conflict_id, SKIP) != choice:
            self._choices[conflict_id] = choice
            i = self.row_of(conflict_id)
            if i >= 0:
                self.row_changed(i, self.CHOICE, self.CHOICE)

    def set_all(self, choice: str) -> None:
        for c in self.rows():
            self.set_choice(c.id, choice)

    def decisions(self) -> list[tuple[ConflictInfo, str]]:
        """What to apply: every conflict whose choice is not `skip`, in list order."""
        return [(c, self.choice(c.id)) for c in self.rows() if self.choice(c.id) != SKIP]

    def remove(self, key: Any) -> None:
        self._choices.pop(key, None)
        super().remove(key)
