from spacesync_gui.ui.models import PlanFilterModel, PlanModel

LISTING = [
    {"action": "mkdir", "path": "photos", "side": "target"},
    {"action": "copy", "path": "photos/a.jpg", "side": "target"},
    {"action": "copy", "path": "notes.txt", "side": "source"},
    {"action": "move", "path": "new/b.txt", "side": "target", "from": "old/b.txt"},
    {"action": "delete", "path": "old.txt", "side": "target"},
    {"action": "conflict", "path": "both.txt", "kind": "both-modified"},
]


def test_rows_counts_and_filters(qtbot):
    model = PlanModel()
    model.load(LISTING)
    assert model.rowCount() == 6
    assert model.counts()["copy"] == 2
    assert model.index(3, model.PATH).data() == "old/b.txt → new/b.txt"
    assert model.index(1, model.SIDE).data() == "on target"
    assert model.index(5, model.SIDE).data() == "both sides"
    assert model.index(5, model.ACTION).data() == "Conflict"

    proxy = PlanFilterModel()
    proxy.setSourceModel(model)
    proxy.set_action("copy")
    assert proxy.rowCount() == 2
    proxy.set_text("PHOTOS")
    assert proxy.rowCount() == 1
    proxy.set_action(None)
    assert proxy.rowCount() == 2  # the mkdir and the copy below photos
    proxy.set_text("old/")
    assert proxy.rowCount() == 1  # the move, by its old path
