from spacesync_gui.engine.conduits import add_conduit, list_conduits
from spacesync_gui.engine.db import open_library
from spacesync_gui.ui.app import open_library_or_ask


def _damaged_library(data_dir, folders):
    lib = open_library(data_dir)
    add_conduit(lib, folders["alpha"], folders["beta"], "mirror", name="Docs")
    lib.close()
    (data_dir / "library.sqlite").write_bytes(b"this is not a database" * 100)
    for side in ("library.sqlite-wal", "library.sqlite-shm"):
        (data_dir / side).unlink(missing_ok=True)


def test_damaged_library_is_rebuilt_when_the_user_agrees(data_dir, folders, prompt_log):
    _damaged_library(data_dir, folders)
    lib = open_library_or_ask(data_dir)
    assert lib is not None
    try:
        assert [c.name for c in list_conduits(lib)] == ["Docs"]
    finally:
        lib.close()
    assert "Rebuild it now?" in prompt_log.texts("confirm")[0]
    assert list(data_dir.glob("library.sqlite.damaged-*"))


def test_damaged_library_is_kept_when_the_user_declines(data_dir, folders, prompt_log):
    _damaged_library(data_dir, folders)
    prompt_log.confirm_answer = False
    assert open_library_or_ask(data_dir) is None
    assert "damaged" in prompt_log.texts("warn")[0]
    assert not list(data_dir.glob("library.sqlite.damaged-*"))
