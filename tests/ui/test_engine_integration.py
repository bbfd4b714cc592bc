"""The GUI over the real engine runtime, real folders and a real library."""

from pathlib import Path

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.history import list_conflicts
from spacesync_gui.ui.conduit_editor import ConduitEditor
from spacesync_gui.ui.conflict_dialog import ConflictDialog
from spacesync_gui.ui.preview_dialog import PreviewDialog

from .conftest import wait_task


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_sync_now_from_the_toolbar(qtbot, make_app, library, folders):
    _write(folders["alpha"], "docs/report.txt", "quarterly numbers\n")
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    app = make_app(runtime=True)
    w = app.window
    assert w.sync_action.isEnabled()
    started = []
    app.bridge.runStarted.connect(started.append)
    with qtbot.waitSignal(app.bridge.runFinished, timeout=15_000) as done:
        w.sync_action.trigger()
    assert done.args[0].status == "completed"
    assert started == [c.id]
    assert (folders["beta"] / "docs" / "report.txt").read_text() == "quarterly numbers\n"
    model = app.state.conduits
    qtbot.waitUntil(lambda: model.index(0, model.STATUS).data() == "In sync", timeout=5000)
    qtbot.waitUntil(lambda: w.history.rowCount() == 1, timeout=5000)
    assert w.history.index(0, w.history.COPIED).data() == "2"  # report.txt, hello.txt
    assert any("Docs: 2 copied" in ln.text for ln in app.state.activity.lines())


def test_the_app_runs_its_engine_in_a_child_process(qtbot, make_app, library, folders):
    _write(folders["alpha"], "docs/report.txt", "quarterly numbers\n")
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    app = make_app(runtime="process")
    qtbot.waitUntil(lambda: app.bridge.runtime is not None, timeout=60_000)
    child = app.bridge.runtime._proc
    assert child is not None and child.is_alive()
    with qtbot.waitSignal(app.bridge.runFinished, timeout=30_000) as done:
        app.window.sync_action.trigger()
    assert (done.args[0].conduit_id, done.args[0].status) == (c.id, "completed")
    assert (folders["beta"] / "docs" / "report.txt").read_text() == "quarterly numbers\n"
    with qtbot.waitSignal(app.bridge.scanProgress, timeout=30_000):
        wait_task(qtbot, app.controller.rescan_location(c.source_location_id), timeout=30_000)
    app.shutdown()
    assert not child.is_alive()


def test_editor_preview_shows_the_engine_plan(qtbot, make_app, library, folders):
    _write(folders["alpha"], "a.txt", "A")
    _write(folders["alpha"], "photos/b.jpg", "B")
    _write(folders["beta"], "old.txt", "only on the target")
    app = make_app(runtime=True)
    editor: ConduitEditor = app.controller.new_conduit(str(folders["alpha"]), str(folders["beta"]))
    editor.mode.setCurrentIndex(editor.mode.findData("mirror"))
    qtbot.waitUntil(lambda: editor.preview_button.isEnabled(), timeout=5000)
    with qtbot.waitSignal(app.controller.previewOpened, timeout=5000) as opened:
        editor.preview_button.click()
    preview: PreviewDialog = opened.args[0]
    qtbot.waitUntil(lambda: preview.report is not None, timeout=15_000)
    counts = preview.model.counts()
    # beta's own hello.txt goes (mirror), alpha's files and folders come over.
    assert counts["copy"] == 3 and counts["delete"] == 1 and counts["mkdir"] == 1
    paths = {(item.action, item.path) for item in preview.model.rows()}
    assert ("copy", "photos/b.jpg") in paths and ("delete", "old.txt") in paths
    assert "Nothing has been changed yet." in preview.summary.text()
    preview.action_filter.setCurrentIndex(preview.action_filter.findData("delete"))
    assert preview.proxy.rowCount() == 1
    assert (folders["beta"] / "old.txt").exists()  # a preview changes nothing
    assert not (folders["beta"] / "a.txt").exists()

    with qtbot.waitSignal(editor.saved, timeout=5000) as saved:
        editor.ok_button.click()
    assert not saved.args[0].paused  # the draft is live once the user says OK


def _conflicted(library, folders):
    for name, text in (("same.txt", "shared\n"), ("notes.txt", "from alpha\n")):
        _write(folders["alpha"], name, text)
    for name, text in (("same.txt", "shared\n"), ("notes.txt", "from beta, longer\n")):
        _write(folders["beta"], name, text)
    _write(folders["alpha"], "todo.md", "alpha todo\n")
    _write(folders["beta"], "todo.md", "beta todo\n")
    return add_conduit(library, folders["alpha"], folders["beta"], "bidirectional", name="Two")


