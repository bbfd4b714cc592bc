"""The benchmark suite's verdict (bench/run.py): `make bench` fails when a SPEC 7 target
fails or a group crashed, not for the suite's own diagnostic bars, which it reports."""

from __future__ import annotations

from types import ModuleType

from tests.bench_modules import load


def _judge(run: ModuleType, spacesync_s: float, spec: str) -> list[dict]:
    stats = {
        "ours": run.Stat("ours", 3, spacesync_s, spacesync_s, spacesync_s, None, "ok"),
        "tool": run.Stat("tool", 3, 1.0, 1.0, 1.0, None, "ok"),
    }
    return [run.evaluate(run.Target("ours / tool", "ours", 1.0, "tool", spec=spec), stats)]


def test_a_spec_target_that_fails_fails_the_run() -> None:
    run = load("run")
    assert run.exit_status(_judge(run, 1.5, "7")) == 1
    assert run.exit_status(_judge(run, 0.9, "7")) == 0
    # `make bench-quick`: a tenth of W1, its figures indicative only
    assert run.exit_status(_judge(run, 1.5, "7"), quick=True) == 0
    assert run.verdict(_judge(run, 1.5, "7"))[0] == "SPEC 7 targets: 0 of 1 pass; ours / tool: FAIL"


def test_our_own_bar_that_fails_is_reported_but_does_not_fail_the_run() -> None:
    run = load("run")
    rows = _judge(run, 1.5, "") + _judge(run, 0.9, "7")
    assert run.exit_status(rows) == 0
    assert run.verdict(rows) == [
        "SPEC 7 targets: 1 of 1 pass",
        "other bars (ours, a FAIL not fatal): 0 of 1 pass; ours / tool: FAIL",
    ]


def test_a_group_that_crashed_fails_the_run() -> None:
    run = load("run")
    crashed = run.Stat("__crash_sync__", 0, None, None, None, None, "error", "OSError: disk full")
    row = run.evaluate(run.Target("group sync ran", "__crash_sync__", 0), {crashed.label: crashed})
    assert row["result"] == "ERROR"
    assert run.exit_status([row]) == 1
    assert run.exit_status([row], quick=True) == 1
    assert run.verdict([row])[-1] == "measured in error (the run fails): group sync ran"
