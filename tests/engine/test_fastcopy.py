"""The C accelerator of transfer.stage_file (csrc/fastcopy.c): built here, and a copy
made through it is the copy the Python path makes, success or failure, byte for byte,
bit for bit, message for message; anything it cannot do it leaves to the Python path
without a trace. (test_transfer.py runs all of its tests through both paths too.)"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import xxhash

from spacesync_gui.engine import transfer as T
from spacesync_gui.engine.constants import FILE
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.transfer import Staged, stage_file

OLD_NS = 1_600_000_000_123_456_789


def item_of(path: Path, hashed: bool = True) -> Item:
    st = os.lstat(path)
    digest = xxhash.xxh3_128(path.read_bytes()).hexdigest() if hashed else None
    return Item(FILE, st.st_size, st.st_mtime_ns, digest, None, st.st_mode & 0o7777, st.st_ino)


def write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stage: Callable[[Path], Staged]
) -> dict[str, Staged | str]:
    """`stage(folder)` through each path, each into its own new folder: the Staged, or the
    error's class and message. Each folder holds the temp only when one was staged."""
    accel = T._fast
    out: dict[str, Staged | str] = {}
    for path in ("accelerated", "python"):
        monkeypatch.setattr(T, "_fast", accel if path == "accelerated" else None)
        folder = tmp_path / path
        folder.mkdir(mode=0o700)
        try:
            out[path] = stage(folder)
        except (OSError, T.TransferError) as exc:
            out[path] = f"{type(exc).__name__}: {exc}"
            assert os.listdir(folder) == [], f"{path}: a temp left behind"
    return out


def test_the_accelerator_is_built_here() -> None:
    """Where it cannot be built the app works, slower; here (Linux, a C compiler: .ci/run
    installs one) it must be, or the suite would not test the path that copies."""
    if sys.platform == "win32":
        pytest.skip("not built on Windows (setup.py): the Python path copies there")
    assert T._fast is not None, (
        "spacesync_gui/engine/_fastcopy was not built: install gcc (and the Python "
        "headers), then `pip install -e .` again"
    )
    assert T._fast.MAX_SIZE == T.CHUNK


def _same_copy(a: Staged, b: Staged, src: Path) -> None:
    """Two temps of `src`, staged each its own way, are the same copy."""
    assert (a.size, a.hash, a.sibling, a.durable, a.mode, a.dev) == (
        b.size,
        b.hash,
        b.sibling,
        b.durable,
        b.mode,
        b.dev,
    )
    assert a.hash == xxhash.xxh3_128(src.read_bytes()).hexdigest()
    for s in (a, b):
        st = os.lstat(s.tmp_path)
        assert Path(s.tmp_path).read_bytes() == src.read_bytes()
        assert (st.st_ino, stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (s.inode, s.mode, OLD_NS)


@pytest.mark.parametrize("size", [0, 1, 4096, 100_003, T.CHUNK, T.CHUNK + 1, 3 * T.CHUNK])
@pytest.mark.parametrize("mode", [0o644, 0o600, 0o755, 0o2750])
@pytest.mark.parametrize("private", [False, True])
def test_a_copy_is_the_python_paths_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: int, mode: int, private: bool
) -> None:
    src = write(tmp_path / "src.bin", os.urandom(size), mode)
    expect = item_of(src, hashed=size % 2 == 0)  # with and without the scan's hash
    seen: list[int] = []
    name = "src.bin" if private else None
    out = both(
        monkeypatch,
        tmp_path,
        lambda d: stage_file(src, expect, d, name=name, private=private, progress=seen.append),
    )
    a, b = out["accelerated"], out["python"]
    assert isinstance(a, Staged) and isinstance(b, Staged), out
    _same_copy(a, b, src)
    assert a.mode == mode
    assert sum(seen) == 2 * size  # each path told the progress of all of its bytes


def test_the_umask_does_not_take_bits_from_a_private_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = write(tmp_path / "tool", b"#!/bin/sh\n", 0o777)
    old = os.umask(0o077)
    try:
        out = both(monkeypatch, tmp_path, lambda d: stage_file(src, item_of(src), d, private=True))
    finally:
        os.umask(old)
    a, b = out["accelerated"], out["python"]
    assert isinstance(a, Staged) and isinstance(b, Staged)
    _same_copy(a, b, src)
    assert a.mode == 0o777


