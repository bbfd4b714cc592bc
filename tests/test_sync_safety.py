"""No data loss under crashes and concurrent edits (SPEC 3.6)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spacesync_gui.engine import conduits
from spacesync_gui.engine.events import PlanReady
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import read_tree, temp_files, versions_content, write_tree


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_edits_made_after_the_scan_are_never_overwritten(library, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"doc.txt": "v1", "other.txt": "o1"})
    dst.mkdir()
    c = conduits.add_conduit(library, src, dst, "mirror")
    assert FileSyncService(library).sync(c.id).status == "completed"
    write_tree(src, {"doc.txt": "v2 from source", "other.txt": "o2 from source"})

    def edit_during_run(ev):
        # The plan was made from the index; now the user edits both sides.
        if isinstance(ev, PlanReady):
            (dst / "doc.txt").write_text("edited on the target during the run")
            (src / "other.txt").write_text("edited on the source during the run!")

    report = FileSyncService(library, emit=edit_during_run).sync(c.id)
    assert {e["path"] for e in report.errors} == {"doc.txt", "other.txt"}
    # The unseen target edit survives; stale source data was not written.
    assert (dst / "doc.txt").read_text() == "edited on the target during the run"
    assert (dst / "other.txt").read_text() == "o1"
    assert temp_files(dst) == []
    # The next run sees everything and converges (the target edit is versioned, not lost).
    report = FileSyncService(library).sync(c.id)
    assert report.status == "completed" and not report.errors, report.errors
    assert read_tree(dst) == read_tree(src)
    assert "edited on the target during the run" in versions_content(dst)


def test_bidirectional_edit_during_run_is_kept(library, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"f.txt": "base"})
    dst.mkdir()
    c = conduits.add_conduit(library, src, dst, "bidirectional")
    FileSyncService(library).sync(c.id)
    (src / "f.txt").write_text("source edit")

    def edit_target(ev):
        if isinstance(ev, PlanReady):
            (dst / "f.txt").write_text("target edit during the run")

    report = FileSyncService(library, emit=edit_target).sync(c.id)
    assert report.errors and (dst / "f.txt").read_text() == "target edit during the run"
    # Next run: both changed -> a conflict, nothing lost.
    report = FileSyncService(library).sync(c.id)
    assert report.conflicts == 1
    assert (src / "f.txt").read_text() == "source edit"
    assert (dst / "f.txt").read_text() == "target edit during the run"


@pytest.mark.slow
def test_sigkill_mid_copy_leaves_no_partial_file_and_a_rerun_completes(tmp_path, data_dir):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    for i in range(3):
        (src / f"big{i}.bin").write_bytes(os.urandom(1024 * 1024) * 40)  # 40 MiB each
    cli = [sys.executable, "-m", "spacesync_gui.cli", "--data-dir", str(data_dir), "--json"]
    out = subprocess.run(
        [
            *cli,
            "conduit",
            "add",
            str(src),
            str(dst),
            "--mode",
            "mirror",
            "--bwlimit",
            "20",
            "--transfers",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"id": 1' in out.stdout
    proc = subprocess.Popen(
        [*cli, "sync", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    # Wait until a copy is under way (a temp file is growing), then kill -9.
    while time.monotonic() < deadline:
        temps = temp_files(dst)
        if temps and any(p.is_file() and p.stat().st_size > 5 * 1024 * 1024 for p in temps):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the copy never started")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for p in dst.iterdir():
        if p.name.startswith("big"):
            assert _digest(p) == _digest(src / p.name), f"partial file {p.name}"
    assert temp_files(dst)  # the killed run left its temp behind ...
    out = subprocess.run(
        [*cli, "conduit", "edit", "1", "--bwlimit", "10000"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    out = subprocess.run([*cli, "sync", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout
    assert temp_files(dst) == []  # ... and the next run cleaned it up
    for i in range(3):
        assert _digest(dst / f"big{i}.bin") == _digest(src / f"big{i}.bin")
