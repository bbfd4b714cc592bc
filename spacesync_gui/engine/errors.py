"""Errors the engine raises for the CLI and GUI to turn into one clear message.

Each class carries the CLI exit status it maps to (SPEC section 4), so the front ends
never guess.
"""

from __future__ import annotations


class SpaceSyncError(Exception):
    """Base class: a problem the user can understand and act on (no traceback)."""

    exit_code = 1


class UserError(SpaceSyncError):
    """Bad usage or bad input: nothing was changed (exit 2)."""

    exit_code = 2


class NotFound(UserError):
    """An id or path the user named does not exist."""


class Refused(SpaceSyncError):
    """Refused by preflight or a safety check: nothing was changed (exit 3)."""

    exit_code = 3


class LibraryError(UserError):
    """The data dir or its database cannot be used (not writable, corrupt, too new)."""


class CorruptLibrary(LibraryError):
    """The database file is damaged; `spacesync library rebuild` restores the settings."""