def test_a_name_that_is_not_utf8(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src = write(Path(os.fsdecode(bytes(tmp_path / "caf") + b"\xe9.txt")), b"latin-1 name")
    out = both(monkeypatch, tmp_path, lambda d: stage_file(src, item_of(src), d, name=src.name))
    a, b = out["accelerated"], out["python"]
    assert isinstance(a, Staged) and isinstance(b, Staged)
    _same_copy(a, b, src)
    assert os.fsencode(a.tmp_path).endswith(b"caf\xe9.txt")


def _changed(case: str, src: Path) -> Item:
    """What the scan recorded of `src`, and `src` changed since, as `case` says."""
    expect = item_of(src)
    if case == "gone":
        src.unlink()
    elif case == "symlink":
        src.unlink()
        src.symlink_to(src.with_name("elsewhere"))
    elif case == "folder":
        src.unlink()
        src.mkdir()
    elif case == "resized":
        write(src, b"longer than it was")
    elif case == "touched":
        os.utime(src, ns=(OLD_NS, OLD_NS + 1))
    elif case == "rewritten":  # same size and mtime: only the hash tells
        write(src, b"ORIGINAL")
    return expect


@pytest.mark.parametrize("case", ["gone", "symlink", "folder", "resized", "touched", "rewritten"])
def test_a_changed_source_fails_as_on_the_python_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: str
) -> None:
    src = write(tmp_path / "a.txt", b"original")
    expect = _changed(case, src)
    out = both(monkeypatch, tmp_path, lambda d: stage_file(src, expect, d))
    assert out["accelerated"] == out["python"]
    assert str(out["python"]).startswith("SourceChanged:"), out


def test_a_source_that_grows_while_read_fails_as_on_the_python_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A /proc file says it holds 0 bytes and yields more: what a file growing between its
    fstat and its read looks like, every time."""
    src = Path(f"/proc/{os.getpid()}/status")
    if not src.exists():
        pytest.skip("no /proc here")
    st = os.lstat(src)
    expect = Item(FILE, st.st_size, st.st_mtime_ns, None, None, st.st_mode & 0o7777, st.st_ino)
    out = both(monkeypatch, tmp_path, lambda d: stage_file(src, expect, d))
    assert out["accelerated"] == out["python"]
    assert "(it grew while being copied)" in str(out["python"])


def test_a_temp_name_taken_is_left_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The accelerator removes only a temp it made: a file already there under the name
    asked for stays, as on the Python path (which then fails to create it)."""
    src = write(tmp_path / "a.txt", b"new")
    expect = item_of(src)
    accel = T._fast
    for path in ("accelerated", "python"):
        monkeypatch.setattr(T, "_fast", accel if path == "accelerated" else None)
        folder = tmp_path / path
        folder.mkdir()
        (folder / "a.txt").write_bytes(b"somebody's")
        with pytest.raises(FileExistsError):
            stage_file(src, expect, folder, name="a.txt")
        assert (folder / "a.txt").read_bytes() == b"somebody's"


def test_a_batch_is_each_of_its_copies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """stage_files, the small files in one call of the accelerator: each job ends as
    stage_file alone ends it, copied or failed, in the order given, whatever its
    neighbours do (a copy worker's chunk)."""
    src = tmp_path / "src"
    src.mkdir()
    good = [write(src / f"f{i}.txt", os.urandom(i * 997)) for i in range(6)]
    big = write(src / "big.bin", os.urandom(T.CHUNK + 5))
    gone = write(src / "gone.txt", b"soon gone")
    rewritten = write(src / "rewritten.txt", b"original")
    items = {p: item_of(p) for p in [*good, big, gone, rewritten]}
    gone.unlink()
    write(rewritten, b"ORIGINAL")
    order = [good[0], gone, *good[1:3], big, rewritten, *good[3:]]

    def batch(folder: Path) -> list[Staged | str]:
        private = folder / "private"
        private.mkdir(mode=0o700)
        jobs: list[T.StageJob] = [
            (str(p), items[p], str(private) if i % 2 else str(folder), p.name, bool(i % 2))
            for i, p in enumerate(order)
        ]
        out = T.stage_files(jobs)
        return [s if isinstance(s, Staged) else f"{type(s).__name__}: {s}" for s in out]

    out = both(monkeypatch, tmp_path, batch)
    a, b = out["accelerated"], out["python"]
    assert isinstance(a, list) and isinstance(b, list)
    assert len(a) == len(b) == len(order)
    for x, y, p in zip(a, b, order, strict=True):
        if p in (gone, rewritten):
            assert x == y and str(x).startswith("SourceChanged:"), (x, y)
        else:
            assert isinstance(x, Staged) and isinstance(y, Staged)
            _same_copy(x, y, p)
