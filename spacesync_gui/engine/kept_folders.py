"""Folders a plan must not remove: they hold items the index does not know.

Ignored items (the conduit's or the location's patterns, and the built-in ones such as a
`.DS_Store` or `Thumbs.db` a file manager left) are never indexed, so the planner cannot
see them: it plans the removal of a folder whose indexed items all go, and the rmdir
would fail on every run ("it still holds items that were not synced"). Ignored items are
never touched (SPEC 2), so such a folder stays, quietly: its rmdir (and its parents')
is dropped from the plan, which the verify's plan agrees with, so the run can end clean.
"""

from __future__ import annotations

import os

from .paths import key_for
from .plan import DELETE, MOVE, RMDIR, Plan
from .snapshots import Side


def keep_folders_with_unknown_items(plan: Plan, sides: dict[str, Side]) -> None:
    """Drop, in place, each planned rmdir of a folder that holds, on disk, an item this
    plan does not remove (delete, rmdir, or move away)."""
    rmdirs = [a for a in plan.actions if a.op == RMDIR]
    if not rmdirs:
        return
    removed = {(a.side, a.path) for a in plan.actions if a.op in (DELETE, RMDIR)}
    removed |= {(a.side, a.from_path) for a in plan.actions if a.op == MOVE and a.from_path}
    kept: set[tuple[str, str]] = set()
    for a in sorted(rmdirs, key=lambda a: -a.path.count("/")):  # children first
        others = [s for name, s in sides.items() if name != a.side]
        try:
            names = os.listdir(sides[a.side].abs_path(a.path, others[0] if others else None))
        except OSError:
            continue  # gone or unreadable: the executor reports what it finds
        for name in names:
            key = (a.side, f"{a.path}/{name if name.isascii() else key_for(name)}")
            if key not in removed or key in kept:
                kept.add((a.side, a.path))
                break
    if kept:
        plan.actions = [a for a in plan.actions if a.op != RMDIR or (a.side, a.path) not in kept]
