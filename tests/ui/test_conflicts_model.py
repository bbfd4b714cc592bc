import pytest

from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.history import list_conflicts
from spacesync_gui.ui.models import ConflictsModel

from .records import add_conflict


def test_rows_choices_and_apply_to_all(qtbot, library, folders):
    c = add_conduit(library, folders["alpha"], folders["beta"], "bidirectional", name="Two")
    a = add_conflict(library, c.id, "notes.txt")
    b = add_conflict(library, c.id, "gone.txt", "modify-delete", target=None)
    model = ConflictsModel()
    model.conduit_names = {c.id: "Two"}
    model.set_rows(list_conflicts(library))
    assert model.rowCount() == 2
    assert model.index(0, model.PATH).data() == "notes.txt"
    assert model.index(0, model.CONDUIT).data() == "Two"
    assert model.index(1, model.KIND).data().startswith("Changed on one side")
    assert model.index(1, model.TARGET).data() == "deleted"
    assert model.index(0, model.SOURCE).data().startswith("10 B, ")
    assert model.index(0, model.CHOICE).data() == "Decide later"
    assert model.decisions() == []

    with qtbot.waitSignal(model.dataChanged):
        model.set_choice(a, "target")
    assert model.index(0, model.CHOICE).data() == "Keep target"
    assert [(ci.id, ch) for ci, ch in model.decisions()] == [(a, "target")]
    model.set_all("both")
    assert [(ci.id, ch) for ci, ch in model.decisions()] == [(a, "both"), (b, "both")]
    with pytest.raises(ValueError):
        model.set_choice(a, "nonsense")
    model.remove(a)
    assert model.rowCount() == 1
