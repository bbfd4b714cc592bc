"""The marker file that ties a location to its root (`.spacesync/location-id`).

A root whose marker is missing or foreign is not the folder that was indexed (another
drive, an empty mount point): syncing it would look like mass deletion. SQLAlchemy-free,
so the quick no-op sync (quick_noop.py) can probe roots without loading the engine.
"""

from __future__ import annotations

import os
from pathlib import Path

from .constants import OFFLINE, ONLINE, REPLACED
from .paths import marker_path, meta_dir


def read_marker(root: str | os.PathLike[str]) -> str | None:
    try:
        return marker_path(root).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def write_marker(root: Path, uuid: str) -> None:
    """Write the marker atomically (temp + fsync + rename), creating `.spacesync/`."""
    meta = meta_dir(root)
    meta.mkdir(exist_ok=True)
    tmp = meta / f".location-id.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(uuid + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, marker_path(root))


def probe_state(root: str, uuid: str) -> str:
    """online, offline (root missing) or replaced (marker missing or foreign)."""
    if not os.path.isdir(root):
        return OFFLINE
    return ONLINE if read_marker(root) == uuid else REPLACED
