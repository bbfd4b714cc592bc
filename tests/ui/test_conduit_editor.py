from spacesync_gui.engine.conduits import add_conduit, get_conduit, list_conduits
from spacesync_gui.engine.locations import list_locations
from spacesync_gui.ui.conduit_editor import ConduitEditor
from spacesync_gui.ui.settings import ConduitDefaults


def _editor(qtbot, bridge, **kw) -> ConduitEditor:
    editor = ConduitEditor(bridge, **kw)
    qtbot.addWidget(editor)
    editor.show()
    return editor


def _settle(qtbot, editor) -> str:
    """Wait for the validation of the current values; return its message."""
    with qtbot.waitSignal(editor.validated, timeout=5000) as sig:
        pass
    return sig.args[0]


def test_validation_as_the_user_types(qtbot, bridge, folders):
    editor = _editor(qtbot, bridge)
    assert _settle(qtbot, editor) == "Choose the source folder."
    assert not editor.ok_button.isEnabled()
    assert not editor.preview_button.isEnabled()

    editor.source.setText(str(folders["alpha"]))
    assert _settle(qtbot, editor) == "Choose the target folder."

    editor.target.setText(str(folders["alpha"] / "hello.txt"))
    msg = _settle(qtbot, editor)
    assert msg.startswith("Target ") and msg.endswith("is a file, not a folder")
    assert editor.message.text() == msg

    editor.target.setText(str(folders["alpha"]))
    assert _settle(qtbot, editor).startswith("Source and target are the same folder")

    editor.target.setText(str(folders["beta"]))
    assert _settle(qtbot, editor) == ""
    assert editor.ok_button.isEnabled() and editor.preview_button.isEnabled()
    assert editor.values().name == "alpha → beta"

    editor.ignore.setPlainText("*.tmp\n[unclosed")
    assert "pattern" in _settle(qtbot, editor).lower()
    assert not editor.ok_button.isEnabled()
    editor.ignore.setPlainText("*.tmp")
    assert _settle(qtbot, editor) == ""


def test_ok_disabled_while_a_check_is_pending(qtbot, bridge, folders):
    editor = _editor(qtbot, bridge, source=str(folders["alpha"]), target=str(folders["beta"]))
    assert _settle(qtbot, editor) == ""
    editor.name.setText("Renamed")
    assert not editor.ok_button.isEnabled()  # until the new values are checked
    assert _settle(qtbot, editor) == ""
    assert editor.ok_button.isEnabled()


def test_mode_and_deletion_choices_enable_their_options(qtbot, bridge, folders):
    editor = _editor(qtbot, bridge, defaults=ConduitDefaults(mode="mirror"))
    assert not editor.conflict.isEnabled()
    editor.mode.setCurrentIndex(editor.mode.findData("bidirectional"))
    assert editor.conflict.isEnabled()
    editor.deletes.setCurrentIndex(editor.deletes.findData("trash"))
    assert not editor.keep_days.isEnabled()


def test_create_saves_every_setting(qtbot, bridge, library, folders):
    editor = _editor(qtbot, bridge, source=str(folders["alpha"]), target=str(folders["beta"]))
    editor.name.setText("Photos")
    editor.mode.setCurrentIndex(editor.mode.findData("bidirectional"))
    editor.schedule.setValue("interval:2h")
    editor.conflict.setCurrentIndex(editor.conflict.findData("newest"))
    editor.deletes.setCurrentIndex(editor.deletes.findData("versioning"))
    editor.keep_days.setValue(14)
    editor.keep_count.setValue(5)
    editor.ignore.setPlainText("*.tmp\nbuild/\n")
    editor.transfers.setValue(8)
    editor.bwlimit.setValue(2.5)
    assert _settle(qtbot, editor) == ""
    with qtbot.waitSignal(editor.saved, timeout=5000) as saved:
        editor.ok_button.click()
    c = saved.args[0]
    assert (c.name, c.mode, c.schedule, c.conflict, c.deletes) == (
        "Photos", "bidirectional", "interval:2h", "newest", "versioning",
    )  # fmt: skip
    assert (c.ignore, c.transfers, c.bwlimit) == (("*.tmp", "build/"), 8, 2.5)
    assert (c.keep_versions_days, c.keep_versions_count, c.paused) == (14, 5, False)
    assert [x.id for x in list_conduits(library)] == [c.id]


def test_edit_changes_and_clears_settings(qtbot, bridge, library, folders):
    c = add_conduit(
        library, folders["alpha"], folders["beta"], "mirror", name="Docs", bwlimit=5.0,
        keep_versions_days=3,
    )  # fmt: skip
    editor = _editor(qtbot, bridge, conduit=c)
    assert editor.source.edit.isReadOnly()
    assert editor.bwlimit.value() == 5.0
    editor.bwlimit.check.setChecked(False)
    editor.schedule.setValue("instant")
    assert _settle(qtbot, editor) == ""
    with qtbot.waitSignal(editor.saved, timeout=5000):
        editor.ok_button.click()
    after = get_conduit(library, c.id)
    assert (after.schedule, after.bwlimit, after.keep_versions_days) == ("instant", None, 3)


def test_cancel_after_preview_of_new_pair_takes_it_back(qtbot, bridge, library, folders):
    # Without an engine the preview itself fails, but the draft is saved and discarded.
    editor = _editor(qtbot, bridge, source=str(folders["alpha"]), target=str(folders["beta"]))
    assert _settle(qtbot, editor) == ""
    with qtbot.waitSignal(editor.previewRequested, timeout=5000) as req:
        editor.preview_button.click()
    draft = get_conduit(library, req.args[0])
    assert draft.paused  # never runs on its own before the user says OK
    editor.reject()
    qtbot.waitUntil(lambda: list_conduits(library) == [], timeout=5000)
    qtbot.waitUntil(lambda: list_locations(library) == [], timeout=5000)
