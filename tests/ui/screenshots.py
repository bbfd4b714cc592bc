"""Take the README screenshots from the real app: `python -m tests.ui.screenshots [OUT_DIR]`.

Builds real folders and a real library in a temp dir, runs real syncs through the engine
runtime (one throttled so it is caught mid-run with its progress bar), then grabs the main
window, the conduit editor and the conflict dialog. Run it under Xvfb for the native
style (`xvfb-run -a python -m tests.ui.screenshots docs`); offscreen works too.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget


def _write(root: Path, rel: str, data: bytes | str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        p.write_text(data)
    else:
        p.write_bytes(data)


def _wait(app: QApplication, until, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("screenshot scenario stalled")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def _pause(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def _save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print("wrote", path)


def make_folders(base: Path) -> dict[str, Path]:
    rnd = random.Random(7)
    home = base / "home"
    d = {
        "docs": home / "Documents",
        "backup": base / "media" / "Backup" / "Documents",
        "photos": home / "Pictures",
        "nas": base / "mnt" / "nas" / "Pictures",
        "projects": home / "Projects",
        "laptop": base / "mnt" / "laptop" / "Projects",
        "music": home / "Music",
        "music_backup": base / "media" / "Backup" / "Music",
    }
    for p in d.values():
        p.mkdir(parents=True)
    for i in range(40):
        _write(d["docs"], f"letters/letter-{i:02d}.txt", f"Dear reader #{i}\n" * 40)
    _write(d["docs"], "taxes/2025.pdf", os.urandom(180_000))
    for i in range(24):
        _write(d["photos"], f"2026/trip/IMG_{4100 + i}.jpg", rnd.randbytes(1_200_000))
    _write(d["projects"], "README.md", "# Garden planner\n\nPlant tomatoes in May.\n")
    _write(
        d["laptop"], "README.md", "# Garden planner\n\nPlant tomatoes in April,\nbasil in May.\n"
    )
    _write(d["projects"], "notes/ideas.txt", "- raised beds\n- drip irrigation\n")
    _write(d["laptop"], "notes/ideas.txt", "- raised beds\n- compost bin\n- rain barrel\n")
    _write(d["projects"], "src/plan.py", "print('plan')\n")
    for album in ("Blue Train", "Kind of Blue", "Head Hunters"):
        for n in range(1, 6):
            _write(d["music"], f"{album}/{n:02d} Track {n}.flac", rnd.randbytes(2000))
    _write(d["music_backup"], "Kind of Blue/05 Track 5.flac", b"old rip")
    _write(d["music_backup"], "Old Playlist.m3u", "#EXTM3U\n")
    _write(d["music_backup"], "Blue Train/02 Track 2.flac", b"")
    return d


def main(out_dir: str = "docs") -> int:
    os.environ.setdefault("QT_API", "pyside6")
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="spacesync-shots-"))
    os.environ["HOME"] = str(base / "home")
    os.environ["XDG_CONFIG_HOME"] = str(base / "home" / ".config")

    import logging

    import qasync

    from spacesync_gui.ui import prompts

    logging.basicConfig(level=logging.INFO, format="%(threadName)s %(name)s: %(message)s")
    # A dialog would wait for a click that never comes: print instead.
    prompts.warn = lambda _parent, title, text: print(f"[{title}] {text}")  # type: ignore[assignment]

    from spacesync_gui.engine.conduits import add_conduit
    from spacesync_gui.engine.db import open_library
    from spacesync_gui.engine.runtime import EngineRuntime
    from spacesync_gui.ui.app import SpaceSyncApp
    from spacesync_gui.ui.icons import app_icon
    from spacesync_gui.ui.settings import AppSettings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("SpaceSync")
    app.setWindowIcon(app_icon())
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)

    f = make_folders(base)
    lib = open_library(base / "data")

    def runtime(lib_, emit):
        return EngineRuntime(lib_, emit, watch=False)

    gui = SpaceSyncApp(lib, AppSettings(), runtime_factory=runtime, tray_available=False)
    gui.window.resize(1280, 760)
    gui.start()
    _wait(app, lambda: gui.engine_task is not None and gui.engine_task.done())
    _wait(app, lambda: gui.state.loaded)
    _pause(app, 0.3)
    _save(gui.window, out / "first-run.png")

    docs = add_conduit(lib, f["docs"], f["backup"], "mirror", name="Documents backup",
                       schedule="interval:1h")  # fmt: skip
    photos = add_conduit(lib, f["photos"], f["nas"], "bidirectional", name="Photos ↔ NAS",
                         schedule="manual", bwlimit=2.0, transfers=1)  # fmt: skip
    projects = add_conduit(lib, f["projects"], f["laptop"], "bidirectional",
                           name="Garden planner", schedule="instant")  # fmt: skip
    gui.bridge.submit(gui.bridge.runtime.reload)
    gui.state.request_reload()
    _wait(app, lambda: gui.state.conduits.rowCount() == 3)

    # Real runs: the backup completes, the project pair finds conflicts.
    finished: list[int] = []
    gui.bridge.runFinished.connect(lambda ev: finished.append(ev.conduit_id))
    gui.controller.sync_now(docs.id)
    _wait(app, lambda: docs.id in finished)
    gui.controller.sync_now(docs.id)  # a second, no-op run for the history
    _wait(app, lambda: finished.count(docs.id) >= 2)
    gui.controller.sync_now(projects.id)
    _wait(app, lambda: projects.id in finished)
    _wait(app, lambda: len(gui.state.conflicts) == 2)
    gui.window.select_conduit(docs.id)
    _wait(app, lambda: gui.window.history.rowCount() >= 2)
    gui.window.tabs.setCurrentIndex(0)
    # The photo pair is throttled, so it is caught mid-run.
    gui.controller.sync_now(photos.id)
    _wait(app, lambda: (p := gui.state.conduits.live(photos.id).progress) is not None
          and p.bytes_done >= p.bytes_total * 0.3, timeout=60)  # fmt: skip
    _pause(app, 0.3)
    _save(gui.window, out / "main-window.png")

    editor = gui.controller.edit_conduit(projects.id)
    assert editor is not None
    editor.ignore.setPlainText("*.tmp\n__pycache__/\n.venv/")
    editor.keep_days.setValue(90)
    _wait(app, lambda: editor.valid)
    editor.adjustSize()
    _pause(app, 0.3)
    _save(editor, out / "conduit-editor.png")
    editor.reject()

    dialog = gui.controller.open_conflicts()
    _wait(app, lambda: dialog.model.rowCount() == 2)
    readme = next(c for c in dialog.model.rows() if c.path == "README.md")
    dialog.table.selectRow(dialog.model.row_of(readme.id))
    dialog.choose(readme.id, "target")
    _wait(app, lambda: "April" in dialog.target_pane.text.toPlainText())
    _pause(app, 0.3)
    _save(dialog, out / "conflict-dialog.png")
    dialog.reject()

    music = add_conduit(lib, f["music"], f["music_backup"], "mirror", name="Music")
    gui.state.request_reload()
    _wait(app, lambda: gui.state.conduits.rowCount() == 4)
    preview = gui.controller.preview(music.id)
    _wait(app, lambda: preview.report is not None)
    _save(preview, out / "preview.png")
    preview.reject()

    QTimer.singleShot(0, lambda: None)
    gui.shutdown()
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
