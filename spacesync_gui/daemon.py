"""`spacesync daemon`: the engine loop without a window (servers, tests, headless use).

Logs to stderr and to `spacesync.log` in the data dir; SIGTERM or SIGINT stops it within
a few seconds, finishing or safely abandoning the current item.
"""

from __future__ import annotations

import logging
import logging.handlers
import signal
import threading
from pathlib import Path

from .engine import forked_copies
from .engine.db import open_library
from .engine.events import EngineWarning, Event, RunFinished
from .engine.runtime import EngineRuntime

log = logging.getLogger("spacesync.daemon")
LOG_NAME = "spacesync.log"


def setup_logging(data_dir: Path, to_stderr: bool = True) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOG_NAME
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(fmt)
    root.addHandler(handler)
    if to_stderr:
        err = logging.StreamHandler()
        err.setFormatter(fmt)
        root.addHandler(err)
    return path


def _log_event(ev: Event) -> None:
    if isinstance(ev, RunFinished):
        s = ev.summary
        log.info(
            "conduit %s finished: %s, %s copied, %s deleted, %s moved, %s conflicts%s",
            ev.conduit_id,
            ev.status,
            s.get("copied"),
            s.get("deleted"),
            s.get("moved"),
            s.get("conflicts"),
            f" ({s.get('reason')})" if s.get("reason") else "",
        )
    elif isinstance(ev, EngineWarning):
        log.warning("%s", ev.message)


def run_daemon(data_dir: Path, *, polling: bool = False) -> int:
    # Remove the CLI's plain stderr handler; the daemon logs with timestamps.
    for h in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(h)
    log_path = setup_logging(data_dir)
    lib = open_library(data_dir)
    # Before the runtime starts threads (fork is safe now): forks copy workers and scans.
    forked_copies.start_helper(lib=lib)
    runtime = EngineRuntime(lib, _log_event, polling=polling)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("daemon started (library %s, log %s)", data_dir, log_path)
    runtime.start()
    while not stop.wait(1.0):
        pass
    runtime.stop(timeout=5.0)
    forked_copies.stop_helper()
    lib.close()
    log.info("daemon stopped")
    return 0
