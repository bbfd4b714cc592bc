"""What a sync run and a scan report: plain data that crosses the engine process's pipe.

Kept apart from the modules that produce them so that unpickling a report in the desktop
app imports nothing heavy: importing the service's module tree in the app's pipe reader
held the GIL and froze the window for 50-120 ms at the end of the first sync.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunReport:
    """What a run did; `to_json` is the `sync --json` object of SPEC 4."""

    conduit: int
    generation: int | None = None
    status: str = "completed"  # completed | refused | failed
    copied: int = 0
    deleted: int = 0
    moved: int = 0
    conflicts: int = 0  # waiting for a decision now
    conflicts_resolved: int = 0  # settled by a strategy in this run
    bytes_transferred: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    verified: bool = False
    reason: str | None = None
    dry_run: bool = False
    plan: list[dict[str, str]] | None = None
    warnings: list[str] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.dry_run:
            d.pop("plan")
        return d


@dataclass
class ScanResult:
    files_seen: int = 0  # regular files found (ignored items not counted)
    bytes_seen: int = 0
    files_hashed: int = 0  # files actually read because they were new or changed
    bytes_hashed: int = 0
    added: int = 0  # entries inserted
    modified: int = 0  # entries whose stored data changed (content, kind, stat data, link)
    deleted: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    stopped: bool = False  # should_stop() cut the walk short: no deletes were applied

    def add(self, other: ScanResult) -> None:
        """Count `other` (another part of the same scan) in."""
        self.files_seen += other.files_seen
        self.bytes_seen += other.bytes_seen
        self.files_hashed += other.files_hashed
        self.bytes_hashed += other.bytes_hashed
        self.added += other.added
        self.modified += other.modified
        self.deleted += other.deleted
        self.errors.extend(other.errors)
        self.stopped = self.stopped or other.stopped
