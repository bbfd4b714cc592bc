from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.history import list_generations
from spacesync_gui.ui.models import GenerationsModel

from .records import add_generation


def test_rows_roles_and_new_runs_on_top(qtbot, library, folders):
    c = add_conduit(library, folders["alpha"], folders["beta"], "mirror")
    add_generation(library, c.id, copied=3, bytes=3000, verified=True)
    add_generation(
        library,
        c.id,
        status="failed",
        errors=1,
        error_details=[{"path": "x.txt", "message": "permission denied"}],
    )
    model = GenerationsModel()
    model.show(c.id, list_generations(library, c.id))
    assert model.rowCount() == 2
    assert model.index(0, model.STATUS).data() == "Failed"
    assert "x.txt: permission denied" in model.index(0, model.ERRORS).data(0x03)
    assert model.index(1, model.STATUS).data() == "Completed ✓"
    assert model.index(1, model.COPIED).data() == "3"
    assert model.index(1, model.BYTES).data() == "3.0 KB"
    assert model.index(1, model.DURATION).data() == "0:05"

    inserted = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    newest = add_generation(library, c.id, copied=1)
    model.show(c.id, list_generations(library, c.id))
    assert inserted == [(0, 0)]
    assert model.row_at(0).id == newest


def test_switching_conduit_resets(qtbot, library, folders):
    c1 = add_conduit(library, folders["alpha"], folders["beta"], "mirror")
    other = folders["alpha"].parent / "other"
    other.mkdir()
    c2 = add_conduit(library, folders["gamma"], other, "mirror")
    add_generation(library, c1.id)
    model = GenerationsModel()
    model.show(c1.id, list_generations(library, c1.id))
    with qtbot.waitSignal(model.modelReset):
        model.show(c2.id, list_generations(library, c2.id))
    assert model.rowCount() == 0
    assert model.conduit_id == c2.id
