"""The planner: two snapshots and the base in, a `Plan` out (SPEC 3.2 - 3.5).

A pure function of its arguments: no disk, no database, no clock (callers pass `now` and
`hostname`). Every decision it makes is one `Action` on one side, carrying what that side
must hold afterwards (`item`), what it holds now (`expect`, so the executor never
overwrites an unseen change) and the base entry once it commits (`base`).

Folders are walked first, in sorted order, so each is decided after its parent and before
anything below it (see `walk_order`). Most folders leave their subtree to the normal
per-path rules; a few decisions instead give
the whole subtree a *context* (see the `_QUIET`... constants) that the children inherit:
a pending conflict freezes it, a folder replaced by a file takes its contents along,
a folder that won a type-change conflict is pushed over as it is.

Moves are found after the walk: on one side X, a file deleted since the base (the other
side Y still holds the base's content) and a new file (absent on Y) with the same hash and
size become one MOVE on Y instead of DELETE + COPY. Both ends must have come out of the
walk as plain propagations, so a move never reaches into a frozen or replaced subtree.
"""

from __future__ import annotations

import socket
import unicodedata
from collections import defaultdict
from collections.abc import Container, Iterable
from datetime import datetime
from typing import Any

from .plan import (
    COPY,
    DELETE,
    MKDIR,
    MOVE,
    RMDIR,
    SOURCE,
    TARGET,
    TOUCH,
    Action,
    ConflictRecord,
    Item,
    Plan,
    Snapshot,
    other,
)

# Same values as models.FILE/DIR/SYMLINK; not imported so that planning needs no SQLAlchemy.
FILE = "file"
DIR = "dir"
SYMLINK = "symlink"

MIRROR = "mirror"
BIDIRECTIONAL = "bidirectional"
MODES = (MIRROR, BIDIRECTIONAL)

ASK = "ask"
NEWEST = "newest"
KEEP_SOURCE = "source"
KEEP_TARGET = "target"
LARGEST = "largest"
KEEP_BOTH = "keep-both"
STRATEGIES = (ASK, NEWEST, KEEP_SOURCE, KEEP_TARGET, LARGEST, KEEP_BOTH)

BOTH_MODIFIED = "both-modified"
MODIFY_DELETE = "modify-delete"
TYPE_CHANGE = "type-change"
MODIFIED_WINS = "modified-wins"

# A base mtime of 0 on a file means "the two sides hold the same bytes but never agreed on
# an mtime" (first sync, or both sides changed to the same content). Neither side's mtime
# matches it, so no later run carries either mtime over, and the base stays put: the
# sides are in sync and a run without changes plans nothing.
UNAGREED_MTIME = 0

# Subtree contexts, inherited by everything below the folder that set them.
_QUIET = 1  # normal rules, but the conflict was already reported at an ancestor
_FROZEN = 2  # a pending (`ask`) conflict above: nothing below is touched, base included
_GONE = 3  # the folder above is replaced by a file: its contents leave with it (versions)
_FORCE_S = 4  # a conflict above was won by the source's folder: push its subtree as is
_FORCE_T = 5  # ... by the target's folder

_UNSAFE_NAME_CHARS = str.maketrans({c: "-" for c in '<>:"/\\|?*\0'})


# -- small pure helpers -----------------------------------------------------------------
def differs(x: Item | None, b: Item | None) -> bool:
    """`x` changed relative to the base entry `b`: presence, kind or content.

    mtime never counts (an mtime-only change is carried over by TOUCH); a folder's content
    is its children, which are compared on their own.
    """
    if x is None:
        return b is not None
    if b is None or x.kind != b.kind:
        return True
    if x.kind == FILE:
        return x.hash != b.hash or x.size != b.size
    if x.kind == SYMLINK:
        return x.link != b.link
    return False


def same_state(a: Item, b: Item) -> bool:
    """Whether base entry `a` already records `b` (the fields the base stores).

    Folder mtimes change whenever a child does and are not synced, so they never count.
    """
    if a.kind != b.kind:
        return False
    if a.kind == FILE:
        return a.hash == b.hash and a.size == b.size and a.mtime_ns == b.mtime_ns
    if a.kind == SYMLINK:
        return a.link == b.link
    return True


