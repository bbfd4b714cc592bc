"""A first mirror of a few large files: the CLI stages them before it imports the engine
(early_copies.py), and the run commits those temps only when they are copies of the
files its own scan found.

Real library, real folders, real forked children (`can_fork` forced: pytest may run
threads of its own; the CLI checks it for real); a smaller "large" so the files stay small.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xxhash

from spacesync_gui.engine import early_copies, early_mirror, forked_copies, quick_noop, safety
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.db import open_library
from spacesync_gui.engine.paths import marker_path
from spacesync_gui.engine.service import FileSyncService
from spacesync_gui.engine.transfer import _proc_stat
from tests.cli_helpers import run_subprocess
from tests.sync_helpers import read_tree, temp_files, write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")

LARGE = 256 * 1024


@pytest.fixture(autouse=True)
def _small_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(early_copies, "MIN_BYTES", LARGE)
    monkeypatch.setattr(forked_copies, "can_fork", lambda: True)


def _source(src: Path) -> dict[str, bytes]:
    """Two large files (one in a subfolder) among small ones; their bytes by key."""
    large = {"big.bin": os.urandom(LARGE + 1000), "sub/deep.bin": os.urandom(LARGE * 2)}
    write_tree(src, {**large, "small.txt": "s", "sub/note.txt": "n"})
    return large


def _mirror(tmp_path: Path, src: Path, name: str = "m") -> tuple[Path, Path, int]:
    data, dst = tmp_path / f"data-{name}", tmp_path / f"dst-{name}"
    dst.mkdir()
    lib = open_library(data)
    try:
        cid = add_conduit(lib, src, dst, "mirror").id
    finally:
        lib.close()
    return data, dst, cid


def _sync(data: Path, cid: int, early: object) -> object:
    lib = open_library(data)
    try:
        service = FileSyncService(lib, fork_workers=True)
        service.early = early  # type: ignore[assignment]
        return service.sync(cid)
    finally:
        lib.close()


def _staged_all(started: early_copies.Started) -> None:
    """Wait until every child has staged its share and ended (not reaped: `close` does)."""
    deadline = time.monotonic() + 60
    while any(_proc_stat(c.pid)[:1] != [b"Z"] for c in started.children):
        assert time.monotonic() < deadline, "the children did not finish staging"
        time.sleep(0.02)


def _gone(started: early_copies.Started) -> bool:
    """No child left, none of their temp folders left."""
    for c in started.children:
        try:
            os.kill(c.pid, 0)
            return False
        except ProcessLookupError:
            pass
    return not any(os.path.exists(c.folder) for c in started.children)


def _indexed_hash(data: Path, key: str, root: Path) -> str:
    db = sqlite3.connect(data / "library.sqlite")
    try:
        (h,) = db.execute(
            "SELECT e.hash FROM entries e JOIN locations l ON l.id = e.location_id "
            "WHERE l.path = ? AND e.path = ?",
            (str(root), key),
        ).fetchone()
    finally:
        db.close()
    return str(h)


def test_the_large_files_staged_before_the_engine_are_the_runs_copies(tmp_path: Path) -> None:
    src = tmp_path / "src"
    large = _source(src)
    data, dst, cid = _mirror(tmp_path, src)
    early = early_mirror.start(data, cid)
    assert isinstance(early, early_copies.Started)
    assert sorted(early.files) == [f"{src}/big.bin", f"{src}/sub/deep.bin"]

    r = _sync(data, cid, early)

    assert r.status == "completed" and r.verified and not r.errors  # type: ignore[attr-defined]
    assert r.copied == 4  # type: ignore[attr-defined]
    assert early.taken == 2 and _gone(early)
    assert read_tree(dst) == read_tree(src)
    for key, content in large.items():
        assert (dst / key).read_bytes() == content
        assert _indexed_hash(data, key, dst) == xxhash.xxh3_128_hexdigest(content)
    assert temp_files(dst) == []
    assert quick_noop.try_sync(data, cid).report is not None  # the index is exact


@pytest.mark.parametrize("change", ["content", "permission bits"])
def test_a_staged_copy_of_a_file_changed_since_is_not_taken(tmp_path: Path, change: str) -> None:
    src = tmp_path / "src"
    _source(src)
    data, dst, cid = _mirror(tmp_path, src)
    early = early_mirror.start(data, cid)
    assert isinstance(early, early_copies.Started)
    _staged_all(early)
    big = src / "big.bin"
    if change == "content":
        st = big.stat()
        big.write_bytes(os.urandom(st.st_size))
        os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    else:
        big.chmod(0o600)

    r = _sync(data, cid, early)

    assert r.status == "completed" and r.verified  # type: ignore[attr-defined]
    assert early.taken == 1 and _gone(early)
    assert (dst / "big.bin").read_bytes() == big.read_bytes()
    assert (dst / "big.bin").stat().st_mode & 0o777 == big.stat().st_mode & 0o777
    assert temp_files(dst) == []


def test_copies_staged_for_another_run_are_removed_and_that_run_copies_its_own(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    _source(src)
    data, dst, cid = _mirror(tmp_path, src)
    early = early_mirror.start(data, cid)
    assert isinstance(early, early_copies.Started)
    lib = open_library(data)
    try:
        other_dst = tmp_path / "other"
        other_dst.mkdir()
        other = add_conduit(lib, src, other_dst, "mirror").id
    finally:
        lib.close()

    r = _sync(data, other, early)

    assert r.status == "completed" and r.verified  # type: ignore[attr-defined]
    assert early.taken == 0 and _gone(early)
    assert read_tree(other_dst) == read_tree(src)
    assert read_tree(dst) == {} and temp_files(dst) == []


def test_nothing_is_staged_for_a_target_whose_drive_is_not_there(tmp_path: Path) -> None:
    """The target's marker is gone (an empty mount point where the drive was): the run
    refuses, so not a byte may be written there before it does."""
    src = tmp_path / "src"
    _source(src)
    data, dst, cid = _mirror(tmp_path, src)
    marker_path(dst).unlink()
    assert early_mirror.start(data, cid) is None
    assert not (dst / ".spacesync" / "tmp").exists()


def test_the_runs_free_space_check_counts_what_its_staged_copies_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target with room for the copies and little more: once staged, the temps take the
    room the check asks for; counted as the copies they are, the run goes ahead."""
    src = tmp_path / "src"
    write_tree(src, {f"big{i}.bin": os.urandom(4 * 1024 * 1024) for i in range(4)})
    data, dst, cid = _mirror(tmp_path, src)
    need, slack = 16 * 1024 * 1024, 8 * 1024 * 1024
    monkeypatch.setattr(safety, "FREE_SPACE_MARGIN", shutil.disk_usage(dst).free - need - slack)
    early = early_mirror.start(data, cid)
    assert isinstance(early, early_copies.Started)
    _staged_all(early)

    r = _sync(data, cid, early)

    assert r.status == "completed", r.reason  # type: ignore[attr-defined]
    assert early.taken == 4 and read_tree(dst) == read_tree(src)


