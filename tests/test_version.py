"""The version users see is the one the package is built with."""

from __future__ import annotations

import tomllib
from pathlib import Path

import spacesync_gui
from spacesync_gui.cli import main


def test_version_matches_pyproject(capsys) -> None:
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert spacesync_gui.__version__ == project["project"]["version"]
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out.strip() == f"spacesync {project['project']['version']}"
