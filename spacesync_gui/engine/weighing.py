"""A folder tree weighed by listing its first levels: how many items lie below each
folder, so that work on it can be shared out evenly (scan_split.py, first_walk.py).

SQLAlchemy-free: the CLI weighs a first mirror's source before it imports the engine.
"""

from __future__ import annotations

import os

from .rules import builtin_ignored

# The endpoint is weighed by listing its folders level by level, down to the last level
# that fits in this many listings (W1: 183 of its 2,002 folders, 11,500 items), and no
# further once this many items were listed (a few huge folders near the top: their
# listing costs what their scan's does).
WEIGH_LISTINGS = 256
WEIGH_ITEMS = 50_000


def _plain(name: str) -> bool:
    """A name that is its own key (no NFC, backslash or undecodable-byte handling)."""
    return name.isascii() and "\\" not in name and not builtin_ignored(name)


def plain_folders(path: str | os.PathLike[str]) -> list[str]:
    """The names of the folders in `path` whose names are their keys, sorted ([] when it
    cannot be listed: its own scan reports that). The others are never stepped over."""
    listed = _listing(path)
    return listed[1] if listed else []


def _listing(
    path: str | os.PathLike[str], most: float = float("inf")
) -> tuple[int, list[str]] | None:
    """How many items folder `path` holds, and its plain folders' names, sorted ((0, [])
    when it cannot be listed); None when it holds more than `most`."""
    n = 0
    names = []
    try:
        with os.scandir(path) as it:
            for de in it:
                n += 1
                if n > most:
                    return None
                if _plain(de.name) and de.is_dir(follow_symlinks=False):
                    names.append(de.name)
    except OSError:
        return 0, []
    return n, sorted(names)


def weigh(root: str | os.PathLike[str]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Estimated items below each plain folder of `root` (by path relative to it; "": the
    root, counted with its own items), and the plain subfolders of each folder listed. The
    folders not listed (below the last level listed, see WEIGH_LISTINGS and WEIGH_ITEMS)
    each count as many items as the mean folder of the last level listed holds."""
    own: dict[str, int] = {}
    kids: dict[str, list[str]] = {}
    level = [""]
    mean = 0.0
    left = float(WEIGH_ITEMS)
    while level and len(own) + len(level) <= WEIGH_LISTINGS:
        listings = []
        for rel in level:
            # The root whole, as its scan will (its folders are the ones to share).
            listed = _listing(os.path.join(root, rel), left if rel else float("inf"))
            if listed is None:
                break
            left -= listed[0]
            listings.append(listed)
        if len(listings) < len(level):
            break  # out of items: this level counts as not listed, all of it alike
        below: list[str] = []
        for rel, (n, names) in zip(level, listings, strict=True):
            own[rel] = n
            kids[rel] = [f"{rel}/{name}" if rel else name for name in names]
            below.extend(kids[rel])
        mean = sum(n for n, _ in listings) / len(level)
        level = below
    weight = dict.fromkeys(level, mean)
    for rel in reversed(own):  # listed level by level: a folder's subfolders come first
        weight[rel] = own[rel] + sum(weight[k] for k in kids[rel])
    return weight, kids