def test_conflict_dialog_choices_reach_the_engine(qtbot, make_app, library, folders):
    c = _conflicted(library, folders)
    app = make_app(runtime=True)
    with qtbot.waitSignal(app.bridge.runFinished, timeout=15_000):
        wait_task(qtbot, app.controller.sync_now(c.id), timeout=15_000)
    qtbot.waitUntil(lambda: len(app.state.conflicts) == 3, timeout=5000)
    assert app.window.conflicts_action.text() == "⚠ 3 conflicts"
    assert app.state.overall() == "conflicts"

    with qtbot.waitSignal(app.controller.conflictsOpened, timeout=5000) as opened:
        app.window.conflicts_action.trigger()
    dialog: ConflictDialog = opened.args[0]
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 3, timeout=5000)
    by_path = {ci.path: ci for ci in dialog.model.rows()}
    # Both versions side by side, with a text preview.
    dialog.table.selectRow(dialog.model.row_of(by_path["notes.txt"].id))
    qtbot.waitUntil(lambda: "from beta" in dialog.target_pane.text.toPlainText(), timeout=5000)
    assert "from alpha" in dialog.source_pane.text.toPlainText()

    dialog.choose(by_path["notes.txt"].id, "target")
    dialog.choose(by_path["todo.md"].id, "both")
    # hello.txt (different in each fixture folder) stays on "Decide later".
    assert set(by_path) == {"hello.txt", "notes.txt", "todo.md"}
    with qtbot.waitSignal(dialog.applied, timeout=20_000) as applied:
        dialog.apply_button.click()
    assert applied.args == [2, 0]
    assert (folders["alpha"] / "notes.txt").read_text() == "from beta, longer\n"
    assert (folders["beta"] / "notes.txt").read_text() == "from beta, longer\n"
    todo_copies = sorted(p.name for p in folders["alpha"].glob("todo*.md"))
    assert len(todo_copies) == 2  # keep both: the target's version renamed beside it
    assert [ci.path for ci in list_conflicts(library)] == ["hello.txt"]
    qtbot.waitUntil(lambda: len(app.state.conflicts) == 1, timeout=5000)
    assert dialog.model.rowCount() == 1  # what is left to decide


def test_shutdown_during_a_run_is_quick_and_safe(qtbot, make_app, library, folders):
    import os
    import time

    (folders["alpha"] / "big").mkdir()
    for i in range(6):
        (folders["alpha"] / "big" / f"{i}.bin").write_bytes(os.urandom(1_000_000))
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", bwlimit=1.0)
    app = make_app(runtime=True)
    with qtbot.waitSignal(app.bridge.progress, timeout=15_000):
        app.controller.sync_now(c.id)
    started = time.monotonic()
    app.shutdown()
    assert time.monotonic() - started < 6
    # Whatever was interrupted left no partial file under a real name.
    for p in folders["beta"].glob("big/*.bin"):
        assert p.stat().st_size == 1_000_000


def test_refused_run_can_be_forced_after_confirming(qtbot, make_app, library, folders, prompt_log):
    for i in range(20):
        _write(folders["alpha"], f"f{i:02d}.txt", str(i))
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror", name="Docs")
    app = make_app(runtime=True)
    with qtbot.waitSignal(app.bridge.runFinished, timeout=15_000):
        app.controller.sync_now(c.id)
    for i in range(15):
        (folders["alpha"] / f"f{i:02d}.txt").unlink()
    with qtbot.waitSignal(app.bridge.runFinished, timeout=15_000) as refused:
        app.controller.sync_now(c.id)
    assert refused.args[0].status == "refused"
    assert (folders["beta"] / "f00.txt").exists()  # nothing changed

    preview = app.controller.preview(c.id)
    qtbot.waitUntil(lambda: preview.report is not None, timeout=15_000)
    assert preview.summary.text().startswith("A sync would be refused")
    assert preview.sync_button.text() == "Sync anyway…"

    prompt_log.confirm_answer = False
    wait_task(qtbot, app.controller.force_sync(c.id))
    assert (folders["beta"] / "f00.txt").exists()
    prompt_log.confirm_answer = True

    def real_run(ev) -> bool:  # the preview's own (dry) RunFinished may still be queued
        return not ev.summary.get("dry_run")

    with qtbot.waitSignal(
        app.bridge.runFinished, timeout=15_000, check_params_cb=real_run
    ) as forced:
        preview.sync_button.click()
    assert forced.args[0].status == "completed"
    assert not (folders["beta"] / "f00.txt").exists()
    assert prompt_log.texts("confirm")[-1].startswith("SpaceSync stopped Docs")


def test_scan_now_updates_the_folder_list(qtbot, make_app, library, folders):
    from spacesync_gui.engine.locations import add_location

    loc = add_location(library, folders["alpha"])
    app = make_app(runtime=True)
    qtbot.waitUntil(lambda: app.state.locations.find(loc.id).files == 1, timeout=10_000)
    for i in range(3):
        _write(folders["alpha"], f"new{i}.txt", "x")
    assert app.window.location_menu(loc.id).actions()[1].isEnabled()
    wait_task(qtbot, app.controller.rescan_location(loc.id), timeout=10_000)
    qtbot.waitUntil(lambda: app.state.locations.find(loc.id).files == 4, timeout=10_000)
