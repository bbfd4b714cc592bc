"""Worst GUI event-loop stall while the real app syncs a tree (SPEC 7: under 50 ms).

Runs the whole desktop app offscreen (window, state, bridge, and the engine in its own
process, as the app runs it), waits for its start-up scans of SOURCE and a fresh target,
starts a mirror sync of SOURCE into that folder, and measures how late a 5 ms QTimer fires
while the sync runs. Prints one JSON object.

    python bench/gui_stall.py SOURCE WORKDIR
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")


def main(source: Path, work: Path) -> dict[str, object]:
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from spacesync_gui.engine.conduits import add_conduit
    from spacesync_gui.engine.db import open_library
    from spacesync_gui.engine.process import EngineProcess
    from spacesync_gui.ui.app import SpaceSyncApp
    from spacesync_gui.ui.settings import AppSettings

    work.mkdir(parents=True, exist_ok=True)
    target = work / "target"
    target.mkdir()
    lib = open_library(work / "data")
    conduit = add_conduit(lib, source, target, "mirror")
    qapp = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    app = SpaceSyncApp(
        lib,
        AppSettings(),
        tray_available=False,
        runtime_factory=lambda lib, emit: EngineProcess(lib, emit, watch=False),
    )
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    async def run() -> dict[str, object]:
        # The app scans every location at start-up (the new conduit's two included): "sync
        # now" is clicked once those scans ended, so the run's time is the sync's alone.
        scanned: set[int] = set()
        both = {conduit.source_location_id, conduit.target_location_id}
        scans_done = asyncio.get_running_loop().create_future()

        def on_scan(ev: object) -> None:
            if getattr(ev, "done", False):
                scanned.add(ev.location_id)  # type: ignore[attr-defined]
                if both <= scanned and not scans_done.done():
                    scans_done.set_result(time.monotonic())

        app.bridge.scanProgress.connect(on_scan)
        launched = time.monotonic()
        app.start()
        assert app.engine_task is not None
        await app.engine_task
        scans_end = await asyncio.wait_for(scans_done, timeout=600)
        await asyncio.sleep(0.2)  # the window takes in the scans' last events
        done = asyncio.get_running_loop().create_future()
        app.bridge.runFinished.connect(lambda ev: done.done() or done.set_result(ev))
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(tick)
        last[0] = time.monotonic()
        timer.start()
        started = time.monotonic()
        await app.controller.sync_now(conduit.id)
        ev = await done
        seconds = time.monotonic() - started
        timer.stop()
        lateness = sorted(g - 0.005 for g in gaps)
        return {
            "status": ev.status,
            "copied": ev.summary.get("copied"),
            "seconds": round(seconds, 3),
            "start_up_scans_s": round(scans_end - launched, 3),
            "ticks": len(gaps),
            "worst_stall_ms": round(lateness[-1] * 1000, 1) if lateness else None,
            "p99_stall_ms": round(lateness[int(len(lateness) * 0.99)] * 1000, 1)
            if lateness
            else None,
        }

    with loop:
        result = loop.run_until_complete(run())
        app.shutdown()
    lib.close()
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
