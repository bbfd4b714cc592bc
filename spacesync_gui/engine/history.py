"""Read-side queries for history (generations) and conflicts, as plain dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from . import tables
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


def _generation(row: Row[Any]) -> GenerationInfo:
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


def _conflict(row: Row[Any]) -> ConflictInfo:
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


def _need_conduit(conn: Connection, conduit_id: int) -> None:
    c = tables.conduits
    if conn.execute(select(c.c.id).where(c.c.id == conduit_id)).first() is None:
        raise NotFound(f"no conduit with id {conduit_id}")


def list_generations(lib: Library, conduit_id: int, limit: int = 20) -> list[GenerationInfo]:
    g = tables.generations
    with lib.engine.connect() as conn:
        _need_conduit(conn, conduit_id)
        rows = conn.execute(
            select(g).where(g.c.conduit_id == conduit_id).order_by(g.c.id.desc()).limit(limit)
        )
        return [_generation(r) for r in rows]


def list_conflicts(
    lib: Library, conduit_id: int | None = None, pending_only: bool = True
) -> list[ConflictInfo]:
    t = tables.conflicts
    with lib.engine.connect() as conn:
        q = select(t).order_by(t.c.id)
        if conduit_id is not None:
            _need_conduit(conn, conduit_id)
            q = q.where(t.c.conduit_id == conduit_id)
        if pending_only:
            q = q.where(t.c.status == "pending")
        return [_conflict(r) for r in conn.execute(q)]


def get_conflict(lib: Library, conflict_id: int) -> ConflictInfo:
    t = tables.conflicts
    with lib.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == conflict_id)).first()
        if row is None:
            raise NotFound(f"no conflict with id {conflict_id}")
        return _conflict(row)
