from spacesync_gui.ui.models import ActivityModel
from spacesync_gui.ui.models.activity import LevelRole


def test_bounded_log(qtbot):
    model = ActivityModel(limit=5)
    model.add("one")
    model.extend([(f"line {i}", "info") for i in range(7)])
    assert model.rowCount() == 5
    assert [ln.text for ln in model.lines()] == [f"line {i}" for i in range(2, 7)]
    model.add("bad", "error")
    assert model.rowCount() == 5
    assert model.index(4).data(LevelRole) == "error"
    assert model.index(4).data().endswith("  bad")
