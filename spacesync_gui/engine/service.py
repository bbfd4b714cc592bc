"""FileSyncService: one run of a conduit, start to finish (SPEC 3.1).

preflight -> refresh index -> plan -> safety checks -> execute -> verify -> record.
Failing preflight or a safety check changes nothing on disk and is reported as
`refused` with the reason. The service holds the order; the planner decides and the
transfer functions do the work.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Insert, insert, select, update

from . import (
    deferred,
    digest_rescan,
    early_copies,
    first_mirror,
    first_walk,
    journal,
    scan_split,
    tables,
    transfer,
    verify,
)
from .clean_token import read_token, settings_digest
from .conduits import ConduitInfo, get_conduit, left_out
from .constants import ONLINE
from .db import Library
from .errors import Refused, SpaceSyncError, UserError
from .events import (
    ConflictFound,
    Emit,
    PlanReady,
    RunFinished,
    RunPhase,
    RunStarted,
    ignore_events,
)
from .executor import ExecResult, Executor
from .gc_pause import fewer_collections
from .history import get_conflict
from .indexer import read_problem
from .kept_folders import keep_folders_with_unknown_items
from .left_out import left_out_warnings
from .locations import get_location, refresh_state, state_problem
from .paths import ancestors, overlap
from .plan import COPY, MKDIR, SOURCE, TARGET, ConflictRecord, Item, Plan, Snapshot
from .planner import MIRROR, make_plan, plan_conflict_resolution
from .results import RunReport
from .rules import PlanRules, leaves_out
from .runlock import conduit_lock
from .safety import files_in, safety_problem, space_problem
from .snapshots import (
    IndexWriter,
    Side,
    count_files,
    dbapi_of,
    load_base,
    load_base_children,
    load_base_keys,
    load_children,
    load_keys,
    load_side,
)

STOPPED = "stopped before the end; the next run completes the work"


def _item_json(it: Item | None) -> dict[str, Any] | None:
    if it is None:
        return None
    return {
        "kind": it.kind,
        "size": it.size,
        "mtime": it.mtime_ns / 1e9,
        "hash": it.hash,
        "link": it.link,
    }


class FileSyncService:
    """Runs conduits. Thread-compatible: one instance per thread or external locking."""

    def __init__(
        self,
        lib: Library,
        emit: Emit = ignore_events,
        *,
        should_stop: Callable[[], bool] | None = None,
        fork_workers: bool = False,
    ) -> None:
        self.lib = lib
        self.emit = emit
        self.should_stop = should_stop
        # Scan the two sides at once, one in a forked child (forked_scans.py: only in a
        # process with no other threads, i.e. the CLI), and copy many new small files in
        # forked workers (forked_copies.py: the CLI forks them, the app's engine and the
        # daemon through their CopyHelper).
        self.fork_workers = fork_workers
        # Optional: location id -> subtrees to rescan, when a healthy watcher vouches for
        # the rest of the index (set per run by the runtime), or the CLI's quick check
        # walked it (quick_noop.py). The verify rescans what the run wrote regardless.
        self.trusted_dirty: dict[int, set[str]] | None = None
        # Optional: a first mirror's workers the CLI started before it imported the engine
        # (early_mirror.py), or the children staging its few large files (early_copies.py),
        # taken by the next run when they are its own, else let go.
        self.early: first_walk.Started | early_copies.Started | None = None
        self._staged: early_copies.Started | None = None  # this run's, until it ends
        self._scan_errors: list[dict[str, str]] = []
        self._clean: str | None = None  # the token to store if this run ends clean
        self._clean_seq: int | None = None  # the journal position read with it
        self._seq: int | None = None
        self._stored_seq: int | None = None
        self._partial = False
        self._base: Snapshot = {}  # the base of the last plan
        self._kept: Snapshot | None = None  # the base the executor keeps (see _execute)
        self._files: dict[str, int] = {}  # files on each side (the safety checks)
        self._planned_at = ""  # the token the plan was made at
        self._ours: dict[int, int] = {}  # location -> counter moves of this run's writer

    # -- public ----------------------------------------------------------------------
    def sync(self, conduit_id: int, *, dry_run: bool = False, force: bool = False) -> RunReport:
        conduit = get_conduit(self.lib, conduit_id)
        report = RunReport(conduit_id, dry_run=dry_run)
        try:
            with conduit_lock(self.lib.data_dir, conduit_id), fewer_collections():
                if conduit.paused and not dry_run:
                    raise Refused(f"conduit {conduit_id} is paused; resume it first")
                self._run(conduit, report, force=force)
        except Refused as e:
            report.status, report.reason = "refused", str(e)
        except UserError:
            raise
        except (SpaceSyncError, OSError) as e:
            report.status = "failed"
            report.reason = (
                str(e)
                if isinstance(e, SpaceSyncError)
                else (f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
            )
        finally:
            staged, self._staged = self._staged, None
            if staged is not None:
                staged.close()  # the temps the run did not take
        if not dry_run:
            self._record(conduit, report)
        self.emit(RunFinished(conduit_id, report.generation, report.status, report.to_json()))
        return report

    def resolve_conflict(self, conflict_id: int, keep: str) -> RunReport:
        """Apply `keep source|target|both` to a pending conflict with the sync machinery."""
        if keep not in ("source", "target", "both"):
            raise UserError(f"invalid choice {keep!r}: use source, target or both")
        c = get_conflict(self.lib, conflict_id)
        if c.status != "pending":
            raise UserError(f"conflict {conflict_id} is already resolved ({c.resolution})")
        conduit = get_conduit(self.lib, c.conduit_id)
        report = RunReport(conduit.id)
        try:
            with conduit_lock(self.lib.data_dir, conduit.id):
                sides = self._preflight(conduit)
                self._refresh(sides, under=c.path)
                strategy = {"source": "source", "target": "target", "both": "keep-both"}[keep]
                plan = plan_conflict_resolution(
                    c.path,
                    strategy,
                    sides[SOURCE].snapshot,
                    sides[TARGET].snapshot,
                    load_base(self.lib, conduit.id),
                    ignore=_plan_rules(conduit, sides),
                    now=datetime.now(),
                    hostname=socket.gethostname(),
                )
                keep_folders_with_unknown_items(plan, sides)
                self._execute(conduit, sides, plan, report)
                if not report.errors:
                    self._mark_resolved(conflict_id, f"keep-{keep}")
                    report.conflicts_resolved = 1
                report.conflicts = len(self._pending_ids(conduit.id))
                report.verified = not report.errors
        except Refused as e:
            report.status, report.reason = "refused", str(e)
        self._record(conduit, report)
        self.emit(RunFinished(conduit.id, report.generation, report.status, report.to_json()))
        return report

    # -- the steps -------------------------------------------------------------------
    def _preflight(self, conduit: ConduitInfo) -> dict[str, Side]:
        sides = {}
        for name, loc_id, prefix in (
            (SOURCE, conduit.source_location_id, conduit.source_prefix),
            (TARGET, conduit.target_location_id, conduit.target_prefix),
        ):
            state = refresh_state(self.lib, loc_id, self.emit)
            loc = get_location(self.lib, loc_id)
            if state != ONLINE:
                raise Refused(f"{name}: {state_problem(loc)}")
            side = Side(name, loc_id, Path(loc.path), prefix, ignore=loc.ignore)
            if not side.endpoint.is_dir():
                raise Refused(f"the {name} folder {side.endpoint} is missing")
            if leaves_out(loc.ignore, prefix):
                raise Refused(f"the {name} folder {side.endpoint} {left_out(loc)}")
            sides[name] = side
        src, dst = sides[SOURCE].endpoint.resolve(), sides[TARGET].endpoint.resolve()
        if overlap(src, dst):
            raise Refused(f"source {src} and target {dst} overlap")
        return sides

    def _refresh(
        self,
        sides: dict[str, Side],
        under: str | None = None,
        *,
        load: bool = True,
        touched: dict[str, list[str] | None] | None = None,
        defer: bool = False,
    ) -> None:
        """Scan the endpoints, then (with `load`) read their snapshots.

        `touched` (a verify, or the scan after a first mirror's pass): side name -> the
        folder keys to rescan (None: the whole endpoint); a side not in it is not scanned
        and keeps its snapshot. `defer`: new and changed files are indexed without reading
        them (see deferred.py).
        """
        jobs: list[tuple[Side, list[str | None]]] = []
        for side in sides.values():
            if touched is not None and side.name not in touched:
                continue
            transfer.clean_temp(side.root)
            subtrees: list[str | None]
            if under is not None:
                subtrees = [side.full_key(under)]
            elif touched is not None:
                # What this run wrote (or its pass could not index), which a watcher's dirty
                # list from before the run does not cover (None: the whole endpoint).
                folders = touched[side.name]
                subtrees = (
                    [side.prefix or None]
                    if folders is None
                    else [side.full_key(k) if k else (side.prefix or None) for k in folders]
                )
            elif self.trusted_dirty is not None and side.location_id in self.trusted_dirty:
                subtrees = [
                    s
                    for s in self.trusted_dirty[side.location_id]
                    if not side.prefix
                    or s == side.prefix
                    or s.startswith(side.prefix + "/")
                    or side.prefix.startswith(s + "/")
                ]
            else:
                subtrees = [side.prefix or None]
            if subtrees:
                jobs.append((side, subtrees))
        # With fork_workers, the second side in a child process at the same time as the
        # first, or whole endpoints shared out between the two (scan_split.py).
        work, scanned = scan_split.run_scans(self.lib, jobs, self.emit, defer, self.fork_workers)
        for job, results in zip(work, scanned, strict=True):
            for (side, _, _), result in zip(job, results, strict=True):
                if result.errors and under is None:
                    # Unreadable items keep their old index entries (never "deleted"),
                    # but the user must hear about them.
                    self._scan_errors.extend(
                        {"path": p, "message": read_problem(side.name, m)} for p, m in result.errors
                    )
        if load:
            for side in sides.values():
                if touched is None or side.name in touched:
                    load_side(self.lib, side)

    # -- the clean token: a verified no-op without loading anything -----------------------
    def _phase_emitter(self, conduit_id: int, dry_run: bool) -> Callable[[str], None]:
        def phase(name: str) -> None:
            self.emit(RunPhase(conduit_id, name, dry_run))

        return phase

    def _token(self, conduit: ConduitInfo) -> tuple[str, str | None]:
        """The conduit's current token (clean_token.py) and the one stored by its last clean
        run. Also reads, in the same query, the journal's position (`self._seq`) and the
        stored one (`self._stored_seq`), see journal.py."""
        settings = settings_digest(
            conduit.mode,
            conduit.conflict,
            conduit.ignore,
            conduit.source_prefix,
            conduit.target_prefix,
            conduit.source_location_id,
            conduit.target_location_id,
        )
        with self.lib.engine.connect() as conn:
            token = read_token(
                dbapi_of(conn),
                conduit.id,
                conduit.source_location_id,
                conduit.target_location_id,
                settings,
            )
        self._seq, self._stored_seq = token.seq, token.stored_seq
        return token.current, token.stored

    def _set_clean(self, token: str) -> None:
        """This run ended clean as of `token` (read by the last `_token`)."""
        self._clean = token
        self._clean_seq = self._seq

    def _only_ours(self, conduit: ConduitInfo, token: str) -> bool:
        """Whether every index change since planning (`self._planned_at`) was this run's
        own (its writer's). Another process's change in that time (a scan, another
        conduit's run on a shared location) was not planned: the run must not call
        itself clean past it."""
        now, then = token.split(":")[:2], self._planned_at.split(":")[:2]
        locs = (conduit.source_location_id, conduit.target_location_id)
        return all(
            int(n) == int(t) + self._ours.get(loc, 0)
            for n, t, loc in zip(now, then, locs, strict=True)
        )

    def _plan_changed(
        self, conduit: ConduitInfo, sides: dict[str, Side], token: str, stored: str | None
    ) -> Plan | None:
        """Plan only the paths journaled since the last clean run (journal.py), or None
        when that is not possible or not worth it (then everything is planned)."""
        since = self._stored_seq
        if (
            stored is None
            or since is None
            or self._scan_errors
            or stored.split(":")[2:] != token.split(":")[2:]  # base or settings changed
        ):
            return None
        with self.lib.engine.connect() as conn:
            db = dbapi_of(conn)
            changed = {name: journal.changed_keys(db, side, since) for name, side in sides.items()}
            # Read after the rows: had the journal been dropped meanwhile (journal.cap),
            # the position would be gone too.
            now = db.execute("SELECT clean_seq FROM conduits WHERE id = ?", (conduit.id,))
            if now.fetchone()[0] != since:
                return None
        keys = journal.with_ancestors(changed[SOURCE] | changed[TARGET])
        self._files = {name: count_files(self.lib, side) for name, side in sides.items()}
        if len(keys) > journal.MAX_SHARE * max(self._files.values()):
            return None
        for side in sides.values():
            side.snapshot = load_keys(self.lib, side, keys, disk=True)
        self._partial = True
        base = load_base_keys(self.lib, conduit.id, keys)
        plan = self._plan(conduit, sides, base)
        # A conflict copy's new name must not be taken by a sibling nobody changed: with
        # the folders of such names loaded whole, plan again.
        named = {a.path.rpartition("/")[0] for a in plan.actions if a.path not in keys}
        if named:
            for side in sides.values():
                side.snapshot.update(load_children(self.lib, side, named))
            base.update(load_base_children(self.lib, conduit.id, named))
            plan = self._plan(conduit, sides, base)
        return plan

    def _load_all(self, sides: dict[str, Side]) -> None:
        for side in sides.values():
            load_side(self.lib, side)
        self._partial = False
        self._files = {name: files_in(side.snapshot) for name, side in sides.items()}

    def _plan(
        self, conduit: ConduitInfo, sides: dict[str, Side], base: Snapshot | None = None
    ) -> Plan:
        if base is None:
            base = load_base(self.lib, conduit.id)
        self._base = base
        snaps = {name: side.snapshot for name, side in sides.items()}
        unread = deferred.fill_hashes(
            self.lib, conduit.mode, sides, snaps, base, fork=self.fork_workers
        )
        self._scan_errors += unread
        return self._make_plan(
            conduit, sides, sides[SOURCE].snapshot, sides[TARGET].snapshot, base, unread
        )

    def _make_plan(
        self,
        conduit: ConduitInfo,
        sides: dict[str, Side],
        src: Snapshot,
        dst: Snapshot,
        base: Snapshot,
        unread: Sequence[dict[str, str]] = (),
    ) -> Plan:
        plan = make_plan(
            conduit.mode,
            src,
            dst,
            base,
            strategy=conduit.conflict,
            ignore=_plan_rules(conduit, sides),
            now=datetime.now(),
            hostname=socket.gethostname(),
        )
        if unread:
            # A file that changed while it was hashed is news for the next run (already
            # reported): acting on what its index entry says could only fail.
            plan.hold_back({e["path"] for e in unread})
        keep_folders_with_unknown_items(plan, sides)
        return plan

    def _run(self, conduit: ConduitInfo, report: RunReport, *, force: bool) -> None:
        self._scan_errors = []
        self._clean = None
        self._partial = False  # the sides' snapshots hold only the keys being planned
        self._kept = None
        phase = self._phase_emitter(conduit.id, report.dry_run)
        phase("preflight")
        early, self.early = self.early, None  # the CLI's workers (early_mirror.py)
        if isinstance(early, early_copies.Started):
            self._staged, early = early, None
        weighed: first_mirror.Weights | None = None
        try:
            sides = self._preflight(conduit)
            staged = self._staged
            if staged is not None and (
                staged.conduit_id != conduit.id or staged.ends != first_mirror.ends_of(sides)
            ):
                self._staged = None
                staged.close()
            if early is not None and not first_mirror.takes(early, conduit, sides):
                early.close()
                early = None
            if self.fork_workers:
                given = early.weighed if early else None
                weighed = first_mirror.eligible(self.lib, conduit, sides, report.dry_run, given)
        finally:
            if early is not None and weighed is None:  # not this run's, or it raised
                early.close()
                early = None
        first: first_mirror.Done | None = None
        first_token = ""  # the index's token right after the pass
        touched: dict[str, list[str] | None] | None = None  # what the scan below covers
        if weighed is not None:
            # The copies first, while the source is walked; what follows is their verify.
            first = self._first_mirror(conduit, sides, report, weighed, early)
            if first is None:
                return  # stopped
            first_token = self._token(conduit)[0]
            if first.rescan is not None:
                # Its walk was the source's scan, its listings of what it placed the copies'
                # verify: what either could not vouch for is scanned (the target all of it
                # when the pass could not tell).
                left = {SOURCE: set(first.rescan), TARGET: set(first.rescan_target or ())}
                touched = _cover(left)
                if first.rescan_target is None:
                    touched[TARGET] = None
        phase("scanning")
        # A mirror's copies hash what they read: its scan need not read new files first.
        self._refresh(
            sides,
            load=False,
            defer=conduit.mode == MIRROR and not report.dry_run,
            touched=touched,
        )
        token, stored = self._token(conduit)
        self._planned_at, self._ours = token, {}
        if token == stored and not self._scan_errors:
            # Nothing in either index nor in the base changed since a run verified both
            # sides equal (and the scan above, or the watcher, vouches for the index).
            report.verified = True
            report.plan = [] if report.dry_run else None
            self._set_clean(token)
            self.emit(PlanReady(conduit.id, 0, 0, 0, dry_run=report.dry_run))
            self._prune(conduit, sides)
            return
        phase("planning")
        plan = self._plan_changed(conduit, sides, token, stored)
        if plan is None and first is not None and first_token == token:
            # Only the first mirror's pass changed the index (the scan found it exact): its
            # snapshots and base are what loading would read.
            self._partial = False
            self._files = {name: files_in(side.snapshot) for name, side in sides.items()}
            plan = self._plan(conduit, sides, first.kept)
        elif plan is None:
            self._load_all(sides)
            plan = self._plan(conduit, sides)
            if not self._scan_errors and not any(a.op == COPY for a in plan.actions):
                report.warnings += left_out_warnings(
                    conduit.mode, _plan_rules(conduit, sides), sides.values()
                )
        report.conflicts = len(plan.pending_conflicts)
        self.emit(
            PlanReady(
                conduit.id,
                len(plan.actions),
                sum(a.item.size for a in plan.actions if a.op == "copy" and a.item and a.item.size),
                report.conflicts,
                dry_run=report.dry_run,
            )
        )
        problem = None if force else safety_problem(plan, self._files[SOURCE], self._files[TARGET])
        # The staged temps hold part of the space their copies need already.
        credit = {TARGET: self._staged.allocated()} if self._staged else {}
        problem = problem or space_problem(plan, {n: s.endpoint for n, s in sides.items()}, credit)
        if problem:
            raise Refused(problem)
        for path in getattr(plan, "overwritten_target_edits", []) or []:
            report.warnings.append(f"{path} was edited on the target; its old content is kept")
        if report.dry_run:
            report.plan = plan.listing()
            report.conflicts_resolved = len(plan.resolved_conflicts)
            report.copied = sum(1 for a in plan.actions if a.op == "copy")
            report.moved = sum(1 for a in plan.actions if a.op == "move")
            report.deleted = sum(1 for a in plan.actions if a.op in ("delete", "rmdir"))
            report.bytes_transferred = 0
            report.errors = list(self._scan_errors)
            return
        if report.generation is None:  # else begun by the first mirror's pass
            report.generation = self._start_generation(conduit.id)
            self.emit(RunStarted(conduit.id, report.generation))
        phase("executing")
        # A plan that only adds (an initial sync, new files): its verify can plan with the
        # snapshots as the executor leaves them (see _verify). Deletes and moves reshape the
        # index in ways (cascades, renamed subtrees) the snapshots would not follow.
        kept = self._base if all(a.op in (MKDIR, COPY) for a in plan.actions) else None
        self._execute(conduit, sides, plan, report, kept)
        self._store_conflicts(conduit.id, report.generation, plan)
        report.conflicts = len(self._pending_ids(conduit.id))
        report.conflicts_resolved = len(plan.resolved_conflicts)
        report.resolved = [
            {"path": c.path, "kind": c.kind, "resolution": c.resolution}
            for c in plan.resolved_conflicts
        ]
        report.errors = self._scan_errors + report.errors
        if plan.actions and not report.errors:
            phase("verifying")
            again, token = self._verify(conduit, sides, plan)
            report.verified = not again.actions and {c.path for c in again.pending_conflicts} <= {
                c.path for c in plan.pending_conflicts
            }
            if not report.verified:
                report.warnings.append(
                    f"verification found {len(again.actions)} item(s) still differing; "
                    "they changed during the run and will be synced next time"
                )
            elif (
                not plan.pending_conflicts
                and not again.pending_conflicts
                and not (again.base_updates)
            ):
                self._set_clean(token)
                self._restore_digests(conduit, sides, plan, token, report)
        else:
            report.verified = not report.errors
            if not plan.pending_conflicts and not plan.actions and not report.errors:
                # Both sides already equal: once the base records that (base_updates),
                # the run ends clean, unless someone else changed the index meanwhile.
                token, _ = self._token(conduit)
                if self._only_ours(conduit, token):
                    self._set_clean(token)
        self._prune(conduit, sides)

    def _first_mirror(
        self,
        conduit: ConduitInfo,
        sides: dict[str, Side],
        report: RunReport,
        weighed: first_mirror.Weights,
        early: first_walk.Started | None,
    ) -> first_mirror.Done | None:
        """The first mirror's pass (first_mirror.py), with the workers `early` when given;
        None when it was stopped, which fails the run (the next run completes the work)."""

        def begin() -> None:
            report.generation = self._start_generation(conduit.id)
            self.emit(RunStarted(conduit.id, report.generation))
            self._phase_emitter(conduit.id, report.dry_run)("executing")

        done = first_mirror.run(
            self.lib,
            conduit,
            sides,
            weighed,
            self.should_stop or (lambda: False),
            begin,
            time.strftime("%Y-%m-%d_%H%M%S"),
            self.emit,
            early,
        )
        report.copied += done.copied
        report.bytes_transferred += done.bytes
        # The run's own scan must see all of both sides, whatever a watcher vouched for.
        self.trusted_dirty = None
        if done.stopped:
            report.status, report.reason = "failed", STOPPED
            return None
        return done

    def _verify(self, conduit: ConduitInfo, sides: dict[str, Side], plan: Plan) -> tuple[Plan, str]:
        """Check what the run touched and plan again (SPEC 3.1 step 6).

        A run that touched few paths (a quarter of a side at most) compares each of them
        (and its folders) with its index entry on both sides (verify.py) and rescans only
        the folders of those that differ; a bigger one rescans the folders it wrote to.
        When that changed nothing in the index (the change counters did not move: the
        index already held exactly what the executor wrote) and nobody else changed it
        since planning, only the touched paths and their folders can differ, so the plan
        is made for that sub-world: the same three-way rules on every side's entries of
        those keys, without loading whole snapshots. Otherwise the sides are loaded again
        and everything is planned again."""
        keys = _plan_keys(plan)
        before, _ = self._token(conduit)
        alone = self._only_ours(conduit, before)
        small = len(keys) * 4 < max(self._files.values())
        entries: dict[str, Snapshot] = {}
        if small:
            entries = {name: load_keys(self.lib, side, keys) for name, side in sides.items()}
            stale = verify.stale_folders(sides, keys, entries)
            rescan = _cover(stale) if stale else {}
        else:
            rescan = _touched(plan)
        if rescan:
            self._refresh(sides, load=False, touched=rescan)
        token, _ = self._token(conduit)
        if alone and small and token == before:
            # The index did not change since `entries` were read: they are the sub-world.
            src, dst = entries[SOURCE], entries[TARGET]
            base = load_base_keys(self.lib, conduit.id, keys)
            self._scan_errors += deferred.fill_hashes(
                self.lib, conduit.mode, sides, {SOURCE: src, TARGET: dst}, base
            )
            return self._make_plan(conduit, sides, src, dst, base), token
        if self._partial or not alone:
            self._load_all(sides)  # someone else's change may be on either side
        elif token == before and self._kept is not None:
            # The rescan found the disk as the executor left it (nothing in the index
            # moved), and the executor kept the snapshots and the base equal to what it
            # wrote: they are what loading would read (folder mtimes aside, which no plan
            # compares).
            return self._plan(conduit, sides, self._kept), token
        else:
            for name in rescan:
                load_side(self.lib, sides[name])
        return self._plan(conduit, sides), token

    def _restore_digests(
        self,
        conduit: ConduitInfo,
        sides: dict[str, Side],
        plan: Plan,
        token: str,
        report: RunReport,
    ) -> None:
        """After a clean verify: the rescans of digest_rescan.py. Should they find anything
        (a change another writer made after the verify), the index moved on: the run is not
        clean as of `token` any more, and it says so, as a verify that finds a change does
        (an instant conduit then runs again: the watcher's rescan of that change would find
        it indexed already, and start nothing)."""
        digest_rescan.rescan_written(self.lib, sides, plan)
        if self._token(conduit)[0] != token:
            self._clean = None
            report.verified = False
            report.warnings.append(
                "a change arrived as the run ended (found while indexing the folders it "
                "wrote in); it will be synced next time"
            )

    def _prune(self, conduit: ConduitInfo, sides: dict[str, Side]) -> None:
        if conduit.keep_versions_days or conduit.keep_versions_count:
            for side in sides.values():
                transfer.prune_versions(
                    side.root, conduit.keep_versions_days, conduit.keep_versions_count
                )

    def _execute(
        self,
        conduit: ConduitInfo,
        sides: dict[str, Side],
        plan: Plan,
        report: RunReport,
        kept: Snapshot | None = None,
    ) -> ExecResult:
        """Run `plan`. With `kept` (the base it was planned with), the writer keeps it and
        the sides' snapshots up to date with what it writes to the index."""
        writer = IndexWriter(
            self.lib, conduit.id, (conduit.source_location_id, conduit.target_location_id), kept
        )
        self._ours = writer.moved
        self._kept = kept
        for key, item in plan.base_updates:
            writer.set_base(key, item)
        stamp = time.strftime("%Y-%m-%d_%H%M%S")
        result = Executor(
            conduit.id,
            sides,
            conduit.deletes,
            conduit.transfers,
            conduit.bwlimit,
            writer,
            self.emit,
            stamp,
            self.should_stop,
            fork=self.fork_workers,
            staged=self._staged,
        ).run(plan)
        report.copied += result.copied
        report.deleted += result.deleted
        report.moved += result.moved
        report.bytes_transferred += result.bytes
        report.errors.extend(result.errors)
        if result.stopped:
            report.status, report.reason = "failed", STOPPED
        return result

    # -- records ---------------------------------------------------------------------
    def _start_generation(self, conduit_id: int) -> int:
        g = tables.generations
        with self.lib.engine.begin() as conn:
            row = insert(g).values(conduit_id=conduit_id, started_at=time.time(), status="running")
            return _new_id(conn, row)

    def _record(self, conduit: ConduitInfo, report: RunReport) -> None:
        now = time.time()
        g, c = tables.generations, tables.conduits
        values = {
            "finished_at": now,
            "status": report.status,
            "reason": report.reason,
            "copied": report.copied,
            "deleted": report.deleted,
            "moved": report.moved,
            "conflicts": report.conflicts,
            "conflicts_resolved": report.conflicts_resolved,
            "bytes": report.bytes_transferred,
            "errors": len(report.errors),
            "error_details": json.dumps(report.errors[:1000]),
            "verified": report.verified,
        }
        with self.lib.engine.begin() as conn:
            gid = report.generation
            if not gid or not conn.execute(update(g).where(g.c.id == gid).values(values)).rowcount:
                row = insert(g).values(conduit_id=conduit.id, started_at=now, **values)
                gid = _new_id(conn, row)
            report.generation = gid
            clean = getattr(self, "_clean", None)
            ok = report.status == "completed" and report.verified and not report.errors
            token = clean if ok and not report.conflicts else None
            done = update(c).where(c.c.id == conduit.id)
            if conn.execute(
                done.values(last_sync=now, last_status=report.status, clean_token=token)
            ).rowcount:
                journal.record_clean(
                    dbapi_of(conn),
                    conduit.id,
                    (conduit.source_location_id, conduit.target_location_id),
                    ":".join(clean.split(":")[:2]) if token and clean else None,
                    self._clean_seq,
                )
                self._clean = None

    def _pending_ids(self, conduit_id: int) -> list[int]:
        t = tables.conflicts
        with self.lib.engine.connect() as conn:
            q = select(t.c.id).where(t.c.conduit_id == conduit_id, t.c.status == "pending")
            return list(conn.execute(q).scalars())

    def _mark_resolved(self, conflict_id: int, resolution: str) -> None:
        t = tables.conflicts
        with self.lib.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == conflict_id)
                .values(status="resolved", resolution=resolution, resolved_at=time.time())
            )

    def _store_conflicts(self, conduit_id: int, generation: int | None, plan: Plan) -> None:
        """Pending conflicts are upserted by path; ones that went away are closed."""
        now = time.time()
        pending = {c.path: c for c in plan.pending_conflicts}
        t = tables.conflicts
        with self.lib.engine.begin() as conn:
            q = select(t.c.path, t.c.id).where(
                t.c.conduit_id == conduit_id, t.c.status == "pending"
            )
            existing: dict[str, int] = {path: cid for path, cid in conn.execute(q)}
            gone = [cid for path, cid in existing.items() if path not in pending]
            if gone:
                conn.execute(
                    update(t)
                    .where(t.c.id.in_(gone))
                    .values(status="resolved", resolution="gone", resolved_at=now)
                )
            for c in plan.conflicts:
                values = _conflict_values(c, generation, now)
                found = existing.get(c.path) if c.resolution is None else None
                if found is not None:
                    conn.execute(update(t).where(t.c.id == found).values(values))
                    continue
                row = insert(t).values(conduit_id=conduit_id, path=c.path, created_at=now)
                conn.execute(row.values(values))
                if c.resolution is None:
                    self.emit(ConflictFound(conduit_id, c.path, c.kind))


# Above this many touched folders on a side, verify rescans the whole endpoint: one walk
# beats many small subtree scans (each a few queries).
VERIFY_SUBTREES_MAX = 32


def _plan_rules(conduit: ConduitInfo, sides: dict[str, Side]) -> PlanRules:
    return PlanRules(conduit.ignore, [(side.prefix, side.ignore) for side in sides.values()])


def _plan_keys(plan: Plan) -> set[str]:
    """Every path an action of `plan` touches, with all its folders."""
    return journal.with_ancestors(
        {p for a in plan.actions for p in (a.path, a.from_path) if p is not None}
    )


def _touched(plan: Plan) -> dict[str, list[str] | None]:
    """Side name -> the folders (keys) holding what the plan changes there, as few
    subtrees as cover them; None when the whole endpoint is cheaper to rescan."""
    folders: dict[str, set[str]] = {}
    for a in plan.actions:
        for path in (a.path, a.from_path):
            if path is not None:
                folders.setdefault(a.side, set()).add(path.rpartition("/")[0])
    return _cover(folders)


def _cover(folders: dict[str, set[str]]) -> dict[str, list[str] | None]:
    """Side name -> as few subtrees as hold these folders; None: the whole endpoint."""
    out: dict[str, list[str] | None] = {}
    for side, keys in folders.items():
        if "" in keys:
            out[side] = None
            continue
        kept = sorted(k for k in keys if not any(a in keys for a in ancestors(k)))
        out[side] = None if len(kept) > VERIFY_SUBTREES_MAX else kept
    return out


def _new_id(conn: Connection, row: Insert) -> int:
    """Insert `row`; its new id."""
    key = conn.execute(row).inserted_primary_key
    assert key is not None
    return int(key[0])


def _conflict_values(c: ConflictRecord, generation: int | None, now: float) -> dict[str, object]:
    """A conflict row's columns as `c` sets them (a pending one keeps its resolved_at)."""
    values: dict[str, object] = {
        "generation_id": generation,
        "kind": c.kind,
        "source": json.dumps(_item_json(c.source)) if c.source else None,
        "target": json.dumps(_item_json(c.target)) if c.target else None,
    }
    if c.resolution is None:
        values.update(status="pending", resolution=None)
    else:
        values.update(status="resolved", resolution=c.resolution, resolved_at=now)
    return values
