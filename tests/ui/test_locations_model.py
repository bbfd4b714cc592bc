from spacesync_gui.engine.events import ScanProgress
from spacesync_gui.engine.locations import add_location, list_locations
from spacesync_gui.ui.models import LocationsModel
from spacesync_gui.ui.models.table import KeyRole, RowRole


def test_rows_and_roles(qtbot, library, folders):
    a = add_location(library, folders["alpha"])
    add_location(library, folders["beta"])
    model = LocationsModel()
    model.set_rows(list_locations(library))
    assert model.rowCount() == 2
    assert model.columnCount() == 5
    assert model.index(0, model.NAME).data() == f"…/{folders['alpha'].parent.name}/alpha"
    assert model.index(0, model.NAME).data(0x03) == str(folders["alpha"].resolve())  # tooltip
    assert model.index(0, model.STATE).data() == "Online"
    assert model.index(0, model.FILES).data() == "0"
    assert model.index(0, 0).data(KeyRole) == a.id
    assert model.index(0, 0).data(RowRole).path == a.path


def test_reload_merges_and_announces_only_changed_rows(qtbot, library, folders):
    add_location(library, folders["alpha"])
    add_location(library, folders["beta"])
    model = LocationsModel()
    model.set_rows(list_locations(library))
    changed = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    model.modelReset.connect(lambda: changed.append("reset"))
    rows = list_locations(library)
    import dataclasses

    rows[1] = dataclasses.replace(rows[1], files=42, bytes=4200)
    model.set_rows(rows)
    assert changed == [(1, 1)]
    assert model.index(1, model.FILES).data() == "42"
    assert model.index(1, model.SIZE).data() == "4.2 KB"


def test_scan_progress_and_state_events(qtbot, library, folders):
    loc = add_location(library, folders["alpha"])
    model = LocationsModel()
    model.set_rows(list_locations(library))
    with qtbot.waitSignal(model.dataChanged):
        model.apply_scan(ScanProgress(loc.id, 1234, 10, 5, 5))
    assert model.index(0, model.STATE).data() == "Scanning… 1,234 files"
    # Another process scans part of it at the same time: at least that many.
    model.apply_scan(ScanProgress(loc.id, 1500, 10, 5, 5, shared=True))
    assert model.index(0, model.STATE).data() == "Scanning… 1,500+ files"
    model.apply_scan(ScanProgress(loc.id, 1234, 10, 5, 5, done=True))
    assert model.index(0, model.STATE).data() == "Online"
    model.apply_state(loc.id, "offline")
    assert model.index(0, model.STATE).data().startswith("Offline")


def test_removed_location_disappears(qtbot, library, folders):
    add_location(library, folders["alpha"])
    b = add_location(library, folders["beta"])
    model = LocationsModel()
    model.set_rows(list_locations(library))
    model.set_rows([r for r in list_locations(library) if r.id != b.id])
    assert model.rowCount() == 1
    assert model.row_of(b.id) == -1
