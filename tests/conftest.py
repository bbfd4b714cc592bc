"""Shared fixtures. Nothing a test does may touch the real home, trash or keyring."""

from __future__ import annotations

import os

# Before any Qt import anywhere in the suite.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """HOME and XDG_* point at temp folders; the keyring is an in-memory backend."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        d = home / sub
        d.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(d))
    (home / "run").chmod(0o700)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.memory_keyring.MemoryKeyring")
    monkeypatch.delenv("SPACESYNC_DATA_DIR", raising=False)
    yield home


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def library(data_dir: Path):
    from spacesync_gui.engine.db import open_library

    lib = open_library(data_dir)
    yield lib
    lib.close()


@pytest.fixture
def cli(data_dir: Path, capsys: pytest.CaptureFixture[str]):
    from tests.cli_helpers import Cli

    return Cli(data_dir, capsys)
