from spacesync_gui.engine.conduits import add_conduit, list_conduits, set_paused
from spacesync_gui.engine.events import Progress, RunFinished
from spacesync_gui.ui.models import ConduitsModel
from spacesync_gui.ui.models.conduits import ProgressRole, StatusKeyRole


def _model(library, folders):
    add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    delta = folders["alpha"].parent / "delta"
    delta.mkdir()
    add_conduit(library, folders["gamma"], delta, "bidirectional", schedule="interval:15m")
    model = ConduitsModel()
    model.set_rows(list_conduits(library))
    return model


def test_rows_and_roles(qtbot, library, folders):
    model = _model(library, folders)
    assert model.rowCount() == 2
    assert model.index(0, model.NAME).data() == "Docs"
    parent = folders["alpha"].parent.name
    assert model.index(0, model.ENDPOINTS).data() == f"…/{parent}/alpha → …/{parent}/beta"
    assert model.index(1, model.ENDPOINTS).data() == f"…/{parent}/gamma ↔ …/{parent}/delta"
    assert model.index(0, model.MODE).data() == "Mirror"
    assert model.index(1, model.SCHEDULE).data() == "Every 15 min"
    assert model.index(0, model.STATUS).data() == "Never synced"
    assert model.index(0, model.STATUS).data(StatusKeyRole) == "idle"
    assert model.index(0, model.STATUS).data(ProgressRole) is None


def test_progress_updates_only_the_status_cell(qtbot, library, folders):
    model = _model(library, folders)
    cid = model.row_at(1).id
    changes = []
    model.dataChanged.connect(lambda a, b: changes.append((a.row(), a.column(), b.column())))
    model.run_started(cid)
    assert model.index(1, model.STATUS).data(ProgressRole) == (-1.0, "Starting…")
    model.apply_progress(Progress(cid, 5, 10, 500, 1000, "a.txt", 2_000_000, 65))
    fraction, text = model.index(1, model.STATUS).data(ProgressRole)
    assert fraction == 0.5
    assert text == "50% · 2.0 MB/s · 1:05 left"
    assert model.index(1, model.STATUS).data(0x03) == (
        "5 of 10 items done, 500 B of 1.0 KB\nNow: a.txt"
    )
    assert model.index(1, model.STATUS).data(StatusKeyRole) == "syncing"
    assert changes == [(1, model.STATUS, model.STATUS)] * 2
    assert model.any_running()
    model.run_finished(RunFinished(cid, 7, "completed", {"copied": 3}))
    assert not model.any_running()
    assert model.index(1, model.STATUS).data(ProgressRole) is None


def test_paused_conflicts_and_next_run(qtbot, library, folders):
    model = _model(library, folders)
    first, second = (r.id for r in model.rows())
    set_paused(library, first, True)
    model.set_rows(list_conduits(library))
    assert model.index(0, model.STATUS).data() == "Paused"
    assert model.index(0, model.NEXT_RUN).data() == "—"
    model.set_conflict_counts({second: 2})
    assert model.index(1, model.STATUS).data() == "2 conflicts to resolve"
    assert model.index(1, model.STATUS).data(StatusKeyRole) == "conflicts"
    import time

    model.set_next_runs({second: time.time() + 600})
    assert model.index(1, model.NEXT_RUN).data() in ("in 10 min", "in 9 min")


def test_queued_pair_shows_a_busy_bar_until_it_runs(qtbot, library, folders):
    from spacesync_gui.engine.events import PlanReady

    model = _model(library, folders)
    cid = model.row_at(0).id
    model.plan_ready(PlanReady(cid, 3, 100, 0))  # a preview's plan: ignored
    assert model.index(0, model.STATUS).data(ProgressRole) is None
    model.set_queued(cid, True)
    assert model.index(0, model.STATUS).data(ProgressRole) == (-1.0, "Preparing…")
    assert model.is_running(cid) and model.any_running()
    model.plan_ready(PlanReady(cid, 3, 100, 0))
    assert model.index(0, model.STATUS).data() == "Planned 3 changes, starting…"
    model.run_finished(RunFinished(cid, None, "refused", {"reason": "x"}))
    assert not model.is_running(cid)


def test_phases_of_a_scheduled_run_show_before_its_progress(qtbot, library, folders):
    from spacesync_gui.engine.events import PlanReady, RunPhase

    model = _model(library, folders)
    cid = model.row_at(0).id
    model.run_phase(RunPhase(cid, "scanning", dry_run=True))  # a preview: ignored
    model.plan_ready(PlanReady(cid, 3, 100, 0, dry_run=True))
    assert not model.is_running(cid)
    model.run_phase(RunPhase(cid, "scanning"))
    assert model.is_running(cid)
    assert model.index(0, model.STATUS).data() == "Scanning…"
    model.plan_ready(PlanReady(cid, 5, 100, 0))
    assert model.index(0, model.STATUS).data() == "Planned 5 changes, starting…"
    model.run_finished(RunFinished(cid, None, "completed", {}))
    assert not model.is_running(cid)
