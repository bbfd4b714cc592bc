"""Checks on a plan before anything is written (SPEC 3.1 step 4, and free space).

They guard against the disasters a correct planner would still carry out faithfully: an
emptied or wiped source mirrored onto a backup, or ransomware that rewrote every file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .plan import COPY, DELETE, SOURCE, TARGET, Plan, Snapshot

MASS_DELETE_MIN = 10
MASS_DELETE_SHARE = 0.5
ALL_CHANGED_MIN = 10
# Keep this much free after a run, so a sync never fills a disk to the last byte.
FREE_SPACE_MARGIN = 64 * 1024 * 1024


def files_in(snap: Snapshot) -> int:
    return sum(1 for it in snap.values() if it.kind == "file")


def safety_problem(plan: Plan, source_files: int, target_files: int) -> str | None:
    """Why this plan must not run without --force, or None (`..._files`: how many files
    each side holds, from its whole snapshot or the index's totals)."""
    for side, files in ((SOURCE, source_files), (TARGET, target_files)):
        deletes = sum(
            1
            for a in plan.actions
            if a.side == side
            and a.op == DELETE
            and a.expect is not None
            and a.expect.kind == "file"
        )
        if deletes >= MASS_DELETE_MIN and deletes > files * MASS_DELETE_SHARE:
            return (
                f"the run would delete {deletes} of the {files} files on the {side} side "
                "(more than half); if that is really wanted, run again with --force"
            )
        overwrites = sum(
            1
            for a in plan.actions
            if a.side == side and a.op == COPY and a.expect is not None and a.expect.kind == "file"
        )
        if overwrites >= ALL_CHANGED_MIN and overwrites >= files:
            return (
                f"the content of every file on the {side} side ({files}) would be "
                "replaced; if that is really wanted, run again with --force"
            )
    return None


def space_problem(
    plan: Plan, endpoints: dict[str, Path], credit: dict[str, int] | None = None
) -> str | None:
    """Why the plan's copies would not fit, if so; `credit`: bytes per side that count as
    free (what the run's own staged copies hold already)."""
    for side, folder in endpoints.items():
        need = sum(
            a.item.size
            for a in plan.actions
            if a.side == side and a.op == COPY and a.item is not None and a.item.kind == "file"
        )
        problem = free_space_problem(side, need, folder, (credit or {}).get(side, 0))
        if problem:
            return problem
    return None


def free_space_problem(side: str, need: int, folder: Path, credit: int = 0) -> str | None:
    """Why `need` bytes copied into `folder` (on the `side` side) would not fit, if so."""
    if not need:
        return None
    free = shutil.disk_usage(folder).free + credit
    if need + FREE_SPACE_MARGIN > free:
        return (
            f"not enough free space on the {side} side: {need / 1e6:.1f} MB to copy, "
            f"{free / 1e6:.1f} MB free in {folder}"
        )
    return None
