"""Safe writes (SPEC 3.6) on real files: temp + verify + atomic replace, never an unseen
change overwritten, every replaced or deleted item recoverable."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import xxhash

from spacesync_gui.engine import transfer as T
from spacesync_gui.engine.paths import TMP_PREFIX, tmp_dir, versions_dir
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.transfer import (
    BandwidthLimiter,
    DestinationChanged,
    DirectoryNotEmpty,
    SourceChanged,
    TransferError,
    clean_temp,
    commit_file,
    copy_file,
    copy_symlink,
    make_dir,
    make_durable,
    move_item,
    rename_noreplace,
    set_mtime,
    stage_file,
)
from spacesync_gui.engine.versions import Remover

STAMP = "2024-05-01_120000"
OLD_NS = 1_600_000_000_123_456_789


def item_of(path: Path) -> Item:
    """What the indexer would record for `path`."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return Item("symlink", 0, st.st_mtime_ns, None, os.readlink(path), st.st_mode, st.st_ino)
    if stat.S_ISDIR(st.st_mode):
        return Item("dir", 0, st.st_mtime_ns, None, None, st.st_mode, st.st_ino)
    h = xxhash.xxh3_128(path.read_bytes()).hexdigest()
    return Item("file", st.st_size, st.st_mtime_ns, h, None, st.st_mode, st.st_ino)


