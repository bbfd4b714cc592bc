"""GUI fixtures: one qasync loop for the session, a bridge over a real library."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync

from spacesync_gui.ui import prompts


@pytest.fixture(scope="session")
def qloop(qapp) -> Iterator[asyncio.AbstractEventLoop]:
    """The app's loop shape: qasync over the running Qt loop (pytest-qt spins it)."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    loop.stop()
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def _cancel_leftover_tasks(qloop, qapp) -> Iterator[None]:
    yield
    tasks = asyncio.all_tasks(qloop)
    for task in tasks:
        task.cancel()
    # Let the cancellations run so no task is collected while still pending.
    deadline = time.monotonic() + 2
    while any(not t.done() for t in tasks) and time.monotonic() < deadline:
        qapp.processEvents()


class PromptLog:
    """Stands in for every dialog; records what would have been shown."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.confirm_answer = True
        self.folder: str | None = None

    def confirm(self, parent, title, text, *, ok="OK") -> bool:
        self.messages.append(("confirm", title, text))
        return self.confirm_answer

    def inform(self, parent, title, text) -> None:
        self.messages.append(("inform", title, text))

    def warn(self, parent, title, text) -> None:
        self.messages.append(("warn", title, text))

    def choose_folder(self, parent, title, start="") -> str | None:
        return self.folder

    def texts(self, kind: str | None = None) -> list[str]:
        return [t for k, _, t in self.messages if kind is None or k == kind]


@pytest.fixture(autouse=True)
def prompt_log(monkeypatch: pytest.MonkeyPatch) -> PromptLog:
    log = PromptLog()
    for name in ("confirm", "inform", "warn", "choose_folder"):
        monkeypatch.setattr(prompts, name, getattr(log, name))
    return log


def no_runtime(lib, emit):
    return None


@pytest.fixture
def bridge(qloop, library, qtbot):
    from spacesync_gui.ui.bridge import EngineBridge

    b = EngineBridge(library, no_runtime, interval_ms=20)
    yield b
    b.shutdown()


@pytest.fixture
def state(bridge, qtbot):
    from spacesync_gui.ui.state import AppState

    s = AppState(bridge)
    with qtbot.waitSignal(s.reloaded, timeout=5000):
        s.request_reload()
    return s


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("alpha", "beta", "gamma"):
        d = tmp_path / name
        d.mkdir()
        (d / "hello.txt").write_text(f"hello from {name}\n")
        out[name] = d
    return out


@pytest.fixture
def aio(qtbot, qloop):
    """Run a coroutine on the qasync loop while pytest-qt spins Qt; return its result."""

    def run(coro, timeout: int = 10_000):
        task = asyncio.ensure_future(coro)
        qtbot.waitUntil(task.done, timeout=timeout)
        return task.result()

    return run


def wait_task(qtbot, task, timeout: int = 10_000):
    """Wait for the Task an async slot returned (when called directly)."""
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def real_runtime(lib, emit):
    """The engine runtime in a thread, with a short quiet time so tests stay quick (the
    app itself runs it in a child process: make_app(runtime="process"))."""
    from spacesync_gui.engine.runtime import EngineRuntime

    return EngineRuntime(lib, emit, watch=False)


@pytest.fixture
def make_app(qtbot, qloop, library):
    """Build the whole app (window, tray logic, controller) over the test library."""
    from spacesync_gui.ui.app import SpaceSyncApp
    from spacesync_gui.ui.settings import AppSettings, Autostart

    apps = []

    def make(*, runtime: bool | str = False, tray: bool = False, settings=None):
        """runtime: False (none), True (engine thread, quick), "process" (as the app runs)."""
        from spacesync_gui.ui.bridge import default_runtime_factory

        factory = {False: no_runtime, True: real_runtime, "process": default_runtime_factory}
        app = SpaceSyncApp(
            library,
            settings or AppSettings(),
            runtime_factory=factory[runtime],
            tray_available=tray,
            autostart=Autostart("linux"),
        )
        apps.append(app)
        qtbot.addWidget(app.window)
        with qtbot.waitSignal(app.state.reloaded, timeout=5000):
            app.start()
        qtbot.waitUntil(app.engine_task.done, timeout=5000)
        if runtime:
            assert app.bridge.runtime is not None
        return app

    yield make
    for app in apps:
        app.shutdown()
    gc.unfreeze()  # the app froze what existed at its start; the test process goes on
