"""The settings commands (conduits, listing and removing locations) work without
SQLAlchemy: each would otherwise spend ~0.2 s of its ~0.25 s importing it. A library they
create is the one the engine then syncs with. (`location add` indexes the new location,
so it is not one of them.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_helpers import run_subprocess

# Runs `spacesync ARGS` in this interpreter with SQLAlchemy made unimportable.
BLOCKED = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'sqlalchemy':
            raise ImportError(f'the settings command imported {name}')
sys.meta_path.insert(0, Block())
from spacesync_gui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _light(data: Path, *args: str) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", BLOCKED, "--data-dir", str(data), "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return json.loads(p.stdout)


def test_settings_commands_run_without_sqlalchemy_and_the_engine_syncs_their_library(
    tmp_path,
):
    src, dst, other = tmp_path / "src", tmp_path / "dst", tmp_path / "other"
    for d in (src, dst, other):
        d.mkdir()
    (src / "a.txt").write_text("alpha")
    (src / "sub").mkdir()
    (src / "sub" / "b.txt").write_text("beta")
    data = tmp_path / "data"  # does not exist yet: `conduit add` creates the library

    added = _light(data, "conduit", "add", str(src), str(dst), "--mode", "mirror")
    assert (added["source"], added["target"], added["mode"]) == (str(src), str(dst), "mirror")
    assert (added["conflict"], added["paused"], added["transfers"]) == ("source", False, 4)
    cid = added["id"]
    r = run_subprocess("--json", "location", "add", str(other), "--ignore", "*.tmp", data_dir=data)
    assert r.code == 0, r.err
    loc = json.loads(r.out)
    listed = _light(data, "location", "list")["locations"]
    assert [x["path"] for x in listed] == [str(src), str(dst), str(other)]
    edited = _light(data, "conduit", "edit", str(cid), "--name", "docs", "--bwlimit", "5")
    assert (edited["name"], edited["bwlimit"]) == ("docs", 5.0)
    assert _light(data, "conduit", "pause", str(cid))["paused"] is True
    assert _light(data, "conduit", "resume", str(cid))["paused"] is False
    assert _light(data, "location", "remove", str(loc["id"]))["removed"] == loc["id"]
    assert [c["name"] for c in _light(data, "conduit", "list")["conduits"]] == ["docs"]
    # The saved settings (for `library rebuild`) say what the library holds.
    saved = json.loads((data / "settings.json").read_text())
    assert [c["name"] for c in saved["conduits"]] == ["docs"]
    assert [x["watch"] for x in saved["locations"]] == [True, True]
    assert saved["conduits"][0]["paused"] is False

    # The engine (SQLAlchemy) syncs the conduit of that library.
    r = run_subprocess("--json", "sync", str(cid), data_dir=data)
    assert r.code == 0, r.err
    assert json.loads(r.out)["copied"] == 2
    assert (dst / "sub" / "b.txt").read_text() == "beta"
    # ...and a light command sees what the run recorded.
    (conduit,) = _light(data, "conduit", "list")["conduits"]
    assert conduit["last_status"] == "completed" and conduit["last_sync"]


def test_a_settings_command_given_bad_input_says_so_and_creates_nothing(tmp_path):
    data = tmp_path / "data"
    p = subprocess.run(
        [sys.executable, "-c", BLOCKED, "--data-dir", str(data), "conduit", "add"]
        + [str(tmp_path / "missing"), str(tmp_path), "--mode", "mirror"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 2
    assert "does not exist" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / ".spacesync").exists()
