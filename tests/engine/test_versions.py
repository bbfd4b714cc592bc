"""Deletion handling (SPEC 3.7) and the versions store's retention, on real files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from spacesync_gui.engine.paths import versions_dir
from spacesync_gui.engine.transfer import DestinationChanged, DirectoryNotEmpty
from spacesync_gui.engine.versions import Remover, list_versions, make_stamp, prune_versions

from .test_transfer import OLD_NS, STAMP, item_of, leftovers, trash_files, write


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "root"
    (d / ".spacesync").mkdir(parents=True)
    return d


def test_delete_versioning_keeps_content_and_mtime(root: Path) -> None:
    f = write(root / "a" / "b.txt", b"content", OLD_NS)
    where = Remover(root, "versioning", STAMP).delete(f, item_of(f))
    assert not f.exists()
    kept = versions_dir(root) / STAMP / "a" / "b.txt"
    assert where == str(kept)
    assert kept.read_bytes() == b"content" and kept.stat().st_mtime_ns == OLD_NS


def test_versions_in_the_same_second_of_a_file_and_then_of_a_path_below_it(root: Path) -> None:
    """Two runs in one second: the first keeps the file `d`, the second `d/b` (by then
    `d` is a folder). The store's `d` is a file, so `d/b` goes under the next name."""
    d = write(root / "d", b"a file named d", OLD_NS)
    first = Remover(root, "versioning", STAMP).delete(d, item_of(d))
    b = write(root / "d" / "b", b"b below the folder d", OLD_NS)
    deep = write(root / "d" / "e" / "a", b"deeper", OLD_NS)
    second = Remover(root, "versioning", STAMP)
    kept_b = second.delete(b, item_of(b))
    kept_deep = second.delete(deep, item_of(deep))
    assert Path(first).read_bytes() == b"a file named d"
    assert kept_b == str(versions_dir(root) / f"{STAMP}-2" / "d" / "b")
    assert Path(kept_b).read_bytes() == b"b below the folder d"
    assert Path(kept_deep).read_bytes() == b"deeper" and not deep.exists()


