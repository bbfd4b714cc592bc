"""Entry kinds and location states: plain strings stored in the library.

Apart from models.py so that modules the quick no-op sync loads (quick_noop.py) can name
them without importing SQLAlchemy.
"""

from __future__ import annotations

# Entry kinds.
FILE = "file"
DIR = "dir"
SYMLINK = "symlink"

# Location states.
ONLINE = "online"
OFFLINE = "offline"
REPLACED = "replaced"