def write(path: Path, data: bytes, mtime_ns: int | None = None, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mode is not None:
        path.chmod(mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def leftovers(root: Path) -> list[str]:
    """App temp files anywhere below root (tmp dir and siblings)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        found += [
            os.path.join(dirpath, n) for n in filenames + dirnames if n.startswith(TMP_PREFIX)
        ]
    return found


@pytest.fixture(autouse=True, params=["accelerated", "python"])
def copy_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here twice: with stage_file's C accelerator (csrc/fastcopy.c, built by
    the install; test_fastcopy.py fails where it is missing) and with the Python path
    alone, which does every copy where it was not built."""
    if request.param == "python":
        monkeypatch.setattr(T, "_fast", None)
    return str(request.param)


@pytest.fixture
def src_root(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    return d


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "dst"
    (d / ".spacesync").mkdir(parents=True)
    return d


def trash_files() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"


# --- plain copies ----------------------------------------------------------------------


def test_copy_identical_bytes_mtime_mode_via_temp(src_root: Path, root: Path) -> None:
    data = os.urandom(3 * T.CHUNK + 12345)  # several chunks and a partial one
    src = write(src_root / "a.bin", data, OLD_NS, 0o640)
    seen: list[int] = []
    staged = copy_file(
        src,
        item_of(src),
        root / "sub" / "a.bin",
        None,
        Remover(root, "versioning", STAMP),
        progress=seen.append,
    )
    dst = root / "sub" / "a.bin"
    assert dst.read_bytes() == data
    st = dst.stat()
    assert st.st_mtime_ns == OLD_NS
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert sum(seen) == len(data)
    assert staged.hash == item_of(src).hash
    assert leftovers(root) == []
    assert os.listdir(tmp_dir(root)) == []  # the temp was staged there, then renamed away


def test_empty_file_and_dir_of_many_small_files_batched(src_root: Path, root: Path) -> None:
    remover = Remover(root, "versioning", STAMP)
    srcs = [write(src_root / f"f{i}.txt", f"file {i}\n".encode() * i) for i in range(40)]
    expects = [item_of(s) for s in srcs]
    staged = [stage_file(s, e, tmp_dir(root)) for s, e in zip(srcs, expects, strict=True)]
    assert not any(s.durable for s in staged)
    make_durable(staged)  # >= SYNCFS_MIN_FILES: one syncfs
    assert all(s.durable for s in staged)
    for st, s, e in zip(staged, srcs, expects, strict=True):
        commit_file(st, s, e, root / s.name, None, remover)
    for s in srcs:
        assert (root / s.name).read_bytes() == s.read_bytes()
    assert leftovers(root) == []
    # A small batch takes the per-file fsync path.
    few = [stage_file(srcs[3], expects[3], tmp_dir(root))]
    make_durable(few)
    assert few[0].durable
    T.discard(few[0])
    T.discard(few[0])  # idempotent
    assert leftovers(root) == []


def test_source_changed_after_scan_hash_mismatch(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"original content", OLD_NS)
    expect = item_of(src)
    write(src, b"ORIGINAL CONTENT", OLD_NS)  # same size and mtime: only the hash tells
    dst = write(root / "a.txt", b"keep me", OLD_NS)
    with pytest.raises(SourceChanged, match="a.txt"):
        copy_file(src, expect, dst, item_of(dst), Remover(root, "versioning", STAMP))
    assert dst.read_bytes() == b"keep me"
    assert leftovers(root) == []
    assert not versions_dir(root).exists()


def test_source_modified_between_stage_and_commit(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"v1", OLD_NS)
    expect = item_of(src)
    staged = stage_file(src, expect, tmp_dir(root))
    write(src, b"v2 longer")
    with pytest.raises(SourceChanged):
        commit_file(staged, src, expect, root / "a.txt", None, Remover(root))
    assert not (root / "a.txt").exists()
    assert not os.path.exists(staged.tmp_path)


def test_source_replaced_by_symlink_is_not_followed(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"data", OLD_NS)
    expect = item_of(src)
    write(src_root / "other", b"data")
    src.unlink()
    src.symlink_to(src_root / "other")
    with pytest.raises(SourceChanged, match="symlink"):
        stage_file(src, expect, tmp_dir(root))
    assert leftovers(root) == []


def test_destination_changed_since_scan(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"new", OLD_NS)
    dst = write(root / "a.txt", b"old", OLD_NS)
    expect_dst = item_of(dst)
    staged = stage_file(src, item_of(src), tmp_dir(root))
    write(dst, b"edited by the user")
    with pytest.raises(DestinationChanged, match="modified"):
        commit_file(staged, src, item_of(src), dst, expect_dst, Remover(root, "versioning", STAMP))
    assert dst.read_bytes() == b"edited by the user"
    assert not os.path.exists(staged.tmp_path)
    assert not versions_dir(root).exists()


def test_destination_appeared_since_scan(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"new", OLD_NS)
    staged = stage_file(src, item_of(src), tmp_dir(root))
    write(root / "a.txt", b"created meanwhile")
    with pytest.raises(DestinationChanged):
        commit_file(staged, src, item_of(src), root / "a.txt", None, Remover(root))
    assert (root / "a.txt").read_bytes() == b"created meanwhile"
    assert leftovers(root) == []


def test_destination_replaced_with_same_size_and_mtime_is_seen_by_inode(
    src_root: Path, root: Path
) -> None:
    src = write(src_root / "a.txt", b"new", OLD_NS)
    dst = write(root / "a.txt", b"old", OLD_NS)
    expect_dst = item_of(dst)
    other = write(root / "b.txt", b"xyz", OLD_NS)
    os.replace(other, dst)  # what an editor's safe save does
    with pytest.raises(DestinationChanged, match="replaced"):
        copy_file(src, item_of(src), dst, expect_dst, Remover(root))
    assert dst.read_bytes() == b"xyz"


# --- overwrites keep the old content -------------------------------------------------------


def test_overwrite_versioning_keeps_old_content(src_root: Path, root: Path) -> None:
    src = write(src_root / "d" / "a.txt", b"new content")
    dst = write(root / "d" / "a.txt", b"old content", OLD_NS)
    copy_file(src, item_of(src), dst, item_of(dst), Remover(root, "versioning", STAMP))
    assert dst.read_bytes() == b"new content"
    kept = versions_dir(root) / STAMP / "d" / "a.txt"
    assert kept.read_bytes() == b"old content"
    assert kept.stat().st_mtime_ns == OLD_NS


def test_overwrite_trash_keeps_old_content(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"new content")
    dst = write(root / "trashme.txt", b"old content")
    copy_file(src, item_of(src), dst, item_of(dst), Remover(root, "trash", STAMP))
    assert dst.read_bytes() == b"new content"
    assert (trash_files() / "trashme.txt").read_bytes() == b"old content"
    assert not versions_dir(root).exists()


def test_overwrite_permanent_drops_old_content(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.txt", b"new content")
    dst = write(root / "a.txt", b"old content")
    copy_file(src, item_of(src), dst, item_of(dst), Remover(root, "permanent", STAMP))
    assert dst.read_bytes() == b"new content"
    assert not versions_dir(root).exists()
    assert not trash_files().exists() or os.listdir(trash_files()) == []


def test_replacing_dir_by_file_keeps_whole_dir(src_root: Path, root: Path) -> None:
    src = write(src_root / "x", b"now a file")
    write(root / "x" / "inner" / "deep.txt", b"deep")
    write(root / "x" / "top.txt", b"top")
    copy_file(
        src, item_of(src), root / "x", item_of(root / "x"), Remover(root, "versioning", STAMP)
    )
    assert (root / "x").read_bytes() == b"now a file"
    kept = versions_dir(root) / STAMP / "x"
    assert (kept / "inner" / "deep.txt").read_bytes() == b"deep"
    assert (kept / "top.txt").read_bytes() == b"top"


def test_same_path_versioned_twice_in_one_run_gets_suffix(src_root: Path, root: Path) -> None:
    remover = Remover(root, "versioning", STAMP)
    dst = root / "a.txt"
    write(dst, b"v1")
    for content in (b"v2", b"v3"):
        src = write(src_root / "a.txt", content)
        copy_file(src, item_of(src), dst, item_of(dst), remover)
    assert dst.read_bytes() == b"v3"
    assert (versions_dir(root) / STAMP / "a.txt").read_bytes() == b"v1"
    assert (versions_dir(root) / f"{STAMP}-2" / "a.txt").read_bytes() == b"v2"


# --- symlinks -----------------------------------------------------------------------------


def test_symlink_copied_as_link_never_followed(root: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "outside.txt", b"outside")
    remover = Remover(root, "versioning", STAMP)
    copy_symlink(str(secret), root / "l" / "link", None, remover, mtime_ns=OLD_NS)
    link = root / "l" / "link"
    assert link.is_symlink() and os.readlink(link) == str(secret)
    assert os.lstat(link).st_mtime_ns == OLD_NS
    # Dangling targets are fine: a link is just its target string.
    copy_symlink("../nowhere", root / "dangling", None, remover)
    assert os.readlink(root / "dangling") == "../nowhere"
    # Replacing a file by a link keeps the file.
    f = write(root / "f", b"file content")
    copy_symlink("target", f, item_of(f), remover)
    assert os.readlink(f) == "target"
    assert (versions_dir(root) / STAMP / "f").read_bytes() == b"file content"
    # Overwriting a link never writes through it.
    copy_symlink("other", link, item_of(link), remover)
    assert secret.read_bytes() == b"outside"
    assert os.readlink(versions_dir(root) / STAMP / "l" / "link") == str(secret)
    assert leftovers(root) == []


def test_symlink_destination_changed(root: Path) -> None:
    link = root / "link"
    link.symlink_to("a")
    expect = item_of(link)
    link.unlink()
    link.symlink_to("b")
    with pytest.raises(DestinationChanged, match="target"):
        copy_symlink("c", link, expect, Remover(root))
    assert os.readlink(link) == "b"
    assert leftovers(root) == []


# --- folders, moves, touches --------------------------------------------------------------


def test_make_dir_moves_file_in_the_way_to_versions(root: Path) -> None:
    f = write(root / "a" / "b", b"was a file")
    make_dir(root / "a" / "b", 0o750, item_of(f), Remover(root, "versioning", STAMP))
    assert (root / "a" / "b").is_dir()
    assert stat.S_IMODE((root / "a" / "b").stat().st_mode) == 0o750
    assert (versions_dir(root) / STAMP / "a" / "b").read_bytes() == b"was a file"
    make_dir(root / "new" / "deep", 0, None, Remover(root))
    assert (root / "new" / "deep").is_dir()


def test_make_dir_refuses_unseen_file(root: Path) -> None:
    write(root / "a", b"unseen")
    with pytest.raises(DestinationChanged):
        make_dir(root / "a", 0o755, None, Remover(root))
    assert (root / "a").read_bytes() == b"unseen"


def test_a_file_where_a_folder_should_be_is_a_changed_destination(root: Path) -> None:
    """The user turned a folder into a file (or a dangling link) since the scan: whatever
    was to be written below it is skipped with that reason (not a bare "File exists" or
    "No such file"), and the file or link is left as it is."""
    src = write(root / "src.txt", b"new")
    moved = write(root / "m.txt", b"moving")
    # A folder this process made before (the copies' folder cache knows it) counts too.
    (root / "was").mkdir()
    T.ensure_dir(str(root / "was"))
    (root / "was").rmdir()
    (root / "gone").symlink_to("nowhere")  # a link that leads nowhere is no folder either
    for name in ("d", "was", "gone"):
        if name != "gone":
            write(root / name, b"the user's file")
        at = root / name
        attempts: list[Callable[[], object]] = [
            lambda at=at: copy_file(src, item_of(src), at / "x", None, Remover(root)),
            lambda at=at: copy_symlink("t", at / "link", None, Remover(root)),
            lambda at=at: make_dir(at / "sub" / "deep", 0o755, None, Remover(root)),
            lambda at=at: move_item(moved, at / "m.txt", item_of(moved)),
        ]
        for attempt in attempts:
            kind = "symlink" if name == "gone" else "file"
            with pytest.raises(DestinationChanged, match=f"now a {kind}, not a folder") as err:
                attempt()
            assert f"{root / name}" in str(err.value)
    assert (root / "d").read_bytes() == (root / "was").read_bytes() == b"the user's file"
    assert os.readlink(root / "gone") == "nowhere" and not (root / "nowhere").exists()
    assert moved.read_bytes() == b"moving" and src.read_bytes() == b"new"
    assert leftovers(root) == []


def test_a_folder_replaced_by_a_looping_link_skips_what_goes_below_it(root: Path) -> None:
    """A folder on the way became a symlink to itself (found by the property test of edits
    made during a run): writes two levels below it are skipped as a destination change,
    not failed with a bare "Too many levels of symbolic links"."""
    src = write(root / "src.txt", b"new")
    moved = write(root / "m.txt", b"moving")
    (root / "known" / "sub").mkdir(parents=True)
    T.ensure_dir(str(root / "known" / "sub"))  # the copies' folder cache knows it
    shutil.rmtree(root / "known")
    for name in ("loop", "known"):
        (root / name).symlink_to(name)
        at = root / name / "sub"
        attempts: list[Callable[[], object]] = [
            lambda at=at: copy_file(src, item_of(src), at / "x", None, Remover(root)),
            lambda at=at: copy_symlink("t", at / "link", None, Remover(root)),
            lambda at=at: make_dir(at / "deep", 0o755, None, Remover(root)),
            lambda at=at: move_item(moved, at / "m.txt", item_of(moved)),
        ]
        for attempt in attempts:
            with pytest.raises(DestinationChanged, match="now a symlink, not a folder"):
                attempt()
        assert os.readlink(root / name) == name
    assert moved.read_bytes() == b"moving" and src.read_bytes() == b"new"
    assert leftovers(root) == []


def test_move_renames_and_never_overwrites(root: Path) -> None:
    a = write(root / "a.txt", b"A", OLD_NS)
    move_item(a, root / "sub" / "moved.txt", item_of(a))
    moved = root / "sub" / "moved.txt"
    assert moved.read_bytes() == b"A" and not a.exists()
    assert moved.stat().st_mtime_ns == OLD_NS
    b = write(root / "b.txt", b"B")
    with pytest.raises(DestinationChanged):
        move_item(moved, b, item_of(moved))
    assert b.read_bytes() == b"B" and moved.read_bytes() == b"A"
    # The no-replace rename itself refuses too (the race the existence check cannot close).
    with pytest.raises(FileExistsError):
        rename_noreplace(moved, b)
    assert b.read_bytes() == b"B" and moved.read_bytes() == b"A"
    # A changed source is not moved.
    expect = item_of(moved)
    write(moved, b"AA")
    with pytest.raises(SourceChanged):
        move_item(moved, root / "c.txt", expect)
    assert not (root / "c.txt").exists()


def test_move_folder(root: Path) -> None:
    write(root / "d" / "x.txt", b"x")
    move_item(root / "d", root / "e" / "d2", item_of(root / "d"))
    assert (root / "e" / "d2" / "x.txt").read_bytes() == b"x"


def test_set_mtime_checks_content_first(root: Path) -> None:
    f = write(root / "a.txt", b"same", OLD_NS)
    expect = item_of(f)
    set_mtime(f, expect._replace(mtime_ns=OLD_NS + 10**9), expect)
    assert f.stat().st_mtime_ns == OLD_NS + 10**9
    with pytest.raises(DestinationChanged):
        set_mtime(f, expect._replace(mtime_ns=5), expect)  # expect is stale now
    assert f.stat().st_mtime_ns == OLD_NS + 10**9


# --- EXDEV: tmp dir on another file system ---------------------------------------------------


@pytest.fixture
def other_fs_dir(root: Path) -> Iterator[Path]:
    base = Path("/dev/shm")
    if not base.is_dir() or os.stat(base).st_dev == os.stat(root).st_dev:
        pytest.fail("needs /dev/shm on a separate file system for the EXDEV path")
    d = Path(tempfile.mkdtemp(dir=base))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_tmp_dir_on_other_file_system(src_root: Path, root: Path, other_fs_dir: Path) -> None:
    src = write(src_root / "a.bin", os.urandom(100_000), OLD_NS)
    remover = Remover(root, "versioning", STAMP)
    # With the destination known, staging goes straight to a hidden sibling.
    staged = stage_file(src, item_of(src), other_fs_dir, dst=root / "a.bin")
    assert staged.sibling and os.path.dirname(staged.tmp_path) == str(root)
    assert os.path.basename(staged.tmp_path).startswith(TMP_PREFIX)
    make_durable([staged])
    commit_file(staged, src, item_of(src), root / "a.bin", None, remover)
    assert (root / "a.bin").read_bytes() == src.read_bytes()
    # Without the hint, the commit hits EXDEV and restages beside the destination.
    staged = stage_file(src, item_of(src), other_fs_dir)
    assert not staged.sibling
    dst = root / "a.bin"
    commit_file(staged, src, item_of(src), dst, item_of(dst), remover)
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_mtime_ns == OLD_NS
    assert os.listdir(other_fs_dir) == []
    assert leftovers(root) == []


# --- leftovers ------------------------------------------------------------------------------


def test_clean_temp_removes_dead_writers_only(root: Path) -> None:
    folder = tmp_dir(root)
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_tmp = write(folder / f"{TMP_PREFIX}{dead.pid}-aaaa", b"x")
        live_tmp = write(folder / f"{TMP_PREFIX}{live.pid}-bbbb", b"x")
        own_tmp = write(folder / (T.temp_name()), b"x")
        # A reused pid: alive, but started at another time than the writer.
        reused = write(folder / f"{TMP_PREFIX}{live.pid}.1-cccc", b"x")
        unknown = write(folder / "not-ours", b"x")
        assert clean_temp(root) == 2
        assert not dead_tmp.exists() and not reused.exists()
        assert live_tmp.exists() and own_tmp.exists() and unknown.exists()
    finally:
        live.kill()
        live.wait()
    assert clean_temp(root / "no-such-root") == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_a_writer_that_ended_but_was_not_reaped_yet_is_dead(root: Path) -> None:
    # A killed copy worker whose parent died first stays a zombie until someone reaps it.
    folder = tmp_dir(root)
    folder.mkdir(parents=True)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(500):  # until it has ended (a zombie: exited, not waited for)
        with open(f"/proc/{zombie.pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        time.sleep(0.01)
    try:
        tmp = write(folder / f"{TMP_PREFIX}{zombie.pid}-dddd", b"x")
        assert clean_temp(root) == 1 and not tmp.exists()
    finally:
        zombie.wait()


# --- bandwidth --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_limiter_token_arithmetic() -> None:
    clock = FakeClock()
    lim = BandwidthLimiter(2.0, burst_s=0.5, clock=clock, sleep=clock.sleep)  # 2 MB/s
    assert lim.reserve(1_000_000) == 0.0  # the 1 MB burst
    assert lim.reserve(1_000_000) == pytest.approx(0.5)  # 1 MB of debt at 2 MB/s
    assert lim.reserve(500_000) == pytest.approx(0.75)  # queued behind the first debt
    clock.now += 10  # idle: the bucket refills, but only up to the burst
    assert lim.reserve(1_000_000) == 0.0
    assert lim.reserve(1) > 0
    # consume() sleeps off exactly the debt: 4 MB at 2 MB/s from an empty bucket ~ 2 s.
    clock2 = FakeClock()
    lim2 = BandwidthLimiter(2.0, burst_s=0.0, clock=clock2, sleep=clock2.sleep)
    for _ in range(4):
        lim2.consume(1_000_000)
    assert sum(clock2.slept) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        BandwidthLimiter(0)


def test_limiter_is_shared_by_threads() -> None:
    clock = FakeClock()
    lock = threading.Lock()

    def clock_fn() -> float:
        with lock:
            return clock.now

    waits: list[float] = []
    lim = BandwidthLimiter(1.0, burst_s=0.0, clock=clock_fn, sleep=lambda s: None)

    def worker() -> None:
        for _ in range(50):
            w = lim.reserve(10_000)
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 400 reservations of 10 kB at 1 MB/s with a frozen clock: the last waits 4 s.
    assert max(waits) == pytest.approx(4.0)
    assert sorted(waits) == pytest.approx([0.01 * (i + 1) for i in range(400)])


def test_copy_with_limiter_copies_correctly(src_root: Path, root: Path) -> None:
    src = write(src_root / "a.bin", os.urandom(2_000_000))
    lim = BandwidthLimiter(1000.0)
    copy_file(src, item_of(src), root / "a.bin", None, Remover(root), limiter=lim)
    assert (root / "a.bin").read_bytes() == src.read_bytes()


# --- threads ----------------------------------------------------------------------------------


def test_parallel_copies_and_versions(src_root: Path, root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    remover = Remover(root, "versioning", STAMP)
    jobs = []
    for i in range(120):
        rel = f"d{i % 7}/f{i}.bin"
        src = write(src_root / rel, os.urandom(1000 + i * 997))
        dst = write(root / rel, f"old {i}".encode())
        jobs.append((src, item_of(src), dst, item_of(dst)))
    # Every file is overwritten twice from several threads: each old content must survive.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda j: copy_file(j[0], j[1], j[2], j[3], remover), jobs))
    second = []
    for src, _e, dst, _d in jobs:
        write(src, src.read_bytes()[::-1])
        second.append((src, item_of(src), dst, item_of(dst)))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda j: copy_file(j[0], j[1], j[2], j[3], remover), second))
    for i, (src, _e, dst, _d) in enumerate(jobs):
        rel = dst.relative_to(root)
        assert dst.read_bytes() == src.read_bytes()
        assert (versions_dir(root) / STAMP / rel).read_bytes() == f"old {i}".encode()
        assert (versions_dir(root) / f"{STAMP}-2" / rel).read_bytes() == src.read_bytes()[::-1]
    assert leftovers(root) == []


# --- kill -9 --------------------------------------------------------------------------------


def test_kill_9_mid_copy_leaves_no_partial_file(src_root: Path, root: Path) -> None:
    src = src_root / "big.bin"
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(200):
            f.write(block[i:] + block[:i])
    dst = write(root / "big.bin", b"previous version")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.getcwd()!r})
        from pathlib import Path
        from spacesync_gui.engine.plan import Item
        from spacesync_gui.engine.transfer import BandwidthLimiter, copy_file
        from spacesync_gui.engine.versions import Remover
        src, dst = Path({str(src)!r}), Path({str(dst)!r})
        expect = Item(*{tuple(item_of(src))!r})
        expect_dst = Item(*{tuple(item_of(dst))!r})
        copy_file(src, expect, dst, expect_dst, Remover({str(root)!r}),
                  limiter=BandwidthLimiter(20))
        print("finished")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    folder = tmp_dir(root)
    try:
        # Wait (by progress, not by time) until a good part of the file is in the temp.
        while True:
            temps = list(folder.glob(TMP_PREFIX + "*")) if folder.exists() else []
            if temps and temps[0].stat().st_size > 8_000_000:
                break
            assert proc.poll() is None, "the copy ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert dst.read_bytes() == b"previous version"
    assert [p.name for p in root.iterdir() if p.name != ".spacesync"] == ["big.bin"]
    assert len(list(folder.iterdir())) == 1  # the dead run's temp
    assert clean_temp(root) == 1
    assert list(folder.iterdir()) == []
    # The next run completes the work.
    copy_file(src, item_of(src), dst, item_of(dst), Remover(root, "versioning", STAMP))
    assert item_of(dst).hash == item_of(src).hash


# --- permissions (as `nobody`: root ignores file modes) --------------------------------------


def run_as_nobody(fn: Callable[[], object]) -> str:
    """Run fn() in a forked child with nobody's uid/gid; return 'ok' or the error's class
    and message."""
    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            fn()
            out = "ok"
        except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
            out = f"{type(exc).__name__}: {exc}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return b"".join(chunks).decode()


@pytest.fixture
def shared_dirs() -> Iterator[tuple[Path, Path]]:
    """A source folder and a destination root that `nobody` can reach."""
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        src = base / "src"
        src.mkdir(mode=0o755)
        src.chmod(0o755)
        dst = base / "dst"
        (dst / ".spacesync" / "tmp").mkdir(parents=True)
        for d in (dst, dst / ".spacesync", dst / ".spacesync" / "tmp"):
            d.chmod(0o777)
        yield src, dst
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_unreadable_source_is_a_clean_error(shared_dirs: tuple[Path, Path]) -> None:
    src_root, root = shared_dirs
    src = write(src_root / "secret.txt", b"secret", mode=0o600)  # owned by root
    expect = item_of(src)
    dst = root / "secret.txt"
    remover = Remover(root)  # built before the fork: the child runs only the copy
    out = run_as_nobody(lambda: copy_file(src, expect, dst, None, remover))
    assert out.startswith("PermissionError"), out
    assert not dst.exists()
    assert leftovers(root) == []
    assert src.read_bytes() == b"secret"


@pytest.mark.parametrize("overwrite", [False, True])
def test_unwritable_destination_folder_is_a_clean_error(
    shared_dirs: tuple[Path, Path], overwrite: bool
) -> None:
    src_root, root = shared_dirs
    src = write(src_root / "a.txt", b"new", mode=0o644)
    locked = root / "locked"
    locked.mkdir()
    locked.chmod(0o755)  # root's folder: nobody may not create or rename in it
    dst = locked / "a.txt"
    expect_dst = item_of(write(dst, b"old", OLD_NS, 0o644)) if overwrite else None
    expect = item_of(src)
    remover = Remover(root, "versioning", STAMP)
    out = run_as_nobody(lambda: copy_file(src, expect, dst, expect_dst, remover))
    assert out.startswith("PermissionError"), out
    if overwrite:
        assert dst.read_bytes() == b"old" and dst.stat().st_mtime_ns == OLD_NS
    else:
        assert not dst.exists()
    assert leftovers(root) == []


def test_errors_are_transfer_errors_with_readable_messages(root: Path) -> None:
    err = DestinationChanged(root / "x", "it was modified")
    assert isinstance(err, TransferError)
    assert "x" in str(err) and "modified" in str(err) and "nothing was overwritten" in str(err)
    assert issubclass(DirectoryNotEmpty, DestinationChanged)
    assert issubclass(SourceChanged, TransferError)


@pytest.mark.parametrize("count", [3, 40])  # one fsync per folder / one syncfs for many
def test_sync_dirs_passes_over_folders_removed_meanwhile(tmp_path, count):
    """A run's emptied folders are removed before the writer flushes; their renames'
    durability is their parent's, which is synced too."""
    folders = [tmp_path / f"d{i}" for i in range(count)]
    for d in folders:
        d.mkdir()
    folders[0].rmdir()
    T.sync_dirs([*folders, tmp_path])
    folders[1].rmdir()
    T.sync_dirs(folders[:2])  # nothing left to sync: still not an error
