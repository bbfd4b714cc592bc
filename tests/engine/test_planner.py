"""Example-based tests of the planner's rules (SPEC 3.2 - 3.5).

Plans are checked as action lists and, where it matters, executed by the in-memory model
of `test_planner_properties`, which asserts every `expect` and phase-order precondition.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from spacesync_gui.engine.plan import (
    COPY,
    DELETE,
    MKDIR,
    MOVE,
    RMDIR,
    SOURCE,
    TARGET,
    TOUCH,
    Action,
    Item,
    Plan,
)
from spacesync_gui.engine.planner import (
    BOTH_MODIFIED,
    MODIFIED_WINS,
    MODIFY_DELETE,
    STRATEGIES,
    TYPE_CHANGE,
    UNAGREED_MTIME,
    conflict_name,
    make_plan,
    plan_bidirectional,
    plan_conflict_resolution,
    plan_mirror,
)
from spacesync_gui.engine.rules import IgnoreRules

from .test_planner_properties import D, F, L, Model, content_view

NOW = datetime(2024, 5, 6, 7, 8, 9)
HOST = "host"
CNAME = "f (conflict 2024-05-06 070809 host)"
RESOLVING = [s for s in STRATEGIES if s != "ask"]


def bidi(S, T, B, strategy="ask", **kw) -> Plan:
    return plan_bidirectional(S, T, B, strategy=strategy, now=NOW, hostname=HOST, **kw)


def ops(plan: Plan) -> list[tuple[str, str, str]]:
    return sorted((a.op, a.side, a.path) for a in plan.actions)


def only(plan: Plan) -> Action:
    assert len(plan.actions) == 1, plan.actions
    return plan.actions[0]


def converge(plan: Plan, S, T, B, strategy="ask") -> Model:
    """Execute the plan on the model; the sides must end equal and stay quiet."""
    m = Model(S, T, B)
    m.apply(plan)
    m.check_tree()
    if not plan.pending_conflicts:
        assert content_view(m.S) == content_view(m.T)
        again = bidi(m.S, m.T, m.base, strategy)
        assert again.is_empty() and not again.base_updates and not again.conflicts, again
    return m


# -- bidirectional: the change matrix ---------------------------------------------------------
BASE = F("base", 1)
SNEW, TNEW = F("src", 3), F("tgt!", 2)  # source newer, target larger


@pytest.mark.parametrize("strategy", STRATEGIES)
class TestOneSideChanged:
    """Only one side changed: propagated the same way under every strategy."""

    def test_new_on_source(self, strategy):
        plan = bidi({"f": SNEW}, {}, {}, strategy)
        assert only(plan) == Action(COPY, "f", TARGET, SNEW, None, None, SNEW)
        assert not plan.conflicts
        converge(plan, {"f": SNEW}, {}, {}, strategy)

    def test_new_on_target(self, strategy):
        plan = bidi({}, {"f": TNEW}, {}, strategy)
        assert only(plan) == Action(COPY, "f", SOURCE, TNEW, None, None, TNEW)

    def test_changed_on_source(self, strategy):
        plan = bidi({"f": SNEW}, {"f": BASE}, {"f": BASE}, strategy)
        assert only(plan) == Action(COPY, "f", TARGET, SNEW, BASE, None, SNEW)
        converge(plan, {"f": SNEW}, {"f": BASE}, {"f": BASE}, strategy)

    def test_changed_on_target(self, strategy):
        plan = bidi({"f": BASE}, {"f": TNEW}, {"f": BASE}, strategy)
        assert only(plan) == Action(COPY, "f", SOURCE, TNEW, BASE, None, TNEW)

    def test_deleted_on_source(self, strategy):
        plan = bidi({}, {"f": BASE}, {"f": BASE}, strategy)
        assert only(plan) == Action(DELETE, "f", TARGET, None, BASE, None, None)
        m = converge(plan, {}, {"f": BASE}, {"f": BASE}, strategy)
        assert m.base == {}

    def test_deleted_on_target(self, strategy):
        plan = bidi({"f": BASE}, {}, {"f": BASE}, strategy)
        assert only(plan) == Action(DELETE, "f", SOURCE, None, BASE, None, None)

    def test_deleted_on_both(self, strategy):
        plan = bidi({}, {}, {"f": BASE}, strategy)
        assert plan.actions == [] and not plan.conflicts
        assert plan.base_updates == [("f", None)]

    def test_changed_on_both_to_the_same_content(self, strategy):
        same = F("same", 5)
        plan = bidi({"f": same}, {"f": same}, {"f": BASE}, strategy)
        assert plan.actions == [] and not plan.conflicts
        assert plan.base_updates == [("f", same)]

    def test_modify_delete_source_modified(self, strategy):
        plan = bidi({"f": SNEW}, {}, {"f": BASE}, strategy)
        assert only(plan) == Action(COPY, "f", TARGET, SNEW, None, None, SNEW)
        [c] = plan.conflicts
        assert (c.kind, c.resolution, c.source, c.target) == (
            MODIFY_DELETE,
            MODIFIED_WINS,
            SNEW,
            None,
        )
        assert plan.is_empty() is False and not plan.pending_conflicts
        converge(plan, {"f": SNEW}, {}, {"f": BASE}, strategy)

    def test_modify_delete_target_modified(self, strategy):
        plan = bidi({}, {"f": TNEW}, {"f": BASE}, strategy)
        assert only(plan) == Action(COPY, "f", SOURCE, TNEW, None, None, TNEW)
        [c] = plan.conflicts
        assert (c.kind, c.resolution) == (MODIFY_DELETE, MODIFIED_WINS)


class TestBothModified:
    S, T, B = {"f": SNEW}, {"f": TNEW}, {"f": BASE}

    def test_ask_leaves_everything(self):
        plan = bidi(self.S, self.T, self.B, "ask")
        assert plan.actions == [] and plan.base_updates == []
        [c] = plan.pending_conflicts
        assert (c.path, c.kind, c.source, c.target) == ("f", BOTH_MODIFIED, SNEW, TNEW)
        assert not plan.is_empty()

    @pytest.mark.parametrize(
        "strategy, winner",
        [("newest", SOURCE), ("source", SOURCE), ("target", TARGET), ("largest", TARGET)],
    )
    def test_winner_copied_over_loser(self, strategy, winner):
        plan = bidi(self.S, self.T, self.B, strategy)
        w, lo = (SNEW, TNEW) if winner == SOURCE else (TNEW, SNEW)
        loser = TARGET if winner == SOURCE else SOURCE
        assert only(plan) == Action(COPY, "f", loser, w, lo, None, w)
        [c] = plan.conflicts
        assert (c.kind, c.resolution) == (BOTH_MODIFIED, strategy)
        m = converge(plan, self.S, self.T, self.B, strategy)
        assert m.versions == {f"F:{lo.hash}": 1}  # the loser is kept

    def test_keep_both(self):
        plan = bidi(self.S, self.T, self.B, "keep-both")
        name = CNAME
        assert sorted(plan.actions, key=lambda a: a.op) == [
            Action(COPY, name, SOURCE, TNEW, None, None, TNEW),
            Action(COPY, "f", TARGET, SNEW, None, None, SNEW),
            Action(MOVE, name, TARGET, TNEW, TNEW, "f", None),
        ]
        [c] = plan.conflicts
        assert (c.kind, c.resolution) == (BOTH_MODIFIED, "keep-both")
        m = converge(plan, self.S, self.T, self.B, "keep-both")
        assert m.S == m.T == {"f": SNEW, name: TNEW}
        assert not m.versions  # nothing overwritten

    def test_newest_tie_goes_to_source(self):
        s, t = F("aa", 7), F("bbb", 7)
        assert only(bidi({"f": s}, {"f": t}, self.B, "newest")).side == TARGET

    def test_largest_tie_goes_to_newest(self):
        s, t = F("aa", 1), F("bb", 9)
        assert only(bidi({"f": s}, {"f": t}, self.B, "largest")).side == SOURCE
        assert only(bidi({"f": t}, {"f": s}, self.B, "largest")).side == TARGET

    def test_symlinks(self):
        plan = bidi({"l": L("x")}, {"l": L("y")}, {"l": L("z")}, "ask")
        assert [c.kind for c in plan.conflicts] == [BOTH_MODIFIED]
        plan = bidi({"l": L("x")}, {"l": L("z")}, {"l": L("z")})
        assert only(plan) == Action(COPY, "l", TARGET, L("x"), L("z"), None, L("x"))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_both_created_differently_is_a_conflict(strategy):
    plan = bidi({"f": SNEW}, {"f": TNEW}, {}, strategy)
    [c] = plan.conflicts
    assert c.kind == BOTH_MODIFIED
    assert c.resolution == (None if strategy == "ask" else strategy)
    converge(plan, {"f": SNEW}, {"f": TNEW}, {}, strategy)


# -- first sync, mtimes ----------------------------------------------------------------------
def test_first_sync_is_the_union():
    S = {"d": D(), "d/a": F("a"), "same": F("x", 1), "s_only": F("s")}
    T = {"d": D(), "d/b": F("b"), "same": F("x", 1), "t_only": L("t")}
    plan = bidi(S, T, {})
    assert ops(plan) == [
        (COPY, SOURCE, "d/b"),
        (COPY, SOURCE, "t_only"),
        (COPY, TARGET, "d/a"),
        (COPY, TARGET, "s_only"),
    ]
    assert dict(plan.base_updates) == {"d": D(), "same": F("x", 1)}
    m = converge(plan, S, T, {})
    assert set(m.S) == {"d", "d/a", "d/b", "same", "s_only", "t_only"}


def test_first_sync_same_content_different_mtime_needs_no_touch():
    plan = bidi({"f": F("x", 1)}, {"f": F("x", 2)}, {})
    assert plan.actions == [] and not plan.conflicts
    assert plan.base_updates == [("f", F("x", UNAGREED_MTIME))]
    converge(plan, {"f": F("x", 1)}, {"f": F("x", 2)}, {})  # and the next run stays quiet


def test_first_sync_different_content_is_pending():
    plan = bidi({"f": F("x")}, {"f": F("y")}, {})
    assert plan.actions == [] and [c.kind for c in plan.pending_conflicts] == [BOTH_MODIFIED]


def test_mtime_only_change_is_carried_over_by_touch():
    b = F("x", 1)
    plan = bidi({"f": F("x", 5)}, {"f": b}, {"f": b})
    assert only(plan) == Action(TOUCH, "f", TARGET, F("x", 5), b, None, F("x", 5))
    plan = bidi({"f": b}, {"f": F("x", 6)}, {"f": b})
    assert only(plan) == Action(TOUCH, "f", SOURCE, F("x", 6), b, None, F("x", 6))
    converge(plan, {"f": b}, {"f": F("x", 6)}, {"f": b})


def test_mtime_changed_on_both_sides_is_settled_in_the_base():
    b = F("x", 1)
    plan = bidi({"f": F("x", 5)}, {"f": F("x", 6)}, {"f": b})
    assert plan.actions == [] and not plan.conflicts
    converge(plan, {"f": F("x", 5)}, {"f": F("x", 6)}, {"f": b})
    # Both touched to the same time: only the base moves.
    plan = bidi({"f": F("x", 5)}, {"f": F("x", 5)}, {"f": b})
    assert plan.actions == [] and plan.base_updates == [("f", F("x", 5))]


def test_unchanged_tree_plans_nothing():
    tree = {"d": D(), "d/a": F("a"), "l": L("d/a")}
    plan = bidi(tree, dict(tree), dict(tree))
    assert plan.is_empty() and not plan.base_updates


# -- type changes and folder conflicts -------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_file_became_folder_on_one_side(strategy):
    B = {"x": F("old")}
    S = {"x": D(), "x/in": F("in")}
    plan = bidi(S, dict(B), B, strategy)
    assert plan.actions == [
        Action(MKDIR, "x", TARGET, D(), F("old"), None, D()),
        Action(COPY, "x/in", TARGET, F("in"), None, None, F("in")),
    ]
    assert not plan.conflicts
    m = converge(plan, S, dict(B), B, strategy)
    assert "F:old" in m.versions


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_folder_became_file_on_one_side(strategy):
    B = {"x": D(), "x/a": F("a"), "x/s": D(), "x/s/b": F("b")}
    S = {"x": F("now a file")}
    plan = bidi(S, dict(B), B, strategy)
    # One replace; the folder's contents go to the versions store with it.
    assert plan.actions == [Action(COPY, "x", TARGET, S["x"], D(), None, S["x"])]
    assert sorted(plan.base_updates) == [("x/a", None), ("x/s", None), ("x/s/b", None)]
    m = converge(plan, S, dict(B), B, strategy)
    assert m.versions == {"F:a": 1, "F:b": 1}


class TestFolderConflict:
    """Source replaced folder `d` by a file; the target edited a file inside it."""

    B = {"d": D(), "d/a": F("a"), "d/s": D(), "d/s/b": F("b"), "other": F("o")}
    S = {"d": F("file now", 9), "other": F("o2")}
    T = {"d": D(), "d/a": F("a edited", 2), "d/s": D(), "d/s/b": F("b"), "other": F("o")}

    def test_ask_is_one_conflict_and_touches_nothing_below(self):
        plan = bidi(self.S, self.T, self.B, "ask")
        [c] = plan.conflicts
        assert (c.path, c.kind, c.resolution) == ("d", TYPE_CHANGE, None)
        assert (c.source, c.target) == (self.S["d"], D())
        # Everything else still syncs; nothing under `d`, base included.
        assert ops(plan) == [(COPY, TARGET, "other")]
        assert plan.base_updates == []

    def test_file_wins(self):
        plan = bidi(self.S, self.T, self.B, "source")
        assert (COPY, TARGET, "d") in ops(plan)
        assert not [a for a in plan.actions if a.path.startswith("d/")]
        assert [c.resolution for c in plan.conflicts] == ["source"]
        m = converge(plan, self.S, self.T, self.B, "source")
        assert "F:a edited" in m.versions

    def test_folder_wins_and_is_pushed_whole(self):
        plan = bidi(self.S, self.T, self.B, "target")
        assert ops(plan) == [
            (COPY, SOURCE, "d/a"),
            (COPY, SOURCE, "d/s/b"),
            (COPY, TARGET, "other"),
            (MKDIR, SOURCE, "d"),
            (MKDIR, SOURCE, "d/s"),
        ]
        # Unchanged d/s/b is not "deleted on the source": the folder won as a whole.
        m = converge(plan, self.S, self.T, self.B, "target")
        assert m.S["d/s/b"] == F("b") and "F:file now" in m.versions

    def test_keep_both_falls_back_to_newest(self):
        plan = bidi(self.S, self.T, self.B, "keep-both")
        [c] = plan.conflicts
        assert c.resolution == "newest"  # the file (mtime 9) is newer than the folder
        assert (COPY, TARGET, "d") in ops(plan)
        converge(plan, self.S, self.T, self.B, "keep-both")


def test_type_change_on_first_sync_with_children():
    S = {"x": D(), "x/a": F("a"), "x/b": D()}
    T = {"x": L("elsewhere")}
    plan = bidi(S, T, {})
    assert plan.actions == [] and plan.base_updates == []
    assert [(c.path, c.kind) for c in plan.conflicts] == [("x", TYPE_CHANGE)]
    for strategy in RESOLVING:
        converge(bidi(S, T, {}, strategy), S, T, {}, strategy)


def test_file_vs_symlink_is_a_type_change():
    plan = bidi({"x": F("a")}, {"x": L("a")}, {"x": F("b")})
    assert [c.kind for c in plan.conflicts] == [TYPE_CHANGE]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_deleted_folder_with_edits_inside_is_restored(strategy):
    B = {"d": D(), "d/keep": F("k"), "d/edit": F("e"), "d/s": D(), "d/s/z": F("z")}
    S: dict[str, Item] = {}
    T = {"d": D(), "d/keep": F("k"), "d/edit": F("e2", 5), "d/new": F("n"), "d/s": D()}
    T["d/s/z"] = F("z")
    plan = bidi(S, T, B, strategy)
    assert ops(plan) == [
        (COPY, SOURCE, "d/edit"),
        (COPY, SOURCE, "d/new"),
        (DELETE, TARGET, "d/keep"),
        (DELETE, TARGET, "d/s/z"),
        (MKDIR, SOURCE, "d"),
        (RMDIR, TARGET, "d/s"),
    ]
    [c] = plan.conflicts  # one record, for the folder
    assert (c.path, c.kind, c.resolution) == ("d", MODIFY_DELETE, MODIFIED_WINS)
    m = converge(plan, S, T, B, strategy)
    assert set(m.S) == {"d", "d/edit", "d/new"}


# -- moves -------------------------------------------------------------------------------------
def test_rename_on_source_is_a_move_on_target():
    B = {"a.txt": F("data", 3)}
    S = {"b.txt": F("data", 3)}
    plan = bidi(S, dict(B), B)
    assert only(plan) == Action(MOVE, "b.txt", TARGET, B["a.txt"], B["a.txt"], "a.txt", B["a.txt"])
    m = converge(plan, S, dict(B), B)
    assert m.base == {"b.txt": B["a.txt"]}


def test_rename_on_target_with_new_mtime_adds_a_touch():
    B = {"a": F("data", 3)}
    T = {"b": F("data", 4)}
    plan = bidi(dict(B), T, B)
    assert ops(plan) == [(MOVE, SOURCE, "b"), (TOUCH, SOURCE, "b")]
    converge(plan, dict(B), T, B)


def test_move_pairs_one_to_one_and_prefers_the_same_name():
    same = F("same")
    B = {"x": D(), "x/one": same, "x/two": same}
    S = {"y": D(), "y/two": same, "y/one": same, "y/three": same}
    plan = bidi(S, dict(B), B)
    moves = sorted((a.from_path, a.path) for a in plan.actions if a.op == MOVE)
    assert moves == [("x/one", "y/one"), ("x/two", "y/two")]
    assert (COPY, TARGET, "y/three") in ops(plan)
    assert plan.actions == bidi(S, dict(B), B).actions  # deterministic
    converge(plan, S, dict(B), B)


def _folder(root: str) -> dict[str, Item]:
    return {
        root: D(),
        f"{root}/a.txt": F("aaa", 1),
        f"{root}/b.bin": F("bbbb", 2),
        f"{root}/sub": D(),
        f"{root}/sub/c": F("c", 3),
        f"{root}/sub/empty": D(),
    }


@pytest.mark.parametrize("renamed_on", [SOURCE, TARGET])
def test_folder_rename_costs_no_copies(renamed_on):
    B = _folder("old") | {"stay": F("s")}
    new = _folder("new") | {"stay": F("s")}
    S, T = (new, dict(B)) if renamed_on == SOURCE else (dict(B), new)
    plan = bidi(S, T, B)
    other = TARGET if renamed_on == SOURCE else SOURCE
    assert ops(plan) == [
        (MKDIR, other, "new"),
        (MKDIR, other, "new/sub"),
        (MKDIR, other, "new/sub/empty"),
        (MOVE, other, "new/a.txt"),
        (MOVE, other, "new/b.bin"),
        (MOVE, other, "new/sub/c"),
        (RMDIR, other, "old"),
        (RMDIR, other, "old/sub"),
        (RMDIR, other, "old/sub/empty"),
    ]
    assert not [a for a in plan.actions if a.op == COPY]
    converge(plan, S, T, B)


def test_no_move_when_the_other_side_edited_the_old_file():
    B = {"a": F("data")}
    S = {"b": F("data")}
    T = {"a": F("edited", 2)}
    plan = bidi(S, T, B)
    assert not [a for a in plan.actions if a.op == MOVE]
    assert [c.kind for c in plan.conflicts] == [MODIFY_DELETE]
    m = converge(plan, S, T, B)
    assert set(m.S) == {"a", "b"}


def test_no_move_into_a_pending_conflict():
    B = {"f": F("data"), "d": F("was a file")}
    S = {"d": D(), "d/f": F("data")}  # moved f into a new folder d
    T = {"f": F("data"), "d": F("edited", 2)}
    plan = bidi(S, T, B)
    assert [(c.path, c.kind) for c in plan.pending_conflicts] == [("d", TYPE_CHANGE)]
    assert only(plan) == Action(DELETE, "f", TARGET, None, F("data"))
    converge(plan, S, T, B)


def test_deleted_files_stay_deleted_across_runs():
    B = {"d": D(), "d/a": F("a"), "d/b": F("b")}
    S = {"d": D(), "d/a": F("a")}
    m = Model(S, dict(B), B)
    for _ in range(3):
        m.apply(bidi(m.S, m.T, m.base))
        assert "d/b" not in m.S and "d/b" not in m.T and "d/a" in m.T


# -- keep-both names ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, expected",
    [
        ("dir/report.txt", "dir/report (conflict 2024-05-06 070809 host).txt"),
        ("Makefile", "Makefile (conflict 2024-05-06 070809 host)"),
        (".bashrc", ".bashrc (conflict 2024-05-06 070809 host)"),
        ("a/archive.tar.gz", "a/archive.tar (conflict 2024-05-06 070809 host).gz"),
        (".config.json", ".config (conflict 2024-05-06 070809 host).json"),
    ],
)
def test_conflict_name(path, expected):
    assert conflict_name(path, NOW, HOST) == expected


def test_conflict_name_avoids_taken_names_and_odd_hostnames():
    first = "r (conflict 2024-05-06 070809 host).txt"
    assert conflict_name("r.txt", NOW, HOST, {first}) == "r (conflict 2024-05-06 070809 host 2).txt"
    assert conflict_name("r.txt", NOW, "a/b:c") == "r (conflict 2024-05-06 070809 a-b-c).txt"
    assert conflict_name("r.txt", NOW, "") == "r (conflict 2024-05-06 070809).txt"


def test_keep_both_name_does_not_collide_with_existing_file():
    taken = F("already there")
    S = {"f": SNEW, CNAME: taken}
    T = {"f": TNEW, CNAME: taken}
    plan = bidi(S, T, {"f": BASE, CNAME: taken}, "keep-both")
    [move] = [a for a in plan.actions if a.op == MOVE]
    assert move.path == "f (conflict 2024-05-06 070809 host 2)"


def test_resolving_a_pending_conflict_later():
    S, T, B = {"f": SNEW}, {"f": TNEW}, {"f": BASE}
    for choice, kept in (("source", SNEW), ("target", TNEW)):
        fix = plan_conflict_resolution("f", choice, S, T, B, now=NOW, hostname=HOST)
        m = converge(fix, S, T, B)
        assert m.S["f"] == m.T["f"] == kept
    fix = plan_conflict_resolution("f", "keep-both", S, T, B, now=NOW, hostname=HOST)
    assert set(converge(fix, S, T, B).S) == {"f", CNAME}


# -- ignore rules -----------------------------------------------------------------------------
IGNORE = IgnoreRules(["*.log", "build/"])


def _touched_paths(plan: Plan) -> set[str]:
    paths = {a.path for a in plan.actions} | {a.from_path for a in plan.actions if a.from_path}
    return paths | {k for k, _ in plan.base_updates} | {c.path for c in plan.conflicts}


@pytest.mark.parametrize("mode", ["mirror", "bidirectional"])
def test_ignored_paths_are_never_touched(mode):
    S = {"a.log": F("s"), "build": D(), "build/out": F("o"), "keep": F("k"), "x.log": D()}
    T = {"a.log": F("t"), "stale.log": F("z"), "build": F("file here"), "gone": F("g")}
    B = {"a.log": F("b"), "old.log": F("o"), "build": D(), "build/old": F("x"), "gone": F("g")}
    plan = make_plan(mode, S, T, B, ignore=IGNORE, now=NOW, hostname=HOST)
    touched = _touched_paths(plan)
    assert touched == {"keep", "gone"}
    assert not plan.conflicts


def test_ignore_none_or_empty_changes_nothing():
    S, T = {"a.log": F("s")}, {}
    assert ops(plan_mirror(S, T, ignore=IgnoreRules([]))) == [(COPY, TARGET, "a.log")]
    assert ops(bidi(S, T, {}, ignore=None)) == [(COPY, TARGET, "a.log")]


# -- mirror -----------------------------------------------------------------------------------
def mirror_run(S, T, B=None) -> tuple[Plan, Model]:
    plan = plan_mirror(S, T, B)
    m = Model(S, T, B)
    m.apply(plan)
    m.check_tree()
    assert m.T == S
    again = plan_mirror(m.S, m.T, m.base)
    assert again.is_empty() and not again.base_updates
    return plan, m


def test_mirror_copies_deletes_and_touches():
    S = {"d": D(), "d/new": F("n"), "same": F("s", 1), "diff": F("new", 2), "m": F("x", 5)}
    T = {
        "same": F("s", 1),
        "diff": F("old", 1),
        "m": F("x", 1),
        "stray": D(),
        "stray/deep": D(),
        "stray/deep/f": F("z"),
        "lnk": L("q"),
    }
    plan, m = mirror_run(S, T)
    assert ops(plan) == [
        (COPY, TARGET, "d/new"),
        (COPY, TARGET, "diff"),
        (DELETE, TARGET, "lnk"),
        (DELETE, TARGET, "stray/deep/f"),
        (MKDIR, TARGET, "d"),
        (RMDIR, TARGET, "stray"),
        (RMDIR, TARGET, "stray/deep"),
        (TOUCH, TARGET, "m"),
    ]
    assert [a for a in plan.actions if a.path == "diff"][0].expect == F("old", 1)
    assert m.versions == {"F:old": 1, "F:z": 1, "L:q": 1}
    assert plan.base_updates == [("same", F("s", 1))]
    assert plan.overwritten_target_edits == []  # no base: nothing known about edits


def test_mirror_type_changes():
    S = {"a": F("file"), "b": D(), "b/in": F("in"), "c": L("t")}
    T = {"a": D(), "a/x": F("x"), "a/sub": D(), "a/sub/y": F("y"), "b": F("old"), "c": F("c")}
    plan, m = mirror_run(S, T)
    assert sorted(plan.actions, key=lambda a: a.path) == [
        Action(COPY, "a", TARGET, F("file"), D(), None, F("file")),
        Action(MKDIR, "b", TARGET, D(), F("old"), None, D()),
        Action(COPY, "b/in", TARGET, F("in"), None, None, F("in")),
        Action(COPY, "c", TARGET, L("t"), F("c"), None, L("t")),
    ]
    assert m.versions == {"F:x": 1, "F:y": 1, "F:old": 1, "F:c": 1}


def test_mirror_folder_rename_is_moves():
    T = _folder("old")
    S = _folder("new")
    plan, _ = mirror_run(S, T, dict(T))
    assert {a.op for a in plan.actions} == {MKDIR, MOVE, RMDIR}
    assert sorted(a.from_path for a in plan.actions if a.op == MOVE) == [
        "old/a.txt",
        "old/b.bin",
        "old/sub/c",
    ]
    assert plan.overwritten_target_edits == []


def test_mirror_reports_target_edits_it_overwrites():
    B = {"edited": F("b"), "clean": F("c"), "gone": F("g"), "d": D(), "d/x": F("x")}
    S = {"edited": F("src", 3), "clean": F("c2", 3), "d": F("d now a file")}
    T = {"edited": F("tgt", 2), "clean": F("c"), "gone": F("g"), "made": F("m"), "d": D()}
    T["d/x"] = F("x edited", 2)
    plan, _ = mirror_run(S, T, B)
    assert plan.overwritten_target_edits == ["d/x", "edited", "made"]


def test_mirror_base_bookkeeping():
    S = {"a": F("a")}
    T = {"a": F("a")}
    B = {"a": F("old"), "vanished": F("v")}
    plan = plan_mirror(S, T, B)
    assert plan.actions == []
    assert sorted(plan.base_updates) == [("a", F("a")), ("vanished", None)]


# -- dispatch ------------------------------------------------------------------------------------
def test_make_plan_dispatch_and_validation():
    S, T = {"f": F("x")}, {}
    assert ops(make_plan("mirror", S, T, None)) == [(COPY, TARGET, "f")]
    assert ops(make_plan("bidirectional", S, T, None)) == [(COPY, TARGET, "f")]
    with pytest.raises(ValueError):
        make_plan("sideways", S, T, None)
    with pytest.raises(ValueError):
        bidi(S, T, {}, "coin-flip")


def test_hold_back_drops_file_actions_on_the_paths_and_keeps_folders():
    f = Item("file", 3, 1, "h")
    plan = Plan(
        actions=[
            Action(MKDIR, "d", TARGET, Item("dir")),
            Action(COPY, "d/a", TARGET, f),
            Action(COPY, "d/b", TARGET, f),
            Action(MOVE, "d/new", TARGET, f, f, from_path="d/old"),
            Action(DELETE, "e/x", TARGET, expect=f),
            Action(RMDIR, "e", TARGET),
        ]
    )
    plan.hold_back({"d/a", "d/old", "e/x", "d", "e"})
    assert [(a.op, a.path) for a in plan.actions] == [
        (MKDIR, "d"),
        (COPY, "d/b"),
        (RMDIR, "e"),
    ]
