from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.ui.models.table import KeyRole

from .conftest import wait_task
from .records import add_conflict, add_generation


def test_first_run_screen_until_a_conduit_exists(qtbot, make_app, library, folders):
    app = make_app()
    w = app.window
    assert w.pages.currentWidget() is w.first_run
    assert w.first_run.drop_zone.label.text() == "Drop folders here"
    add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    with qtbot.waitSignal(app.state.reloaded):
        app.state.request_reload()
    assert w.pages.currentWidget() is w.main_page
    assert app.state.conduits.rowCount() == 1
    assert app.state.locations.rowCount() == 2
    assert w.selected_conduit().name == "Docs"  # first pair selected


def test_history_of_selected_conduit_and_conflict_badge(qtbot, make_app, library, folders):
    c = add_conduit(library, folders["alpha"], folders["beta"], "bidirectional", name="Two")
    add_generation(library, c.id, copied=4)
    add_conflict(library, c.id, "hello.txt")
    app = make_app()
    w = app.window
    qtbot.waitUntil(lambda: w.history.rowCount() == 1)
    assert w.history.index(0, w.history.COPIED).data() == "4"
    assert w.conflicts_badge_action.isVisible()
    assert w.conflicts_action.text() == "⚠ 1 conflict"
    assert app.state.overall() == "conflicts"
    assert app.state.conduits.index(0, app.state.conduits.STATUS).data() == (
        "1 conflict to resolve"
    )


def test_toolbar_and_context_menus(qtbot, make_app, library, folders, prompt_log):
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    app = make_app()
    w = app.window
    # No engine in this test: syncing is disabled, editing and pausing are not.
    assert not w.sync_action.isEnabled()
    assert w.edit_action.isEnabled() and w.pause_action.text() == "Pause"
    texts = [a.text() for a in w.conduit_menu(w.selected_conduit()).actions() if a.text()]
    assert texts == [
        "Sync now", "Preview…", "Pause", "Edit…", "Open source folder", "Open target folder",
        "Remove…",
    ]  # fmt: skip
    loc_id = app.state.locations.index(0, 0).data(KeyRole)
    loc_texts = [a.text() for a in w.location_menu(loc_id).actions() if a.text()]
    assert loc_texts == ["Open folder", "Scan now", "New sync pair from here…", "Remove…"]

    with qtbot.waitSignal(app.state.reloaded, timeout=5000):
        w.pause_action.trigger()
    qtbot.waitUntil(lambda: app.state.conduits.find(c.id).paused)
    assert w.pause_action.text() == "Resume"
    assert app.state.overall() == "error"  # paused, but no engine is the bigger news

    prompt_log.confirm_answer = True
    with qtbot.waitSignal(app.state.reloaded, timeout=5000):
        w.remove_action.trigger()
    qtbot.waitUntil(lambda: app.state.conduits.rowCount() == 0)
    assert any("Stop syncing Docs?" in t for t in prompt_log.texts("confirm"))
    assert w.pages.currentWidget() is w.first_run


def test_sync_without_engine_reports_it(qtbot, make_app, library, folders, prompt_log):
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror")
    app = make_app()
    wait_task(qtbot, app.controller.sync_now(c.id))
    assert prompt_log.texts("warn") == ["the sync engine is not running; see the log file"]