def conflict_name(
    path: str, now: datetime, hostname: str, taken: Container[str] = frozenset()
) -> str:
    """`stem (conflict YYYY-MM-DD HHMMSS HOSTNAME).ext` next to `path`.

    The extension is the last suffix (`a.tar.gz` -> `a.tar (conflict ...).gz`); a name
    without one, or a dotfile such as `.bashrc`, keeps its whole name as the stem. When the
    name is already taken (`taken`), a counter goes inside the parentheses: `... HOST 2)`.
    """
    parent, sep, name = path.rpartition("/")
    dot = name.rfind(".")
    if 0 < dot < len(name) - 1:
        stem, ext = name[:dot], name[dot:]
    else:
        stem, ext = name, ""
    host = hostname.translate(_UNSAFE_NAME_CHARS).strip()
    label = f"conflict {now.strftime('%Y-%m-%d %H%M%S')}" + (f" {host}" if host else "")
    n = 1
    while True:
        counter = f" {n}" if n > 1 else ""
        candidate = unicodedata.normalize("NFC", f"{parent}{sep}{stem} ({label}{counter}){ext}")
        if candidate not in taken:
            return candidate
        n += 1


def walk_order(*snaps: Snapshot) -> list[str]:
    """Every key of the snapshots once, each folder after its parent folder.

    Only folders carry decisions down to their subtree, so only they need an order: folders
    sorted first, then the other keys in snapshot order. Sorting just the folders keeps
    this cheap on 100,000-path snapshots, and the output stays deterministic.
    """
    # v[0] is Item.kind; indexing skips the property lookup on this 100,000-item loop.
    dirs = {k for snap in snaps for k, v in snap.items() if v[0] == DIR}
    order = sorted(dirs)
    for i, snap in enumerate(snaps):
        if i == 0:
            order.extend(k for k in snap if k not in dirs)
        elif i == 1:
            first = snaps[0]
            order.extend(k for k in snap if k not in dirs and k not in first)
        elif i == 2:
            first, second = snaps[0], snaps[1]
            order.extend(k for k in snap if k not in dirs and k not in first and k not in second)
        else:
            earlier = snaps[:i]
            order.extend(k for k in snap if k not in dirs and not any(k in e for e in earlier))
    return order


def drop_ignored(ignore: Any, *snaps: Snapshot) -> tuple[Snapshot, ...]:
    """The snapshots without the paths `ignore` rules out (and everything below them).

    A path is dropped from all snapshots when it is ignored as the kind it has in any of
    them: a `build/` pattern hides a folder `build` on one side, and then a file `build`
    on the other side must not be synced over it.
    """
    if ignore is None or not ignore:
        return snaps
    dropped: set[str] = set()
    user_ignored = ignore.user_ignored
    for key in walk_order(*snaps):
        parent = key.rpartition("/")[0]
        if parent and parent in dropped:
            dropped.add(key)
            continue
        # Pattern matching is the expensive part: ask once per kind, not once per snapshot.
        asked: bool | None = None
        for snap in snaps:
            item = snap.get(key)
            if item is None or (item[0] == DIR) is asked:
                continue
            asked = item[0] == DIR
            if user_ignored(key, asked):
                dropped.add(key)
                break
    if not dropped:
        return snaps
    return tuple({k: v for k, v in snap.items() if k not in dropped} for snap in snaps)


def _changed_dirs(side: Snapshot, base: Snapshot) -> set[str]:
    """Folders of `side` with something new or modified (vs the base) below them."""
    out: set[str] = set()
    get = base.get
    for key, item in side.items():
        b = get(key)
        # The tuple compare settles the common unchanged item at C speed.
        if b is not None and (item[:5] == b[:5] or not differs(item, b)):
            continue
        parent = key.rpartition("/")[0]
        while parent and parent not in out:
            out.add(parent)
            parent = parent.rpartition("/")[0]
    return out


Candidate = tuple[str, Item]


