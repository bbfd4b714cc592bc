"""Unreadable folders and files: recorded as scan errors, and their entries are KEPT.

Root ignores permission bits, so when the suite runs as root (CI, containers) the scan runs
in a forked child that switched to the `nobody` user. The tree and the library therefore
live under a fresh world-reachable temp dir, not under pytest's private tmp_path. As an
ordinary user the permission bits already bite and the scan runs in-process.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from spacesync_gui.engine import models
from spacesync_gui.engine.db import DB_NAME, Library, open_library
from spacesync_gui.engine.indexer import scan_location
from tests.engine.test_indexer import (
    add_location,
    bump_mtime,
    entries,
    location,
    scan_errors,
    write,
    xxh,
)

DENIED = "Permission denied"


def _unlock(path: Path) -> None:
    """Make a tree removable again, whatever the tests did to its permission bits."""
    if path.is_symlink() or not path.exists():
        return
    if path.is_dir():
        os.chmod(path, 0o755)
        for child in path.iterdir():
            _unlock(child)
    else:
        os.chmod(path, 0o644)


@pytest.fixture
def shared() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="spacesync-indexer-perm-"))
    os.chmod(base, 0o755)
    (base / "root").mkdir(mode=0o755)
    (base / "data").mkdir()
    os.chmod(base / "data", 0o777)  # the unprivileged child writes the library here
    yield base
    _unlock(base)
    shutil.rmtree(base)


def _share_library(data_dir: Path) -> None:
    """Let the unprivileged child write the database files created by root."""
    for suffix in ("", "-wal", "-shm"):
        f = data_dir / (DB_NAME + suffix)
        if f.exists():
            os.chmod(f, 0o666)


def run_unprivileged(data_dir: Path, work: Callable[[Library], Any]) -> Any:
    """Run work(library) where permission bits apply; returns its JSON-able result."""

    def body() -> Any:
        lib = open_library(data_dir)
        try:
            return work(lib)
        finally:
            lib.close()

    if os.geteuid() != 0:
        return body()
    _share_library(data_dir)
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            assert os.geteuid() == nobody.pw_uid
            out = json.dumps({"ok": body()})
        except BaseException:
            out = json.dumps({"error": traceback.format_exc()})
        try:
            with os.fdopen(write_end, "w") as f:
                f.write(out)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        payload = json.loads(f.read() or '{"error": "the child wrote nothing"}')
    os.waitpid(pid, 0)
    if "error" in payload:
        pytest.fail("scan as nobody failed:\n" + payload["error"])
    return payload["ok"]


def scan_unprivileged(data_dir: Path, location_id: int, subtree: str | None = None) -> dict:
    return run_unprivileged(data_dir, lambda lib: asdict(scan_location(lib, location_id, subtree)))


def build_and_index(base: Path) -> tuple[Path, int, dict[str, models.Entry]]:
    """A tree indexed by a full (privileged) scan; returns root, location id, entries."""
    root = base / "root"
    write(root / "ok.txt", "ok")
    write(root / "secret.txt", "secret v1")
    write(root / "locked" / "inside.txt", "inside")
    write(root / "locked" / "sub" / "deep.txt", "deep")
    write(root / "noexec" / "a.txt", "a")
    write(root / "noexec" / "deeper" / "b.txt", "b")
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    lib = open_library(base / "data")
    try:
        location_id = add_location(lib, root)
        scan_location(lib, location_id)
        return root, location_id, entries(lib, location_id)
    finally:
        lib.close()


def test_unprivileged_child_really_cannot_read(shared: Path) -> None:
    """Guards the harness itself: without this, the tests below could pass vacuously."""
    secret = write(shared / "root" / "s.txt", "s")
    os.chmod(secret, 0o000)

    def try_read(_lib: Library) -> str:
        try:
            secret.read_bytes()
            return "read"
        except PermissionError:
            return "denied"

    assert run_unprivileged(shared / "data", try_read) == "denied"


def test_unreadable_items_are_errors_and_their_entries_are_kept(shared: Path) -> None:
    root, lid, before = build_and_index(shared)
    os.chmod(root / "locked", 0o000)
    (root / "secret.txt").write_text("secret v2, changed")
    bump_mtime(root / "secret.txt")
    os.chmod(root / "secret.txt", 0o000)
    write(root / "unreadable_new.txt", "never indexed")
    os.chmod(root / "unreadable_new.txt", 0o000)
    os.chmod(root / "noexec", 0o644)  # listable, but its items cannot be stat'ed
    write(root / "new.txt", "new")

    result = scan_unprivileged(shared / "data", lid)

    errors = dict(result["errors"])
    assert errors["locked"] == f"cannot list folder: {DENIED}"
    assert errors["secret.txt"] == f"cannot read file: {DENIED}"
    assert errors["unreadable_new.txt"] == f"cannot read file: {DENIED}"
    assert errors["noexec/a.txt"] == f"cannot read: {DENIED}"
    assert errors["noexec/deeper"] == f"cannot read: {DENIED}"
    assert len(errors) == 5
    assert result["deleted"] == 0

    lib = open_library(shared / "data")
    try:
        after = entries(lib, lid)
        kept = ["locked/inside.txt", "locked/sub", "locked/sub/deep.txt", "secret.txt"]
        kept += ["noexec/a.txt", "noexec/deeper", "noexec/deeper/b.txt"]
        for key in kept:
            assert key in after, f"{key} was dropped"
            assert (after[key].hash, after[key].mtime_ns) == (
                before[key].hash,
                before[key].mtime_ns,
            )
        assert after["secret.txt"].hash == xxh("secret v1")
        assert after["new.txt"].hash == xxh("new")
        assert "unreadable_new.txt" not in after
        recorded = scan_errors(lib, lid)
        assert recorded == errors
        loc = location(lib, lid)
        assert loc.scan_errors == 5
        files = [e for e in after.values() if e.kind == models.FILE]
        assert (loc.files, loc.bytes) == (len(files), sum(e.size for e in files))
    finally:
        lib.close()

    _unlock(root)  # fixed: the next scan catches up and clears the errors
    lib = open_library(shared / "data")
    try:
        r = scan_location(lib, lid)
        assert r.errors == [] and r.deleted == 0
        assert entries(lib, lid)["secret.txt"].hash == xxh("secret v2, changed")
        assert "unreadable_new.txt" in entries(lib, lid)
        assert scan_errors(lib, lid) == {}
        assert location(lib, lid).scan_errors == 0
    finally:
        lib.close()


def test_unreadable_root_keeps_everything(shared: Path) -> None:
    root, lid, before = build_and_index(shared)
    os.chmod(root, 0o311)  # reachable but not listable

    result = scan_unprivileged(shared / "data", lid)

    assert result["errors"] == [["", f"cannot list folder: {DENIED}"]]
    assert result["deleted"] == 0
    lib = open_library(shared / "data")
    try:
        assert set(entries(lib, lid)) == set(before)
    finally:
        lib.close()


def test_unreadable_subtree_keeps_its_entries(shared: Path) -> None:
    root, lid, before = build_and_index(shared)
    os.chmod(root / "locked", 0o000)

    listed = scan_unprivileged(shared / "data", lid, "locked")
    below = scan_unprivileged(shared / "data", lid, "locked/sub")

    assert listed["errors"] == [["locked", f"cannot list folder: {DENIED}"]]
    assert below["errors"] == [["locked/sub", f"cannot read: {DENIED}"]]
    assert listed["deleted"] == below["deleted"] == 0
    lib = open_library(shared / "data")
    try:
        assert set(entries(lib, lid)) == set(before)
        assert set(scan_errors(lib, lid)) == {"locked", "locked/sub"}
    finally:
        lib.close()


def test_unreadable_symlink_dir_is_not_an_issue(shared: Path) -> None:
    """A symlink into an unreadable folder is indexed as a link: nothing is followed."""
    root, lid, _ = build_and_index(shared)
    os.symlink("locked/inside.txt", root / "link")
    os.chmod(root / "locked", 0o000)
    result = scan_unprivileged(shared / "data", lid)
    assert [k for k, _ in result["errors"]] == ["locked"]
    lib = open_library(shared / "data")
    try:
        e = entries(lib, lid)
        assert (e["link"].kind, e["link"].link) == (models.SYMLINK, "locked/inside.txt")
        assert stat.S_IMODE(os.lstat(root / "locked").st_mode) == 0
    finally:
        lib.close()
