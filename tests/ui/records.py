"""Rows the engine writes after runs, written directly so model tests need no sync."""

from __future__ import annotations

import json
import time
from typing import Any

from spacesync_gui.engine import models
from spacesync_gui.engine.db import Library


def add_generation(lib: Library, conduit_id: int, **fields: Any) -> int:
    now = time.time()
    values: dict[str, Any] = dict(
        conduit_id=conduit_id, started_at=now - 5, finished_at=now, status="completed"
    )
    values.update(fields)
    if "error_details" in values:
        values["error_details"] = json.dumps(values["error_details"])
    with lib.session() as s:
        row = models.Generation(**values)
        s.add(row)
        s.flush()
        return row.id


def add_conflict(
    lib: Library,
    conduit_id: int,
    path: str,
    kind: str = "both-modified",
    source: dict[str, Any] | None | str = "default",
    target: dict[str, Any] | None | str = "default",
) -> int:
    """A pending conflict; pass None for a side that deleted the path."""
    if source == "default":
        source = {"kind": "file", "size": 10, "mtime": time.time() - 60, "hash": "aa"}
    if target == "default":
        target = {"kind": "file", "size": 20, "mtime": time.time(), "hash": "bb"}
    with lib.session() as s:
        row = models.Conflict(
            conduit_id=conduit_id,
            path=path,
            kind=kind,
            source=None if source is None else json.dumps(source),
            target=None if target is None else json.dumps(target),
            created_at=time.time(),
        )
        s.add(row)
        s.flush()
        return row.id