def pair_moves(
    olds: list[Candidate], news: list[Candidate]
) -> tuple[list[tuple[Candidate, Candidate]], list[Candidate], list[Candidate]]:
    """Pair vanished and new files 1:1 by (hash, size): (pairs, unpaired olds, unpaired news).

    Deterministic: within one content, files keeping their name pair first (a renamed
    folder), then the rest in path order.
    """
    by_content: dict[tuple[str | None, int], list[Candidate]] = defaultdict(list)
    for cand in olds:
        by_content[(cand[1].hash, cand[1].size)].append(cand)
    pairs: list[tuple[Candidate, Candidate]] = []
    lone_news: list[Candidate] = []
    wanting: dict[tuple[str | None, int], list[Candidate]] = defaultdict(list)
    for cand in news:
        content = (cand[1].hash, cand[1].size)
        if content in by_content:
            wanting[content].append(cand)
        else:
            lone_news.append(cand)
    lone_olds: list[Candidate] = [c for k, cs in by_content.items() if k not in wanting for c in cs]
    for content, group_news in wanting.items():
        group_olds = sorted(by_content[content])
        group_news.sort()
        by_name: dict[str, list[Candidate]] = defaultdict(list)
        for cand in group_olds:
            by_name[cand[0].rpartition("/")[2]].append(cand)
        used: set[str] = set()
        rest: list[Candidate] = []
        for new in group_news:
            same_name = by_name.get(new[0].rpartition("/")[2])
            if same_name:
                old = same_name.pop(0)
                used.add(old[0])
                pairs.append((old, new))
            else:
                rest.append(new)
        remaining = [c for c in group_olds if c[0] not in used]
        for old, new in zip(remaining, rest, strict=False):
            pairs.append((old, new))
        lone_olds.extend(remaining[len(rest) :])
        lone_news.extend(rest[len(remaining) :])
    return pairs, lone_olds, lone_news


# -- mirror -----------------------------------------------------------------------------
def plan_mirror(
    source: Snapshot,
    target: Snapshot,
    base: Snapshot | None = None,
    *,
    ignore: Any = None,
) -> Plan:
    """Make the target an exact copy of the source (SPEC 3.2).

    `base` only feeds the report of target edits this run overwrites or deletes
    (`Plan.overwritten_target_edits`) and the base bookkeeping; decisions ignore it.
    """
    S, T, B = drop_ignored(ignore, source, target, base or {})
    # With no synced state on record every target file would count as "edited".
    report = bool(B)
    plan = Plan()
    acts = plan.actions
    base_updates = plan.base_updates
    edits = plan.overwritten_target_edits
    s_get, t_get, b_get = S.get, T.get, B.get
    gone: set[str] = set()  # target folders replaced by a file: their contents go with them
    olds: list[Candidate] = []  # target-only files
    news: list[Candidate] = []  # source-only files
    for key in walk_order(S, T, B):
        s = s_get(key)
        t = t_get(key)
        # Fast path: equal on both sides (mtime included), the common case; the base too
        # (its five fields equal: `same_state` without the call).
        if s is not None and t is not None:
            head = s[:5]
            if head == t[:5]:
                b = b_get(key)
                if b is None or (b[:5] != head and not same_state(b, s)):
                    base_updates.append((key, s))
                continue
        if gone and key.rpartition("/")[0] in gone:
            if t is not None:
                if t.kind == DIR:
                    gone.add(key)
                elif report and differs(t, B.get(key)):
                    edits.append(key)
            if key in B:
                base_updates.append((key, None))
            continue
        if s is None:
            if t is None:
                base_updates.append((key, None))
            elif t.kind == FILE and t.hash is not None:
                olds.append((key, t))
            else:
                if report and t.kind != DIR and differs(t, B.get(key)):
                    edits.append(key)
                acts.append(Action(RMDIR if t.kind == DIR else DELETE, key, TARGET, None, t))
        elif t is None:
            if s.kind == FILE and s.hash is not None:
                news.append((key, s))
            else:
                acts.append(Action(MKDIR if s.kind == DIR else COPY, key, TARGET, s, None, None, s))
        elif s.same_content(t):
            if s.kind == FILE and s.mtime_ns != t.mtime_ns:
                acts.append(Action(TOUCH, key, TARGET, s, t, None, s))
            else:
                b = B.get(key)
                if b is None or not same_state(b, s):
                    base_updates.append((key, s))
        else:
            if report and t.kind != DIR and differs(t, B.get(key)):
                edits.append(key)
            acts.append(Action(MKDIR if s.kind == DIR else COPY, key, TARGET, s, t, None, s))
            if t.kind == DIR and s.kind != DIR:
                gone.add(key)
    pairs, lone_olds, lone_news = pair_moves(olds, news)
    for (old, t), (new, s) in pairs:
        acts.append(Action(MOVE, new, TARGET, t, t, old, t))
        if t.mtime_ns != s.mtime_ns:
            acts.append(Action(TOUCH, new, TARGET, s, t, None, s))
    for old, t in lone_olds:
        if report and differs(t, B.get(old)):
            edits.append(old)
        acts.append(Action(DELETE, old, TARGET, None, t))
    for new, s in lone_news:
        acts.append(Action(COPY, new, TARGET, s, None, None, s))
    edits.sort()
    return plan


