"""Property tests of the planner against a tiny in-memory model of the two sides.

`Model.apply` runs a plan the way the executor does (base updates first, then the phases
of `plan.PHASES`, mkdirs parents first, deletes deepest first) and asserts every
precondition the real executor checks: a mismatched `expect`, a missing parent folder,
a copy whose source does not hold the planned item or an rmdir of a non-empty folder is a
planner bug. Replaced and deleted items go to `versions`, as with the versioning store.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacesync_gui.engine.plan import (
    COPY,
    DELETE,
    MKDIR,
    MOVE,
    PHASES,
    RMDIR,
    SOURCE,
    TARGET,
    TOUCH,
    Item,
    Plan,
    Snapshot,
    other,
)
from spacesync_gui.engine.planner import (
    BOTH_MODIFIED,
    STRATEGIES,
    TYPE_CHANGE,
    plan_bidirectional,
    plan_conflict_resolution,
    plan_mirror,
)

NOW = datetime(2024, 5, 6, 7, 8, 9)
HOST = "host"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def F(content: str, mtime: int = 1) -> Item:
    return Item("file", len(content), mtime, content)


def D() -> Item:
    return Item("dir")


def L(link: str) -> Item:
    return Item("symlink", link=link)


def parent_of(key: str) -> str:
    return key.rpartition("/")[0]


def below(key: str, snap: Snapshot) -> list[str]:
    prefix = key + "/"
    return [k for k in snap if k.startswith(prefix)]


def token(item: Item) -> str | None:
    """What of an item is user data: a file's bytes, a link's target."""
    if item.kind == "file":
        return f"F:{item.hash}"
    if item.kind == "symlink":
        return f"L:{item.link}"
    return None


def tokens(*snaps: Snapshot) -> set[str]:
    return {tok for snap in snaps for item in snap.values() if (tok := token(item))}


def content_view(snap: Snapshot) -> dict[str, tuple[str, str | None, str | None]]:
    return {k: (v.kind, v.hash, v.link) for k, v in snap.items()}


def exact_view(snap: Snapshot) -> dict[str, tuple]:
    return {
        k: (v.kind, v.hash, v.link, v.mtime_ns if v.kind == "file" else 0) for k, v in snap.items()
    }


class Model:
    def __init__(self, source: Snapshot, target: Snapshot, base: Snapshot | None) -> None:
        self.sides = {SOURCE: dict(source), TARGET: dict(target)}
        self.base: dict[str, Item] = dict(base or {})
        self.versions: Counter[str] = Counter()

    @property
    def S(self) -> dict[str, Item]:
        return self.sides[SOURCE]

    @property
    def T(self) -> dict[str, Item]:
        return self.sides[TARGET]

    def _set_base(self, key: str, item: Item | None) -> None:
        if item is None:
            self.base.pop(key, None)
        else:
            self.base[key] = item

    def _has_parent(self, side: dict[str, Item], key: str) -> bool:
        p = parent_of(key)
        return not p or (p in side and side[p].kind == "dir")

    def _to_versions(self, side: dict[str, Item], key: str) -> None:
        for k in [key, *below(key, side)]:
            tok = token(side.pop(k))
            if tok:
                self.versions[tok] += 1

    def apply(self, plan: Plan) -> None:
        for key, item in plan.base_updates:
            self._set_base(key, item)
        for op in PHASES:
            acts = [a for a in plan.actions if a.op == op]
            if op == MKDIR:
                acts.sort(key=lambda a: a.path.count("/"))
            elif op in (DELETE, RMDIR):
                acts.sort(key=lambda a: -a.path.count("/"))
            for a in acts:
                self._apply(a)

    def _apply(self, a) -> None:
        side, src = self.sides[a.side], self.sides[other(a.side)]
        if a.op == MOVE:
            assert a.from_path is not None and a.item is not None
            assert side.get(a.from_path) == a.expect, f"move source changed: {a}"
            assert a.path not in side, f"move destination taken: {a}"
            assert self._has_parent(side, a.path), f"move without parent: {a}"
            assert a.expect.kind != "dir" or not below(a.from_path, side)
            side[a.path] = side.pop(a.from_path)
            self._set_base(a.from_path, None)
            self._set_base(a.path, a.base)
            return
        assert side.get(a.path) == a.expect, f"expect mismatch: {a} vs {side.get(a.path)}"
        if a.op in (MKDIR, COPY):
            assert a.item is not None
            assert self._has_parent(side, a.path), f"no parent folder for {a}"
            assert src.get(a.path) == a.item, f"copy source does not hold the item: {a}"
            assert (a.op == MKDIR) == (a.item.kind == "dir")
            if a.expect is not None:
                assert a.expect.kind != a.item.kind or a.op == COPY
                self._to_versions(side, a.path)
            side[a.path] = a.item
        elif a.op == TOUCH:
            assert a.item is not None and a.expect is not None
            assert a.item.same_content(a.expect), f"touch changes content: {a}"
            side[a.path] = a.item
        elif a.op == DELETE:
            assert a.expect is not None and a.expect.kind != "dir", a
            self._to_versions(side, a.path)
        elif a.op == RMDIR:
            assert a.expect is not None and a.expect.kind == "dir", a
            assert not below(a.path, side), f"rmdir of a non-empty folder: {a}"
            del side[a.path]
        else:
            raise AssertionError(f"unknown op {a.op}")
        self._set_base(a.path, a.base)

    def check_tree(self) -> None:
        for side in self.sides.values():
            for k in side:
                assert self._has_parent(side, k), f"orphan {k}"


# -- random trees and edits ----------------------------------------------------------------
NAMES = ["a", "b", "c.txt", ".d"]
paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
contents = st.text(alphabet="pqrs", min_size=1, max_size=3)
mtimes = st.integers(1, 4)


@st.composite
def new_items(draw) -> Item:
    kind = draw(st.sampled_from(["file", "file", "file", "dir", "symlink"]))
    if kind == "file":
        return F(draw(contents), draw(mtimes))
    if kind == "symlink":
        return L(draw(st.sampled_from(["x", "y"])))
    return D()


def add(tree: dict[str, Item], key: str, item: Item) -> None:
    parts = key.split("/")
    for i in range(1, len(parts)):
        p = "/".join(parts[:i])
        if p in tree and tree[p].kind != "dir":
            return
    if key in tree:
        return
    for i in range(1, len(parts)):
        tree.setdefault("/".join(parts[:i]), D())
    tree[key] = item


def remove(tree: dict[str, Item], key: str) -> None:
    for k in [key, *below(key, tree)]:
        del tree[k]


def nth(keys: list[str], i: int) -> str | None:
    return sorted(keys)[i % len(keys)] if keys else None


edit_ops = st.one_of(
    st.tuples(st.just("add"), paths, new_items()),
    st.tuples(st.just("modify"), st.integers(0, 4), contents, mtimes),
    st.tuples(st.just("touch"), st.integers(0, 4), mtimes),
    st.tuples(st.just("delete"), st.integers(0, 4)),
    st.tuples(st.just("rename"), st.integers(0, 4), paths),
    st.tuples(st.just("retype"), st.integers(0, 4), new_items()),
)


def edit(tree: Snapshot, ops: list[tuple]) -> dict[str, Item]:
    out = dict(tree)
    for op in ops:
        if op[0] == "add":
            add(out, op[1], op[2])
            continue
        files = [k for k, v in out.items() if v.kind == "file"]
        if op[0] == "modify" and (k := nth(files, op[1])):
            out[k] = F(op[2], op[3])
        elif op[0] == "touch" and (k := nth(files, op[1])):
            out[k] = out[k]._replace(mtime_ns=op[2])
        elif op[0] == "delete" and (k := nth(list(out), op[1])):
            remove(out, k)
        elif op[0] == "rename" and (k := nth(list(out), op[1])):
            new = op[2]
            if new == k or new.startswith(k + "/") or new in out:
                continue
            moved = {new + s[len(k) :]: out[s] for s in [k, *below(k, out)]}
            remove(out, k)
            trial = dict(out)
            for nk in sorted(moved):
                add(trial, nk, moved[nk])
            if all(trial.get(nk) == v for nk, v in moved.items()):
                out = trial
            else:
                out.update({k + s[len(new) :]: v for s, v in moved.items()})  # undo
        elif op[0] == "retype" and (k := nth(list(out), op[1])) and out[k].kind != op[2].kind:
            remove(out, k)
            add(out, k, op[2])
    return out


def tree_from(ops: list[tuple[str, Item]]) -> dict[str, Item]:
    tree: dict[str, Item] = {}
    for key, item in ops:
        add(tree, key, item)
    return tree


trees = st.lists(st.tuples(paths, new_items()), min_size=2, max_size=10).map(tree_from)
side_ops = st.one_of(
    st.tuples(st.just("modify"), contents, mtimes),
    st.tuples(st.just("modify"), contents, mtimes),
    st.tuples(st.just("modify"), contents, mtimes),
    st.tuples(st.just("touch"), mtimes),
    st.tuples(st.just("delete")),
    st.tuples(st.just("rename"), paths),
    st.tuples(st.just("retype"), new_items()),
)


@st.composite
def edit_pairs(draw) -> tuple[list[tuple], list[tuple]]:
    """Edits for both sides; some aimed at the same item on both, to provoke conflicts."""
    s_ops, t_ops = draw(st.lists(edit_ops, max_size=4)), draw(st.lists(edit_ops, max_size=4))
    for i, s_op, t_op in draw(
        st.lists(st.tuples(st.integers(0, 4), side_ops, side_ops), max_size=3)
    ):
        s_ops.append((s_op[0], i, *s_op[1:]))
        t_ops.append((t_op[0], i, *t_op[1:]))
    return s_ops, t_ops


# -- checks --------------------------------------------------------------------------------
def sync(m: Model, strategy: str, choices: list[bool]) -> list:
    """One bidirectional run, then `ask` conflicts settled with a keep-source/target choice."""
    plan = plan_bidirectional(m.S, m.T, m.base, strategy=strategy, now=NOW, hostname=HOST)
    m.apply(plan)
    m.check_tree()
    records = list(plan.conflicts)
    for i, c in enumerate(plan.pending_conflicts):
        choice = "source" if (choices[i % len(choices)] if choices else True) else "target"
        fix = plan_conflict_resolution(c.path, choice, m.S, m.T, m.base, now=NOW, hostname=HOST)
        assert not fix.pending_conflicts
        m.apply(fix)
        m.check_tree()
        records.extend(fix.conflicts)
    return records


def assert_steady(m: Model, strategy: str) -> None:
    assert content_view(m.S) == content_view(m.T)
    assert set(m.base) == set(m.S)
    for k, item in m.S.items():
        assert item.same_content(m.base[k]), k
    again = plan_bidirectional(m.S, m.T, m.base, strategy=strategy, now=NOW, hostname=HOST)
    assert again.is_empty(), again
    assert not again.conflicts and not again.base_updates, again


def deleted_unchanged(X: Snapshot, Y: Snapshot, B: Snapshot) -> set[str]:
    """Base files X deleted while Y kept them untouched: must stay deleted."""
    return {
        k
        for k, b in B.items()
        if b.kind != "dir" and k not in X and k in Y and Y[k].same_content(b)
    }


def under_conflict(key: str, records: list) -> bool:
    return any(
        c.kind in (BOTH_MODIFIED, TYPE_CHANGE) and (key == c.path or key.startswith(c.path + "/"))
        for c in records
    )


@SETTINGS
@given(
    tree=trees,
    rounds=st.lists(edit_pairs(), min_size=1, max_size=3),
    strategy=st.sampled_from(STRATEGIES),
    choices=st.lists(st.booleans(), max_size=4),
)
def test_bidirectional_converges_and_loses_nothing(tree, rounds, strategy, choices):
    m = Model(tree, tree, tree)
    for s_ops, t_ops in rounds:
        S, T = edit(m.S, s_ops), edit(m.T, t_ops)
        B = dict(m.base)
        m = Model(S, T, B)
        before = tokens(S, T)
        records = sync(m, strategy, choices)
        assert before <= tokens(m.S, m.T) | set(m.versions), "content lost"
        for X, Y in ((S, T), (T, S)):
            for k in deleted_unchanged(X, Y, B):
                if not under_conflict(k, records):
                    assert k not in m.S and k not in m.T, f"{k} resurrected"
        assert_steady(m, strategy)


@SETTINGS
@given(
    source=trees,
    target=trees,
    strategy=st.sampled_from(STRATEGIES),
    choices=st.lists(st.booleans(), max_size=4),
)
def test_first_sync_is_the_union(source, target, strategy, choices):
    m = Model(source, target, {})
    before = tokens(source, target)
    sync(m, strategy, choices)
    assert before <= tokens(m.S, m.T) | set(m.versions)
    # Paths on one side only are never conflicts, so they all arrive.
    for k in source.keys() ^ target.keys():
        if not any(p in source and p in target for p in _ancestors(k)):
            assert k in m.S and k in m.T, k
    assert_steady(m, strategy)


def _ancestors(key: str) -> list[str]:
    parts = key.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


@SETTINGS
@given(
    tree=trees,
    ops=edit_pairs(),
    with_base=st.booleans(),
)
def test_mirror_makes_target_equal_source(tree, ops, with_base):
    s_ops, t_ops = ops
    S, T = edit(tree, s_ops), edit(tree, t_ops)
    B = dict(tree) if with_base else None
    m = Model(S, T, B)
    before = tokens(T)
    plan = plan_mirror(S, T, B)
    m.apply(plan)
    m.check_tree()
    assert m.S == S
    assert exact_view(m.T) == exact_view(S)
    assert before <= tokens(m.T) | set(m.versions)
    assert set(m.base) == set(S)
    for k, item in S.items():
        assert item.same_content(m.base[k])
    if with_base:
        for k in plan.overwritten_target_edits:
            assert k in T and T[k].kind != "dir"
    again = plan_mirror(m.S, m.T, m.base)
    assert again.is_empty() and not again.base_updates, again
