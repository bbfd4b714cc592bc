"""Read-side queries for history (generations) and conflicts, as plain dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from . import models
from .db import Library
from .errors import NotFound


@dataclass(frozen=True)
class GenerationInfo:
    id: int
    conduit_id: int
    started_at: float
    finished_at: float | None
    status: str
    reason: str | None
    copied: int
    deleted: int
    moved: int
    conflicts: int
    conflicts_resolved: int
    bytes: int
    errors: int
    error_details: tuple[dict[str, str], ...]
    verified: bool

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["error_details"] = list(self.error_details)
        return d


@dataclass(frozen=True)
class ConflictInfo:
    id: int
    conduit_id: int
    path: str
    kind: str
    source: dict[str, Any] | None  # {kind, size, mtime, hash} or None when deleted
    target: dict[str, Any] | None
    status: str  # pending | resolved
    resolution: str | None
    created_at: float

    def to_json(self) -> dict[str, Any]:
        """The shape of `conflicts list --json` (SPEC 4)."""
        return {
            "id": self.id,
            "conduit": self.conduit_id,
            "path": self.path,
            "kind": self.kind,
            "source": self.source,
            "target": self.target,
            "status": self.status,
            "resolution": self.resolution,
            "created_at": self.created_at,
        }


def _generation(row: models.Generation) -> GenerationInfo:
    return GenerationInfo(
        id=row.id,
        conduit_id=row.conduit_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        reason=row.reason,
        copied=row.copied,
        deleted=row.deleted,
        moved=row.moved,
        conflicts=row.conflicts,
        conflicts_resolved=row.conflicts_resolved,
        bytes=row.bytes,
        errors=row.errors,
        error_details=tuple(json.loads(row.error_details or "[]")),
        verified=row.verified,
    )


def _conflict(row: models.Conflict) -> ConflictInfo:
    return ConflictInfo(
        id=row.id,
        conduit_id=row.conduit_id,
        path=row.path,
        kind=row.kind,
        source=json.loads(row.source) if row.source else None,
        target=json.loads(row.target) if row.target else None,
        status=row.status,
        resolution=row.resolution,
        created_at=row.created_at,
    )


def list_generations(lib: Library, conduit_id: int, limit: int = 20) -> list[GenerationInfo]:
    with lib.session() as s:
        if s.get(models.Conduit, conduit_id) is None:
            raise NotFound(f"no conduit with id {conduit_id}")
        rows = s.scalars(
            select(models.Generation)
            .where(models.Generation.conduit_id == conduit_id)
            .order_by(models.Generation.id.desc())
            .limit(limit)
        )
        return [_generation(r) for r in rows]


def list_conflicts(
    lib: Library, conduit_id: int | None = None, pending_only: bool = True
) -> list[ConflictInfo]:
    with lib.session() as s:
        q = select(models.Conflict).order_by(models.Conflict.id)
        if conduit_id is not None:
            if s.get(models.Conduit, conduit_id) is None:
                raise NotFound(f"no conduit with id {conduit_id}")
            q = q.where(models.Conflict.conduit_id == conduit_id)
        if pending_only:
            q = q.where(models.Conflict.status == "pending")
        return [_conflict(r) for r in s.scalars(q)]


def get_conflict(lib: Library, conflict_id: int) -> ConflictInfo:
    with lib.session() as s:
        row = s.get(models.Conflict, conflict_id)
        if row is None:
            raise NotFound(f"no conflict with id {conflict_id}")
        return _conflict(row)
