from PySide6.QtWidgets import QApplication

from spacesync_gui.engine.conduits import add_conduit, list_conduits
from spacesync_gui.engine.events import RunFinished
from spacesync_gui.ui.icons import TRAY_STATES, tray_icon, tray_icon_path

from .conftest import wait_task
from .records import add_conflict


def _menu_texts(menu):
    return [a.text() for a in menu.actions() if a.text()]


def test_menu_is_rebuilt_on_about_to_show(qtbot, make_app, library, folders):
    app = make_app()
    tray = app.tray
    assert _menu_texts(tray.menu) == [
        "Open SpaceSync", "Sync all now", "Pause all", "Settings…", "Quit SpaceSync",
    ]  # fmt: skip
    add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    with qtbot.waitSignal(app.state.reloaded):
        app.state.request_reload()
    with qtbot.waitSignal(tray.menuRebuilt):
        tray.menu.aboutToShow.emit()
    texts = _menu_texts(tray.menu)
    assert texts[3] == "Docs — Never synced"
    sub = tray.action("Docs").menu()
    assert _menu_texts(sub) == ["Sync now", "Pause", "Open source folder", "Open target folder"]


def test_pause_all_and_resume_all(qtbot, make_app, library, folders):
    add_conduit(library, folders["alpha"], folders["beta"], "mirror")
    app = make_app()
    app.tray.menu.aboutToShow.emit()
    with qtbot.waitSignal(app.state.reloaded, timeout=5000):
        app.tray.action("Pause all").trigger()
    qtbot.waitUntil(lambda: all(c.paused for c in list_conduits(library)))
    app.tray.rebuild_menu()
    with qtbot.waitSignal(app.state.reloaded, timeout=5000):
        app.tray.action("Resume all").trigger()
    qtbot.waitUntil(lambda: not any(c.paused for c in list_conduits(library)))


def test_quit_from_tray_quits(qtbot, make_app, monkeypatch):
    app = make_app()
    quits = []
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: quits.append(1)))
    with qtbot.waitSignal(app.controller.quitRequested):
        app.tray.action("Quit SpaceSync").trigger()
    assert quits == [1]


def test_open_window_from_tray_shows_it(qtbot, make_app):
    app = make_app()
    app.window.hide()
    app.tray.action("Open SpaceSync").trigger()
    assert app.window.isVisible()


def test_without_a_tray_closing_the_window_quits(qtbot, make_app, monkeypatch):
    app = make_app(tray=False)
    assert app.tray.icon is None and not app.tray.keeps_app_alive()
    quits = []
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: quits.append(1)))
    app.window.close()
    assert quits == [1]


def test_with_a_tray_closing_the_window_hides_it(qtbot, make_app, monkeypatch):
    app = make_app(tray=True)
    assert app.tray.icon is not None
    # Offscreen there is no tray host; pretend the icon made it onto a panel.
    monkeypatch.setattr(app.tray.icon, "isVisible", lambda: True)
    quits = []
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: quits.append(1)))
    told = []
    app.tray.notified.connect(lambda *a: told.append(a))
    app.window.close()
    assert not app.window.isVisible()
    assert quits == []
    assert [t[0] for t in told] == ["SpaceSync is still running"]
    app.show_window()
    app.window.close()
    assert len(told) == 1  # said once per session
    app.tray.action("Open SpaceSync").trigger()
    assert app.window.isVisible()


def test_notifications_follow_runs_and_the_setting(qtbot, make_app, library, folders):
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    app = make_app()
    shown = []
    app.tray.notified.connect(lambda *a: shown.append(a))
    bridge = app.bridge
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 1, "completed", {"copied": 2, "deleted": 0}))
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 2, "completed", {"copied": 0}))  # no changes: quiet
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 3, "failed", {"reason": "disk full"}))
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 4, "completed", {"conflicts": 3}))
    for name in ("a", "b", "c"):  # what that run recorded
        add_conflict(library, c.id, name)
    app.state.request_reload()
    qtbot.waitUntil(lambda: app.state.conduits.live(c.id).conflicts == 3)
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 5, "completed", {"conflicts": 3}))  # none new: quiet
    assert shown == [
        ("Sync finished", "Docs: 2 copied", "info"),
        ("Sync problem", "Docs: sync failed — disk full", "error"),
        ("Conflicts to resolve", "Docs: 3 conflicts to resolve", "warning"),
    ]
    app.controller.settings.notifications = False
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 5, "failed", {"reason": "again"}))
    assert len(shown) == 3


def test_tray_icon_follows_the_overall_state(qtbot, make_app, library, folders):
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror")
    app = make_app(tray=True, runtime=True)
    assert app.tray.current_state == "idle"
    wait_task(qtbot, app.controller.set_paused(c.id, True))
    qtbot.waitUntil(lambda: app.tray.current_state == "paused")
    assert "paused" in app.tray.icon.toolTip()


def test_engine_that_did_not_start_shows_as_error(qtbot, make_app, library, folders):
    add_conduit(library, folders["alpha"], folders["beta"], "mirror")
    app = make_app(tray=True)  # no engine
    assert app.state.engine_failed
    assert app.tray.current_state == "error"
    assert "the sync engine is not running" in app.window.state_label.text()


def test_every_state_has_light_and_dark_icons(qapp):
    for state in TRAY_STATES:
        for dark in (False, True):
            assert tray_icon_path(state, dark).is_file()
            assert not tray_icon(state, dark).pixmap(22, 22).isNull()


def test_a_run_s_warnings_reach_the_activity_log(qtbot, make_app, library, folders):
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    app = make_app()
    bridge = app.bridge
    said = ["the ignore patterns leave out the one file of the source folder /x: it is not synced"]
    edits = [f"f{i} was edited on the target; its old content is kept" for i in range(12)]
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 1, "completed", {"copied": 0, "warnings": said}))
    with qtbot.waitSignal(bridge.runFinished):
        bridge.post(RunFinished(c.id, 2, "completed", {"copied": 12, "warnings": edits}))
    lines = [(ln.text, ln.level) for ln in app.state.activity.lines()]
    start = lines.index(("Docs: already in sync", "info"))
    assert lines[start + 1] == (f"Docs: {said[0]}", "warning")
    after = lines[lines.index(("Docs: 12 copied", "info")) + 1 :]
    assert after[:10] == [(f"Docs: {w}", "warning") for w in edits[:10]]
    assert after[10] == ("Docs: ... and 2 more warnings", "warning")
