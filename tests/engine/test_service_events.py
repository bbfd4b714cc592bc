"""What a run reports while it runs: phases, plan, progress, the end (SPEC 3.9)."""

from __future__ import annotations

from spacesync_gui.engine import conduits
from spacesync_gui.engine.events import PlanReady, Progress, RunFinished, RunPhase
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import write_tree


def test_phases_plan_progress_and_finish(library, tmp_path):
    src, dst = tmp_path / "s", tmp_path / "t"
    write_tree(src, {f"d{i % 5}/f{i}.txt": "x" * i for i in range(40)})
    dst.mkdir()
    c = conduits.add_conduit(library, src, dst, "mirror")
    events: list = []

    preview = FileSyncService(library, emit=events.append).sync(c.id, dry_run=True)
    assert preview.plan
    plans = [e for e in events if isinstance(e, PlanReady)]
    assert len(plans) == 1 and plans[0].dry_run and plans[0].actions == len(preview.plan)
    assert [e.phase for e in events if isinstance(e, RunPhase)] == [
        "preflight",
        "scanning",
        "planning",
    ]

    events.clear()
    report = FileSyncService(library, emit=events.append).sync(c.id)
    assert report.status == "completed" and report.copied == 40
    assert [e.phase for e in events if isinstance(e, RunPhase)] == [
        "preflight",
        "scanning",
        "planning",
        "executing",
        "verifying",
    ]
    assert not [e for e in events if isinstance(e, PlanReady)][0].dry_run
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert last.files_done == last.files_total == 45  # 40 copies + 5 mkdirs
    assert last.bytes_done == last.bytes_total == sum(range(40))
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