def test_the_cli_mirrors_a_few_large_files(tmp_path: Path) -> None:
    """The CLI's own way, end to end (files over the real threshold)."""
    src = tmp_path / "src"
    large = {f"f{i}.bin": os.urandom(early_copies.transfer.DURABLE_ALONE_BYTES + i) for i in (1, 2)}
    write_tree(src, {**large, "small.txt": "s"})
    data, dst = tmp_path / "data", tmp_path / "dst"
    dst.mkdir()
    added = run_subprocess(
        "--json", "conduit", "add", str(src), str(dst), "--mode", "mirror", data_dir=data
    )
    assert added.code == 0, added.err
    cid = json.loads(added.out)["id"]

    r = run_subprocess("--json", "sync", str(cid), data_dir=data)

    assert r.code == 0, r.err
    assert json.loads(r.out)["status"] == "completed" and json.loads(r.out)["copied"] == 3
    for key, content in large.items():
        assert (dst / key).read_bytes() == content
    assert temp_files(dst) == []


def _live_with(needle: str) -> list[int]:
    """Pids of the processes, not ended, whose command line holds `needle`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _proc_stat(int(entry))[:1] not in ([], [b"Z"], [b"X"]):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_cli_killed_while_staging_leaves_no_file_and_no_child_and_a_rerun_completes(
    tmp_path: Path,
) -> None:
    """kill -9 of the CLI while its children stage: they die with it (nothing goes on
    writing behind the next run's back), no file appears under a real name, and the next
    run removes the temps and copies everything."""
    src = tmp_path / "src"
    # One file, big enough that its child has far to go when the CLI is killed.
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(1024 * 1024) * 512)
    (src / "small.txt").write_text("s")
    data, dst = tmp_path / "data", tmp_path / "dst"
    dst.mkdir()
    added = run_subprocess(
        "--json", "conduit", "add", str(src), str(dst), "--mode", "mirror", data_dir=data
    )
    assert added.code == 0, added.err
    cli = [sys.executable, "-m", "spacesync_gui.cli", "--data-dir", str(data), "--json"]
    proc = subprocess.Popen(
        [*cli, "sync", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not any(p.is_file() and p.stat().st_size > 5 * 1024 * 1024 for p in temp_files(dst)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no copy was seen being staged")
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 0.1  # the kernel's kill may wait for a write to end
    while _live_with(str(data)):
        assert time.monotonic() < deadline, "a child went on after the CLI was killed"
        time.sleep(0.005)

    for p in dst.iterdir():  # never a partial file under a real name
        if p.name != ".spacesync":
            assert p.read_bytes() == (src / p.name).read_bytes(), p.name
    assert temp_files(dst)
    r = run_subprocess("--json", "sync", "1", data_dir=data)
    assert r.code == 0, r.err
    assert json.loads(r.out)["status"] == "completed"
    assert temp_files(dst) == []
    for name in ("big.bin", "small.txt"):
        assert (dst / name).read_bytes() == (src / name).read_bytes()
