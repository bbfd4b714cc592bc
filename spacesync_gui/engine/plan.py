"""Plain data shared by the planner, the transfer code and the service.

A *snapshot* is `dict[key, Item]`: every indexed item below one conduit endpoint, keyed by
its path relative to that endpoint. The *base* has the same shape. A `Plan` is what the
planner derives from two snapshots and the base; the service executes it in phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

SOURCE = "source"
TARGET = "target"


def other(side: str) -> str:
    return TARGET if side == SOURCE else SOURCE


class Item(NamedTuple):
    kind: str  # models.FILE | DIR | SYMLINK
    size: int = 0
    mtime_ns: int = 0
    hash: str | None = None  # files: xxh3-128 hex
    link: str | None = None  # symlinks: the target string
    mode: int = 0
    inode: int = 0

    def same_content(self, other: Item | None) -> bool:
        """Equal kind and content; mtime, mode and inode do not count."""
        if other is None or other.kind != self.kind:
            return False
        if self.kind == "file":
            return self.hash == other.hash and self.size == other.size
        if self.kind == "symlink":
            return self.link == other.link
        return True


Snapshot = dict[str, Item]

# Action ops, in the order the service runs their phases.
MKDIR = "mkdir"
MOVE = "move"
COPY = "copy"
TOUCH = "touch"
DELETE = "delete"
RMDIR = "rmdir"
CONFLICT = "conflict"  # only in dry-run listings: a pending conflict, nothing done

PHASES = (MKDIR, MOVE, COPY, TOUCH, DELETE, RMDIR)


@dataclass(frozen=True, slots=True)  # slots: a first sync plans one per file (80 bytes, not 350)
class Action:
    """One change on one side.

    op      what to do (see PHASES)
    path    the path changed on `side` (for MOVE: the new path)
    side    the side written to: SOURCE or TARGET
    item    copy/touch/mkdir: the other side's item as indexed (what `side` must become);
            move: the item being moved; delete/rmdir: None
    expect  what `side` holds at `path` now (None: nothing); the executor refuses to act
            when the disk no longer matches (never overwrite an unseen change). For MOVE:
            the item expected at `from_path`.
    from_path  MOVE only: the old path on `side`
    base    the base entry for `path` once this action commits (None: remove from base);
            a MOVE also removes the base entry of `from_path` when it commits
    """

    op: str
    path: str
    side: str
    item: Item | None = None
    expect: Item | None = None
    from_path: str | None = None
    base: Item | None = None


@dataclass(frozen=True)
class ConflictRecord:
    """A path that changed on both sides in incompatible ways.

    kind        both-modified | modify-delete | type-change
    resolution  None while it waits for a decision (`ask`); otherwise the strategy that
                settled it in this plan (newest, source, target, largest, keep-both,
                modified-wins)
    """

    path: str
    kind: str
    source: Item | None
    target: Item | None
    resolution: str | None = None


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    conflicts: list[ConflictRecord] = field(default_factory=list)
    # Base updates that need no disk action (equal changes on both sides, vanished paths).
    base_updates: list[tuple[str, Item | None]] = field(default_factory=list)
    # Mirror with a base: target files edited (or created) since the last sync that this
    # plan overwrites or deletes; their old content goes to the versions store (SPEC 3.2).
    overwritten_target_edits: list[str] = field(default_factory=list)

    @property
    def pending_conflicts(self) -> list[ConflictRecord]:
        return [c for c in self.conflicts if c.resolution is None]

    @property
    def resolved_conflicts(self) -> list[ConflictRecord]:
        return [c for c in self.conflicts if c.resolution is not None]

    def is_empty(self) -> bool:
        """Nothing to do on disk and nothing waiting (base-only updates do not count)."""
        return not self.actions and not self.pending_conflicts

    def hold_back(self, paths: set[str]) -> None:
        """Drop, in place, every action on a file or link at one of `paths` (either side,
        either end of a move); folders stay, and keep_folders_with_unknown_items keeps
        any folder that still holds such an item."""
        self.actions = [
            a
            for a in self.actions
            if a.op in (MKDIR, RMDIR) or (a.path not in paths and a.from_path not in paths)
        ]

    def by_phase(self) -> list[list[Action]]:
        return [[a for a in self.actions if a.op == op] for op in PHASES]

    def listing(self) -> list[dict[str, str]]:
        """The `plan` of `sync --dry-run --json`: `{action, path}` (+ side, from)."""
        out: list[dict[str, str]] = []
        for phase in self.by_phase():
            for a in phase:
                row = {"action": a.op, "path": a.path, "side": a.side}
                if a.from_path is not None:
                    row["from"] = a.from_path
                out.append(row)
        for c in self.pending_conflicts:
            out.append({"action": CONFLICT, "path": c.path, "kind": c.kind})
        return out
