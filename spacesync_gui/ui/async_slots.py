"""qasync slots that report a user-facing engine error as a dialog, not a traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from PySide6.QtWidgets import QWidget
from qasync import asyncSlot

from spacesync_gui.engine.errors import SpaceSyncError

from . import prompts

log = logging.getLogger(__name__)
P = ParamSpec("P")


def dialog_parent(obj: object) -> QWidget | None:
    if isinstance(obj, QWidget):
        return obj
    parent = getattr(obj, "dialog_parent", None)
    return parent() if callable(parent) else None


def user_slot(*types: type) -> Callable[[Callable[P, Awaitable[Any]]], Callable[P, Any]]:
    """Like qasync.asyncSlot; a SpaceSyncError becomes a warning dialog (via prompts).

    Calling the slot directly schedules it and returns its asyncio Task."""

    def decorate(fn: Callable[P, Awaitable[Any]]) -> Callable[P, Any]:
        @functools.wraps(fn)
        async def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(self, *args, **kwargs)
            except SpaceSyncError as e:
                log.info("refused: %s", e)
                prompts.warn(dialog_parent(self), "SpaceSync", str(e))
                return None

        return asyncSlot(*types)(guarded)  # type: ignore[no-any-return]

    return decorate
