"""`spacesync-gui` as a real process: log file, single instance, clean shutdown."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _launch(data_dir: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen(
        [sys.executable, "-m", "spacesync_gui", "--data-dir", str(data_dir), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_log(log: Path, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(encoding="utf-8") if log.exists() else ""
        if text in content:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {log}:\n{content}")


@pytest.mark.skipif(sys.platform.startswith("win"), reason="SIGTERM semantics")
def test_single_instance_and_clean_shutdown(tmp_path):
    data = tmp_path / "data"
    log = data / "spacesync-gui.log"
    first = _launch(data, "--minimized")
    try:
        _wait_for_log(log, "Sync engine started")
        second = _launch(data)
        assert second.wait(timeout=30) == 0
        _wait_for_log(log, "another launch asked for the window")
        started = time.monotonic()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert "SpaceSync stopped" in log.read_text(encoding="utf-8")
    finally:
        if first.poll() is None:
            first.kill()


def test_bad_data_dir_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "spacesync_gui", "--data-dir", str(blocker / "data")],
        cwd=ROOT,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("spacesync-gui: cannot use data dir")
    assert "Traceback" not in result.stderr


def test_importing_the_entry_point_runs_nothing():
    code = (
        "import sys, spacesync_gui.__main__ as m; "
        "print(callable(m.main), any(k.startswith('PySide6') for k in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert out.stdout.split() == ["True", "False"]