# -- bidirectional ------------------------------------------------------------------------
class _Bidirectional:
    """One bidirectional planning pass; `run` walks the keys, `finish` adds the moves."""

    def __init__(
        self,
        S: Snapshot,
        T: Snapshot,
        B: Snapshot,
        strategy: str,
        now: datetime,
        hostname: str,
    ) -> None:
        self.S, self.T, self.B = S, T, B
        self.snap = {SOURCE: S, TARGET: T}
        self.strategy = strategy
        self.now = now
        self.hostname = hostname
        self.named: set[str] = set()  # conflict names given out by this plan
        # Built on first use: most runs delete or replace no folder and never need it.
        self._changed_below: dict[str, set[str]] = {}
        self.plan = Plan()
        self.acts = self.plan.actions
        self.ctx: dict[str, int] = {}
        # Move candidates per side X that changed: (key, Y's item) deleted on X and
        # (key, X's item) created on X.
        self.olds: dict[str, list[Candidate]] = {SOURCE: [], TARGET: []}
        self.news: dict[str, list[Candidate]] = {SOURCE: [], TARGET: []}

    def changed_below(self, side: str) -> set[str]:
        """Folders of `side` with something new or modified below them."""
        if side not in self._changed_below:
            self._changed_below[side] = _changed_dirs(self.snap[side], self.B)
        return self._changed_below[side]

    def __contains__(self, key: object) -> bool:
        """Whether `key` is in use anywhere (so a conflict copy must not take it)."""
        return key in self.S or key in self.T or key in self.B or key in self.named

    # -- the walk ----------------------------------------------------------------------
    def run(self, keys: Iterable[str]) -> None:
        s_get, t_get, b_get, ctx = self.S.get, self.T.get, self.B.get, self.ctx
        base_updates = self.plan.base_updates
        for key in keys:
            s = s_get(key)
            t = t_get(key)
            b = b_get(key)
            quiet = False
            if ctx:
                tag = ctx.get(key.rpartition("/")[0])
                if tag is not None:
                    if tag != _QUIET:
                        self._inherit(tag, key, s, t, b)
                        continue
                    quiet = True
                    ctx[key] = _QUIET
            # Fast path: the common case of an item untouched everywhere.
            if s is not None and t is not None and b is not None and s[:5] == t[:5] == b[:5]:
                continue
            cs = differs(s, b)
            ct = differs(t, b)
            if not cs and not ct:
                assert s is not None and t is not None and b is not None
                if s.kind == FILE and s.mtime_ns != t.mtime_ns:
                    self._mtime_only(key, s, t, b)
                elif not same_state(b, s):
                    base_updates.append((key, s))
            elif not ct:
                self._propagate(SOURCE, key, s, t, quiet)
            elif not cs:
                self._propagate(TARGET, key, t, s, quiet)
            else:
                self._both_changed(key, s, t, b, quiet)

    def _inherit(self, tag: int, key: str, s: Item | None, t: Item | None, b: Item | None) -> None:
        self.ctx[key] = tag
        if tag == _FROZEN:
            return
        if tag == _GONE:
            if b is not None:
                self.plan.base_updates.append((key, None))
            return
        W = SOURCE if tag == _FORCE_S else TARGET
        w, lo = (s, t) if W == SOURCE else (t, s)
        if w is None:
            # The losing side holds a file at the conflict's root, so nothing of its own
            # lives down here; should a stale index claim otherwise, leave it alone.
            if lo is None and b is not None:
                self.plan.base_updates.append((key, None))
            return
        if lo is not None and w.same_content(lo):
            self._settle(key, _synced(w, lo), b)
            return
        self._put(other(W), key, w, lo)

    # -- per-path rules --------------------------------------------------------------------
    def _mtime_only(self, key: str, s: Item, t: Item, b: Item) -> None:
        """Same bytes everywhere, different mtimes: carry over the one that moved."""
        if b.mtime_ns == s.mtime_ns:
            self.acts.append(Action(TOUCH, key, SOURCE, t, s, None, t))
        elif b.mtime_ns == t.mtime_ns:
            self.acts.append(Action(TOUCH, key, TARGET, s, t, None, s))
        else:
            self._settle(key, _synced(s, t), b)

    def _propagate(self, X: str, key: str, x: Item | None, y: Item | None, quiet: bool) -> None:
        """Only side X changed (`x`); side Y still holds the base (`y`)."""
        Y = other(X)
        if x is None:
            assert y is not None
            if y.kind == DIR:
                if key in self.changed_below(Y):
                    # X deleted a folder Y added to or edited in: modify-delete for the
                    # folder. Keep it on X; below, the unchanged items are deleted on Y
                    # and the changed ones restored on X by the normal rules.
                    self._put(X, key, y, None)
                    if not quiet:
                        self._record(X, key, x, y, MODIFY_DELETE, MODIFIED_WINS)
                    self.ctx[key] = _QUIET
                else:
                    self.acts.append(Action(RMDIR, key, Y, None, y))
            elif y.kind == FILE and y.hash is not None:
                self.olds[X].append((key, y))
            else:
                self.acts.append(Action(DELETE, key, Y, None, y))
        elif y is None:
            if x.kind == FILE and x.hash is not None:
                self.news[X].append((key, x))
            else:
                self._put(Y, key, x, None)
        elif y.kind == DIR and x.kind != DIR:
            if key in self.changed_below(Y):
                # X replaced a folder by a file while Y changed what is inside.
                self._conflict(X, key, x, y, TYPE_CHANGE)
            else:
                self._put(Y, key, x, y)
                self.ctx[key] = _GONE
        else:
            self._put(Y, key, x, y)

    def _both_changed(
        self, key: str, s: Item | None, t: Item | None, b: Item | None, quiet: bool
    ) -> None:
        if s is None or t is None:
            if s is None and t is None:
                self.plan.base_updates.append((key, None))  # deleted on both sides
                return
            # Modify-delete never waits: the modified side loses nothing by winning.
            W, w = (SOURCE, s) if t is None else (TARGET, t)
            assert w is not None
            self._put(other(W), key, w, None)
            if not quiet:
                self._record(SOURCE, key, s, t, MODIFY_DELETE, MODIFIED_WINS)
            if w.kind == DIR:
                self.ctx[key] = _QUIET
            return
        if s.same_content(t):
            self._settle(key, _synced(s, t), b)
            return
        self._conflict(SOURCE, key, s, t, TYPE_CHANGE if s.kind != t.kind else BOTH_MODIFIED)

    def _conflict(self, X: str, key: str, x: Item, y: Item, kind: str) -> None:
        s, t = (x, y) if X == SOURCE else (y, x)
        strategy = self.strategy
        if strategy == ASK:
            self._record(SOURCE, key, s, t, kind, None)
            self.ctx[key] = _FROZEN
            return
        if strategy == KEEP_BOTH:
            if kind == BOTH_MODIFIED:
                self._keep_both(key, s, t)
                self._record(SOURCE, key, s, t, kind, KEEP_BOTH)
                return
            # A file and a folder cannot both live at one path, and renaming a whole
            # folder to a conflict name would surprise more than help: fall back to
            # `newest`. The loser is replaced, so the executor keeps it in the versions
            # store; the record says `newest`, which is what happened.
            strategy = NEWEST
        W = winner(strategy, s, t)
        w, lo = (s, t) if W == SOURCE else (t, s)
        self._put(other(W), key, w, lo)
        if w.kind == DIR:
            self.ctx[key] = _FORCE_S if W == SOURCE else _FORCE_T
        elif lo.kind == DIR:
            self.ctx[key] = _GONE
        self._record(SOURCE, key, s, t, kind, strategy)

    def _keep_both(self, key: str, s: Item, t: Item) -> None:
        """Target's version to a conflict name on both sides, source's to the path.

        Phases run moves before copies, so the rename frees `key` on the target before the
        source's version is copied there, and the renamed file exists on the target
        before it is copied to the source.
        """
        name = conflict_name(key, self.now, self.hostname, self)
        self.named.add(name)
        # base=None: the renamed copy is not synced until it lands on the source too, so a
        # failed copy leaves a plain "new on target" for the next run.
        self.acts.append(Action(MOVE, name, TARGET, t, t, key, None))
        self.acts.append(Action(COPY, name, SOURCE, t, None, None, t))
        self.acts.append(Action(COPY, key, TARGET, s, None, None, s))

    # -- building blocks ------------------------------------------------------------------
    def _put(self, side: str, key: str, item: Item, expect: Item | None) -> None:
        """Make `side` hold `item` at `key`; `expect` is replaced (versions) if present."""
        op = MKDIR if item.kind == DIR else COPY
        self.acts.append(Action(op, key, side, item, expect, None, item))

    def _settle(self, key: str, synced: Item, b: Item | None) -> None:
        if b is None or not same_state(b, synced):
            self.plan.base_updates.append((key, synced))

    def _record(
        self, X: str, key: str, x: Item | None, y: Item | None, kind: str, res: str | None
    ) -> None:
        s, t = (x, y) if X == SOURCE else (y, x)
        self.plan.conflicts.append(ConflictRecord(key, kind, s, t, res))

    # -- moves ----------------------------------------------------------------------------
    def finish(self) -> Plan:
        acts = self.acts
        for X in (SOURCE, TARGET):
            Y = other(X)
            pairs, lone_olds, lone_news = pair_moves(self.olds[X], self.news[X])
            for (old, y), (new, x) in pairs:
                acts.append(Action(MOVE, new, Y, y, y, old, y))
                if y.mtime_ns != x.mtime_ns:
                    acts.append(Action(TOUCH, new, Y, x, y, None, x))
            for old, y in lone_olds:
                acts.append(Action(DELETE, old, Y, None, y))
            for new, x in lone_news:
                acts.append(Action(COPY, new, Y, x, None, None, x))
        self.plan.conflicts.sort(key=lambda c: c.path)
        return self.plan


