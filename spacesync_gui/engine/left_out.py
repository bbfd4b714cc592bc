"""Ignore patterns that leave a side with nothing to sync: said in the run's warnings.

A pattern like `*` or `/*` (the conduit's, or its location's) makes every run complete
with nothing copied, which reads as "in sync". The run says so instead. Checked when a run
plans the whole conduit (its first run, or any after one that did not end clean; runs
that plan only what changed since a clean run do not look again) and its plan copies
nothing, the only time it can matter: a run that syncs pays nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .constants import FILE
from .plan import SOURCE
from .planner import MIRROR, drop_ignored
from .rules import PlanRules, builtin_ignored
from .snapshots import Side


def left_out_warnings(mode: str, rules: PlanRules, sides: Iterable[Side]) -> list[str]:
    """What to warn about each side a run takes from (a mirror's source, both sides of a
    bidirectional conduit); each side's snapshot must hold its whole endpoint."""
    said = (everything_left_out(rules, s) for s in sides if s.name == SOURCE or mode != MIRROR)
    return [w for w in said if w]


def everything_left_out(rules: PlanRules, side: Side) -> str | None:
    """A warning when `rules` leave none of `side`'s files to sync although it holds
    some, else None. `side.snapshot` must hold the whole endpoint."""
    files = sum(1 for it in side.snapshot.values() if it.kind == FILE)
    if files:
        if not rules:
            return None
        (kept,) = drop_ignored(rules, side.snapshot)
        if any(it.kind == FILE for it in kept.values()):
            return None
        which, fate = (
            ("the one file", "it is not synced")
            if files == 1
            else (f"all {files:,} files", "none of them is synced")
        )
        where = f"the {side.name} folder {side.endpoint}"
        return f"the ignore patterns leave out {which} of {where}: {fate}"
    if side.snapshot:
        return None  # only folders: nothing to say
    # Nothing indexed at all: its location's patterns may have left everything out.
    try:
        names = [n for n in os.listdir(side.endpoint) if not builtin_ignored(n)]
    except OSError:
        return None  # preflight and the scan report an unreadable endpoint
    if not names:
        return None
    return (
        f"the ignore patterns leave out everything in the {side.name} folder "
        f"{side.endpoint} ({len(names):,} item{'' if len(names) == 1 else 's'} at its top "
        "level): nothing of it is synced"
    )