def test_a_kept_symlink_never_leads_a_later_version_out_of_the_store(
    root: Path, tmp_path: Path
) -> None:
    """The first run keeps the symlink `docs` (-> a folder elsewhere), replaced by a real
    folder; a second run in the same second keeps `docs/x`. Through the kept link it would
    land in the other folder: it goes under the next stamp name instead."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = root / "docs"
    link.symlink_to(elsewhere)
    Remover(root, "versioning", STAMP).delete(link, item_of(link))
    x = write(root / "docs" / "x", b"x in the real folder", OLD_NS)
    kept = Remover(root, "versioning", STAMP).delete(x, item_of(x))
    assert list(elsewhere.iterdir()) == []
    assert kept == str(versions_dir(root) / f"{STAMP}-2" / "docs" / "x")
    assert Path(kept).read_bytes() == b"x in the real folder"


def test_delete_symlink_versioning_keeps_the_link(root: Path) -> None:
    link = root / "l"
    link.symlink_to("somewhere")
    Remover(root, "versioning", STAMP).delete(link, item_of(link))
    assert not os.path.lexists(link)
    assert os.readlink(versions_dir(root) / STAMP / "l") == "somewhere"


def test_delete_trash(root: Path) -> None:
    f = write(root / "gone.txt", b"content")
    Remover(root, "trash", STAMP).delete(f, item_of(f))
    assert not f.exists()
    assert (trash_files() / "gone.txt").read_bytes() == b"content"
    assert not versions_dir(root).exists()


def test_trash_mode_keeps_links_the_trash_refuses_in_the_versions_store(root: Path) -> None:
    """Send2Trash follows a link to check it: a dangling or looping link is "not found".
    It is still removed, and kept (the link itself) in the versions store."""
    dangling, loop, fine = root / "dangling", root / "loop", root / "fine"
    dangling.symlink_to("nowhere")
    loop.symlink_to("loop")
    write(root / "real.txt", b"real")
    fine.symlink_to("real.txt")
    remover = Remover(root, "trash", STAMP)
    for link in (dangling, loop, fine):
        remover.delete(link, item_of(link))
        assert not os.path.lexists(link)
    assert os.readlink(versions_dir(root) / STAMP / "dangling") == "nowhere"
    assert os.readlink(versions_dir(root) / STAMP / "loop") == "loop"
    assert os.readlink(trash_files() / "fine") == "real.txt"  # a link that resolves: trash


def test_trash_same_names_from_threads_never_clobber(root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    files = [write(root / f"d{i}" / "same.txt", f"content {i}".encode()) for i in range(20)]
    remover = Remover(root, "trash", STAMP)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda f: remover.delete(f, item_of(f)), files))
    contents = sorted(p.read_bytes() for p in trash_files().iterdir())
    assert contents == sorted(f"content {i}".encode() for i in range(20))


def test_delete_permanent(root: Path) -> None:
    f = write(root / "gone.txt", b"content")
    Remover(root, "permanent", STAMP).delete(f, item_of(f))
    assert not f.exists()
    assert not versions_dir(root).exists()
    assert not trash_files().exists() or os.listdir(trash_files()) == []
    assert leftovers(root) == []


@pytest.mark.parametrize("mode", ["versioning", "trash", "permanent"])
def test_delete_refuses_unseen_change(root: Path, mode: str) -> None:
    f = write(root / "a.txt", b"v1", OLD_NS)
    expect = item_of(f)
    write(f, b"v2 edited")
    with pytest.raises(DestinationChanged):
        Remover(root, mode, STAMP).delete(f, expect)
    assert f.read_bytes() == b"v2 edited"
    assert not versions_dir(root).exists()


def test_rmdir_only_empty(root: Path) -> None:
    remover = Remover(root, "versioning", STAMP)
    write(root / "full" / "x.txt", b"x")
    with pytest.raises(DirectoryNotEmpty):
        remover.rmdir(root / "full")
    assert (root / "full" / "x.txt").read_bytes() == b"x"
    (root / "empty").mkdir()
    remover.rmdir(root / "empty")
    assert not (root / "empty").exists()
    remover.rmdir(root / "empty")  # already gone: fine
    # delete() of a folder is an rmdir too: its contents were not planned for deletion.
    with pytest.raises(DirectoryNotEmpty):
        remover.delete(root / "full", item_of(root / "full"))
    assert (root / "full" / "x.txt").exists()


def test_remover_refuses_paths_outside_root_or_in_meta(root: Path, tmp_path: Path) -> None:
    remover = Remover(root, "versioning", STAMP)
    outside = write(tmp_path / "outside.txt", b"x")
    with pytest.raises(ValueError):
        remover.delete(outside, item_of(outside))
    meta = write(root / ".spacesync" / "location-id", b"id")
    with pytest.raises(ValueError):
        remover.delete(meta, item_of(meta))
    with pytest.raises(ValueError):
        Remover(root, "shred")
    with pytest.raises(ValueError):
        Remover(root, "versioning", "yesterday")


def test_preserve_checks_expectation(root: Path) -> None:
    f = write(root / "a.txt", b"v1", OLD_NS)
    expect = item_of(f)
    write(f, b"v22", OLD_NS + 1)
    with pytest.raises(DestinationChanged):
        Remover(root, "versioning", STAMP).preserve(f, expect)
    assert f.read_bytes() == b"v22"
    assert list_versions(root, "a.txt") == []


def seed(root: Path, stamp: str, rel: str, data: bytes) -> Path:
    return write(versions_dir(root) / stamp / rel, data)


def stamp_at(days_ago: float, now: float, n: int = 0) -> str:
    s = make_stamp(now - days_ago * 86400)
    return f"{s}-{n}" if n else s


def test_list_versions_newest_first(root: Path) -> None:
    now = time.time()
    s_old, s_new = stamp_at(3, now), stamp_at(1, now)
    seed(root, s_old, "d/a.txt", b"old")
    seed(root, s_new, "d/a.txt", b"new")
    seed(root, stamp_at(1, now, 2), "d/a.txt", b"newest")
    seed(root, s_new, "other.txt", b"x")
    found = list_versions(root, "d/a.txt")
    assert [Path(p).read_bytes() for _, p in found] == [b"newest", b"new", b"old"]
    assert found[1][0] == s_new
    assert list_versions(root, "missing") == []
    assert list_versions(root / "no-root", "d/a.txt") == []


def test_prune_by_days(root: Path) -> None:
    now = time.time()
    old = stamp_at(40, now)
    recent = stamp_at(2, now)
    seed(root, old, "a.txt", b"a")
    seed(root, old, "d/b.txt", b"b")
    (versions_dir(root) / old / "emptydir").mkdir()
    seed(root, recent, "a.txt", b"a2")
    (versions_dir(root) / "not-a-stamp").mkdir()  # never touched
    assert prune_versions(root, keep_days=30, keep_count=None, now=now) == 2
    assert not (versions_dir(root) / old).exists()
    assert (versions_dir(root) / recent / "a.txt").read_bytes() == b"a2"
    assert (versions_dir(root) / "not-a-stamp").is_dir()


def test_prune_by_count(root: Path) -> None:
    now = time.time()
    stamps = [stamp_at(d, now) for d in (5, 4, 3, 2, 1)]
    for i, s in enumerate(stamps):
        seed(root, s, "d/a.txt", f"v{i}".encode())
    seed(root, stamps[0], "d/lonely.txt", b"only version")
    link = versions_dir(root) / stamps[1] / "link"
    link.symlink_to("t")
    assert prune_versions(root, keep_days=None, keep_count=2, now=now) == 3
    assert [Path(p).read_bytes() for _, p in list_versions(root, "d/a.txt")] == [b"v4", b"v3"]
    assert list_versions(root, "d/lonely.txt")  # one version: kept
    assert os.path.islink(link)
    # Emptied stamp folders are gone, the others stay.
    assert not (versions_dir(root) / stamps[2]).exists()
    assert (versions_dir(root) / stamps[0]).exists()
    # Both limits together.
    assert prune_versions(root, keep_days=3, keep_count=1, now=now) == 3
    assert [Path(p).read_bytes() for _, p in list_versions(root, "d/a.txt")] == [b"v4"]
    assert list_versions(root, "d/lonely.txt") == []
    assert prune_versions(root / "no-root", 1, 1) == 0


def test_versions_of_remover_are_listed(root: Path, tmp_path: Path) -> None:
    f = write(root / "a.txt", b"one", OLD_NS)
    r = Remover(root, "versioning", STAMP)
    r.preserve(f, item_of(f))
    assert f.read_bytes() == b"one"  # preserve keeps the real name (hard link)
    r.delete(f, item_of(f))
    found = list_versions(root, "a.txt")
    assert [s for s, _ in found] == [f"{STAMP}-2", STAMP]
    assert all(Path(p).read_bytes() == b"one" for _, p in found)