def _synced(s: Item, t: Item) -> Item:
    """The base entry for two items with the same content (see UNAGREED_MTIME)."""
    if s.kind == FILE and s.mtime_ns != t.mtime_ns:
        return s._replace(mtime_ns=UNAGREED_MTIME)
    return s


def winner(strategy: str, s: Item, t: Item) -> str:
    """The side whose version wins a conflict under `strategy` (not ask/keep-both)."""
    if strategy == KEEP_SOURCE:
        return SOURCE
    if strategy == KEEP_TARGET:
        return TARGET
    if strategy == LARGEST and s.size != t.size:
        return SOURCE if s.size > t.size else TARGET
    if strategy in (NEWEST, LARGEST):
        return SOURCE if s.mtime_ns >= t.mtime_ns else TARGET
    raise ValueError(f"unknown conflict strategy {strategy!r}")


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown conflict strategy {strategy!r}: use one of {STRATEGIES}")


def plan_bidirectional(
    source: Snapshot,
    target: Snapshot,
    base: Snapshot,
    *,
    strategy: str = ASK,
    ignore: Any = None,
    now: datetime,
    hostname: str,
) -> Plan:
    """Three-way reconciliation of source, target and base (SPEC 3.3 - 3.5)."""
    _check_strategy(strategy)
    S, T, B = drop_ignored(ignore, source, target, base)
    planner = _Bidirectional(S, T, B, strategy, now, hostname)
    planner.run(walk_order(S, T, B))
    return planner.finish()


