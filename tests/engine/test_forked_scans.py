"""The CLI scans a conduit's two sides at once, one in a forked child (forked_scans.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spacesync_gui.engine import forked_scans
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.service import FileSyncService
from tests.engine.test_indexer import entries

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")


def _tree(root: Path, n: int = 30) -> None:
    for i in range(n):
        p = root / f"d{i % 5}" / f"f{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"file {i}")


def test_a_job_runs_in_another_process_and_returns_its_value(library) -> None:
    job = forked_scans.ForkedJob(library, lambda lib: (os.getpid(), str(lib.data_dir)))
    pid, data_dir = job.result()
    assert pid != os.getpid() and data_dir == str(library.data_dir)


def test_a_failing_job_is_reported_not_hidden(library) -> None:
    def boom(lib):  # type: ignore[no-untyped-def]
        raise RuntimeError("no")

    with pytest.raises(forked_scans.ChildFailed):
        forked_scans.ForkedJob(library, boom).result()


def test_sync_scans_the_target_in_a_child_and_indexes_both_sides(
    library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _tree(src)
    _tree(dst, 10)
    (dst / "d0" / "f0.txt").write_text("edited on the target")
    c = add_conduit(library, src, dst, "mirror")
    forks: list[int] = []
    real = forked_scans.ForkedJob.__init__

    def counting(self, lib, fn):  # type: ignore[no-untyped-def]
        forks.append(1)
        real(self, lib, fn)

    monkeypatch.setattr(forked_scans.ForkedJob, "__init__", counting)
    monkeypatch.setattr(forked_scans, "can_fork", lambda: True)  # pytest may run threads

    r = FileSyncService(library, fork_workers=True).sync(c.id)

    assert r.status == "completed" and r.verified
    assert forks  # the refresh forked
    assert (dst / "d0" / "f0.txt").read_text() == "file 0"
    target, source = c.target_location_id, c.source_location_id
    assert set(entries(library, target)) == set(entries(library, source))
    again = FileSyncService(library, fork_workers=True).sync(c.id)
    assert (again.copied, again.deleted) == (0, 0) and again.verified


def test_a_failed_child_scan_is_redone_here(
    library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _tree(src)
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    FileSyncService(library).sync(c.id)
    (dst / "d1" / "f1.txt").write_text("changed on the target")
    monkeypatch.setattr(forked_scans, "can_fork", lambda: True)

    def fail(self):  # type: ignore[no-untyped-def]
        os.waitpid(self._pid, 0)
        os.close(self._read_fd)
        raise forked_scans.ChildFailed("killed")

    monkeypatch.setattr(forked_scans.ForkedJob, "result", fail)

    r = FileSyncService(library, fork_workers=True).sync(c.id)

    assert r.status == "completed" and r.copied == 1
    assert (dst / "d1" / "f1.txt").read_text() == "file 1"
