from pathlib import Path

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.locations import add_location, list_locations
from spacesync_gui.ui.conduit_editor import ConduitEditor
from spacesync_gui.ui.dnd import LOCATION_MIME

from .dnd_events import drag_and_drop, drag_enter, drag_leave, url_mime


def _main_page_app(make_app, library, folders):
    # A pair exists, so the window shows the main page rather than the first-run screen.
    other = folders["alpha"].parent / "other"
    other.mkdir()
    add_conduit(library, folders["gamma"], other, "mirror")
    return make_app()


def test_folders_dropped_on_window_become_locations(qtbot, make_app, library, folders):
    app = _main_page_app(make_app, library, folders)
    w = app.window
    mime = url_mime(folders["alpha"], folders["beta"])
    drag_enter(w, mime)
    assert w.drop_hint.isVisible()  # the hint shows while dragging
    with qtbot.waitSignal(app.controller.locationsAdded, timeout=5000) as added:
        drag_and_drop(w, mime)
    assert not w.drop_hint.isVisible()
    assert sorted(Path(loc.path).name for loc in added.args[0]) == ["alpha", "beta"]
    qtbot.waitUntil(lambda: app.state.locations.rowCount() == 4)
    assert (folders["alpha"] / ".spacesync" / "location-id").exists()


def test_drag_leave_hides_the_hint(qtbot, make_app, library, folders):
    w = _main_page_app(make_app, library, folders).window
    drag_enter(w, url_mime(folders["alpha"]))
    assert w.drop_hint.isVisible()
    drag_leave(w)
    assert not w.drop_hint.isVisible()


def test_files_are_refused_with_a_message(qtbot, make_app, library, folders, prompt_log):
    app = _main_page_app(make_app, library, folders)
    before = len(list_locations(library))
    file = folders["alpha"] / "hello.txt"
    drag_and_drop(app.window, url_mime(file))
    qtbot.waitUntil(lambda: prompt_log.texts("warn") != [])
    assert prompt_log.texts("warn") == [
        "hello.txt is not a folder. SpaceSync syncs folders: drop the folder that holds them."
    ]
    assert len(list_locations(library)) == before


def test_non_local_drags_are_ignored(qtbot, make_app, library, folders):
    from PySide6.QtCore import QMimeData

    w = _main_page_app(make_app, library, folders).window
    mime = QMimeData()
    mime.setText("just text")
    assert not drag_enter(w, mime).isAccepted()


def test_drop_on_new_pair_area_opens_prefilled_editor(qtbot, make_app, library, folders):
    app = _main_page_app(make_app, library, folders)
    with qtbot.waitSignal(app.controller.editorOpened, timeout=5000) as opened:
        drag_and_drop(app.window.pair_zone, url_mime(folders["alpha"], folders["beta"]))
    editor: ConduitEditor = opened.args[0]
    assert editor.source.text() == str(folders["alpha"])
    assert editor.target.text() == str(folders["beta"])
    editor.reject()


def test_first_run_drop_zone_opens_the_editor(qtbot, make_app, folders):
    app = make_app()
    assert app.window.pages.currentWidget() is app.window.first_run
    with qtbot.waitSignal(app.controller.editorOpened, timeout=5000) as opened:
        drag_and_drop(app.window.first_run.drop_zone, url_mime(folders["alpha"]))
    assert opened.args[0].source.text() == str(folders["alpha"])
    assert opened.args[0].target.text() == ""
    opened.args[0].reject()


def test_dragging_a_location_onto_another_pairs_them(qtbot, make_app, library, folders):
    a = add_location(library, folders["alpha"])
    b = add_location(library, folders["beta"])
    app = _main_page_app(make_app, library, folders)
    view = app.window.locations_view
    app.window.resize(1100, 720)
    row_b = app.state.locations.row_of(b.id)
    pos = view.visualRect(app.state.locations.index(row_b, 0)).center()
    mime = url_mime(a.path)
    mime.setData(LOCATION_MIME, str(a.id).encode())
    with qtbot.waitSignal(app.controller.editorOpened, timeout=5000) as opened:
        drag_and_drop(view.viewport(), mime, pos)
    editor = opened.args[0]
    assert (editor.source.text(), editor.target.text()) == (a.path, b.path)
    editor.reject()


def test_folder_dropped_on_editor_slot_fills_it(qtbot, bridge, folders):
    editor = ConduitEditor(bridge)
    qtbot.addWidget(editor)
    drag_and_drop(editor.target, url_mime(folders["beta"]))
    assert editor.target.text() == str(folders["beta"])


def test_first_run_window_drop_opens_the_editor_too(qtbot, make_app, folders):
    app = make_app()
    drag_enter(app.window, url_mime(folders["alpha"]))
    assert app.window.drop_hint.text == "Drop folders to sync them"
    with qtbot.waitSignal(app.controller.editorOpened, timeout=5000) as opened:
        drag_and_drop(app.window, url_mime(folders["alpha"], folders["beta"]))
    editor = opened.args[0]
    assert (editor.source.text(), editor.target.text()) == (
        str(folders["alpha"]), str(folders["beta"]),
    )  # fmt: skip
    editor.mode.setCurrentIndex(editor.mode.findData("mirror"))
    qtbot.waitUntil(editor.ok_button.isEnabled, timeout=5000)
    with qtbot.waitSignal(app.state.reloaded, timeout=5000):
        editor.ok_button.click()
    qtbot.waitUntil(lambda: app.window.pages.currentWidget() is app.window.main_page)
    qtbot.waitUntil(lambda: app.window.selected_conduit() is not None)
    assert app.window.selected_conduit().mode == "mirror"