def plan_conflict_resolution(
    path: str,
    choice: str,
    source: Snapshot,
    target: Snapshot,
    base: Snapshot,
    *,
    ignore: Any = None,
    now: datetime,
    hostname: str,
) -> Plan:
    """Settle one pending conflict later: `choice` (source, target, keep-both) applied to
    `path` and everything below it, with the same rules as a run under that strategy.

    Give the full snapshots and base: the rest of the tree is not planned, but it is what
    keeps a keep-both name from colliding with a sibling.
    """
    if choice not in (KEEP_SOURCE, KEEP_TARGET, KEEP_BOTH):
        raise ValueError(f"unknown conflict choice {choice!r}")
    S, T, B = drop_ignored(ignore, source, target, base)
    planner = _Bidirectional(S, T, B, choice, now, hostname)
    prefix = path + "/"
    planner.run(k for k in walk_order(S, T, B) if k == path or k.startswith(prefix))
    return planner.finish()


def make_plan(
    mode: str,
    source: Snapshot,
    target: Snapshot,
    base: Snapshot | None,
    *,
    strategy: str = ASK,
    ignore: Any = None,
    now: datetime | None = None,
    hostname: str = "",
) -> Plan:
    """The plan for a conduit's mode. Without `now`/`hostname` (only used to name
    keep-both copies) the current time and this machine's name are used."""
    if mode == MIRROR:
        return plan_mirror(source, target, base, ignore=ignore)
    if mode == BIDIRECTIONAL:
        return plan_bidirectional(
            source,
            target,
            base or {},
            strategy=strategy,
            ignore=ignore,
            now=now or datetime.now(),
            hostname=hostname or socket.gethostname(),
        )
    raise ValueError(f"unknown sync mode {mode!r}: use one of {MODES}")
