"""Where things live: the data dir, the per-root `.spacesync/` folder, and path keys.

Relative paths inside a location are stored as *keys*: `/`-separated and NFC-normalised,
so that a name written by macOS (NFD) and one written by Linux (NFC) compare equal.
The original on-disk name is kept separately when it differs (see `key_for`).
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import platformdirs

APP_NAME = "SpaceSync"
DATA_DIR_ENV = "SPACESYNC_DATA_DIR"

# Everything the app keeps inside a synced root lives below this folder.
META_DIR = ".spacesync"
MARKER_FILE = "location-id"
VERSIONS_DIR = "versions"
TMP_DIR = "tmp"
# Temp files written next to their destination (when `.spacesync/tmp` is on another
# file system) start with this prefix, so the indexer and the cleanup recognise them.
TMP_PREFIX = ".spacesync-tmp-"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--data-dir`, else `$SPACESYNC_DATA_DIR`, else the platform's user data dir."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def meta_dir(root: str | os.PathLike[str]) -> Path:
    return Path(root) / META_DIR


def marker_path(root: str | os.PathLike[str]) -> Path:
    return meta_dir(root) / MARKER_FILE


def versions_dir(root: str | os.PathLike[str]) -> Path:
    return meta_dir(root) / VERSIONS_DIR


def tmp_dir(root: str | os.PathLike[str]) -> Path:
    return meta_dir(root) / TMP_DIR


def key_for(rel: str) -> str:
    """The comparison key of a relative path as the OS gave it (str from os.scandir).

    Names that are not valid UTF-8 arrive with surrogate escapes; they cannot be stored
    as SQLite text, so their key spells the bad bytes as `\\xNN` (the raw name is kept
    for I/O by the caller).
    """
    if os.sep != "/":
        rel = rel.replace(os.sep, "/")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        rel = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return unicodedata.normalize("NFC", rel)


def raw_for(rel: str, key: str) -> bytes | None:
    """The on-disk bytes of `rel` when they differ from the key's UTF-8, else None."""
    raw = os.fsencode(rel)
    return None if raw == key.encode("utf-8") else raw


def disk_rel(key: str, raw: bytes | None) -> str:
    """The relative path to use for I/O: the raw name when one was kept."""
    return os.fsdecode(raw) if raw is not None else key


def join_key(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def ancestors(key: str) -> list[str]:
    """The folder keys above `key`, outermost first (the root "" not among them)."""
    parts = key.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def subtree_bounds(prefix: str) -> tuple[str, str]:
    """Key range [lo, hi) holding everything strictly below `prefix` (for indexed SQL)."""
    return prefix + "/", prefix + "0"  # '0' is the character after '/'


def is_within(child: Path, parent: Path) -> bool:
    """True when `child` equals `parent` or lies below it (both absolute, resolved)."""
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def overlap(a: Path, b: Path) -> bool:
    """True when one folder holds the other or they are one (both absolute, resolved):
    a conduit between them would sync a tree into itself."""
    return is_within(a, b) or is_within(b, a)
