"""The `spacesync` program as a user runs it (a real process, `cli.entry`): it leaves with
`os._exit` after `main` returns, so what `main` printed, wrote and closed must all be there."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from tests.cli_helpers import run_subprocess


def _tree(root, n):
    root.mkdir()
    for i in range(n):
        (root / f"f{i:02}.txt").write_text(f"file {i}\n" * 50)
    return root


def test_program_output_exit_status_and_library_survive_the_fast_exit(tmp_path):
    data = tmp_path / "d"
    src, dst = _tree(tmp_path / "src", 20), tmp_path / "dst"
    dst.mkdir()

    r = run_subprocess(
        "--json", "conduit", "add", str(src), str(dst), "--mode", "mirror", data_dir=data
    )
    assert r.code == 0, r.err
    cid = str(json.loads(r.out)["id"])
    assert not (data / "library.sqlite-wal").exists()

    r = run_subprocess("--json", "sync", cid, data_dir=data)
    assert r.code == 0, r.err
    out = json.loads(r.out)  # all of it arrived: it parses
    assert out["status"] == "completed" and out["copied"] == 20 and out["verified"] is True
    assert sorted(p.name for p in dst.iterdir() if p.name != ".spacesync") == [
        f"f{i:02}.txt" for i in range(20)
    ]
    # The library was closed before leaving: no write-ahead log left to replay, and the
    # run is in the file for the next process to read.
    assert not (data / "library.sqlite-wal").exists()
    with sqlite3.connect(data / "library.sqlite") as db:
        assert db.execute("SELECT status, copied FROM generations").fetchall() == [
            ("completed", 20)
        ]

    # An emptied source is refused (exit 3) and that, too, is reported in full.
    for f in src.glob("*.txt"):
        f.unlink()
    r = run_subprocess("--json", "sync", cid, data_dir=data)
    assert r.code == 3, r.err
    assert json.loads(r.out)["status"] == "refused"
    assert len(list(dst.glob("*.txt"))) == 20

    # Bad input: exit 2, one line on stderr, no traceback.
    r = run_subprocess("sync", "999", data_dir=data)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_output_to_a_reader_that_left_ends_quietly(tmp_path):
    """`spacesync ... | head`: the reader is gone before the output is written. No
    traceback, no crash report: a failed status and nothing else."""
    src, dst = _tree(tmp_path / "src", 3), tmp_path / "dst"
    dst.mkdir()
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to it fails (EPIPE)
    try:
        p = subprocess.run(
            [sys.executable, "-m", "spacesync_gui.cli", "--data-dir", str(tmp_path / "d")]
            + ["--json", "conduit", "add", str(src), str(dst), "--mode", "mirror"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
