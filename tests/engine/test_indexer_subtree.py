"""Subtree rescans, as the watcher asks for them: only the dirty part of the tree changes."""

from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

import pytest

from spacesync_gui.engine import models
from spacesync_gui.engine.db import Library
from spacesync_gui.engine.errors import UserError
from spacesync_gui.engine.indexer import scan_location
from tests.engine.test_indexer import (
    add_location,
    assert_noop,
    entries,
    location,
    scan_errors,
    write,
    xxh,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write(root / "a" / "one.txt", "1")
    write(root / "a" / "sub" / "two.txt", "2")
    write(root / "ab.txt", "sibling whose key sorts right after a/")
    write(root / "a0" / "x.txt", "a0 sorts after 'a/' too")
    write(root / "b" / "three.txt", "3")
    return root


@pytest.fixture
def lid(library: Library, tree: Path) -> int:
    location_id = add_location(library, tree)
    scan_location(library, location_id)
    return location_id


def test_only_the_subtree_changes(library: Library, tree: Path, lid: int) -> None:
    write(tree / "a" / "new.txt", "new in a")
    (tree / "a" / "sub" / "two.txt").unlink()
    write(tree / "b" / "new.txt", "new in b")
    (tree / "b" / "three.txt").unlink()
    (tree / "ab.txt").unlink()
    shutil.rmtree(tree / "a0")

    r = scan_location(library, lid, "a")

    e = entries(library, lid)
    assert "a/new.txt" in e and "a/sub/two.txt" not in e
    # Outside the subtree nothing moved, not even keys that share the prefix "a".
    assert {"b/three.txt", "ab.txt", "a0", "a0/x.txt"} <= set(e)
    assert "b/new.txt" not in e
    assert (r.added, r.deleted) == (1, 1)
    assert r.files_seen == 2  # a/one.txt, a/new.txt


def test_unchanged_subtree_is_a_noop(library: Library, lid: int) -> None:
    r = scan_location(library, lid, "a")
    assert_noop(r)
    assert r.files_seen == 2


def test_removed_subtree_deletes_its_entries(library: Library, tree: Path, lid: int) -> None:
    shutil.rmtree(tree / "a")
    r = scan_location(library, lid, "a")
    assert r.deleted == 4  # a, a/one.txt, a/sub, a/sub/two.txt
    assert set(entries(library, lid)) == {"ab.txt", "a0", "a0/x.txt", "b", "b/three.txt"}
    loc = location(library, lid)
    e = entries(library, lid)
    assert loc.files == 3
    assert loc.bytes == sum(x.size for x in e.values() if x.kind == models.FILE)


def test_subtree_that_became_a_file(library: Library, tree: Path, lid: int) -> None:
    shutil.rmtree(tree / "a")
    write(tree / "a", "now a file")
    scan_location(library, lid, "a")
    e = entries(library, lid)
    assert (e["a"].kind, e["a"].hash) == (models.FILE, xxh("now a file"))
    assert not any(k.startswith("a/") for k in e)


def test_file_subtree_and_a_new_folder(library: Library, tree: Path, lid: int) -> None:
    (tree / "a" / "one.txt").write_text("changed")
    os.utime(tree / "a" / "one.txt", (1, 1))
    r = scan_location(library, lid, "a/one.txt")
    assert (r.files_hashed, r.modified) == (1, 1)
    assert entries(library, lid)["a/one.txt"].hash == xxh("changed")

    write(tree / "c" / "d" / "e.txt", "e")
    r = scan_location(library, lid, "c/d")
    # The parent "c" is outside the scope: the watcher dirties it separately.
    assert {"c/d", "c/d/e.txt"} <= set(entries(library, lid))
    assert r.added == 2


def test_subtree_totals_cover_the_whole_location(library: Library, tree: Path, lid: int) -> None:
    write(tree / "a" / "more.txt", "12345")
    scan_location(library, lid, "a")
    loc = location(library, lid)
    e = entries(library, lid)
    assert loc.files == sum(1 for x in e.values() if x.kind == models.FILE) == 6
    assert loc.bytes == sum(x.size for x in e.values() if x.kind == models.FILE)


def test_subtree_under_an_ignored_folder_indexes_nothing(library: Library, tree: Path) -> None:
    write(tree / ".spacesync" / "tmp" / "partial", "p")
    write(tree / "build" / "out" / "o.bin", "o")
    location_id = add_location(library, tree, ["build/"])
    scan_location(library, location_id)
    assert scan_location(library, location_id, ".spacesync/tmp").added == 0
    assert scan_location(library, location_id, "build/out").added == 0
    assert not any(k.startswith((".spacesync", "build")) for k in entries(library, location_id))


def test_subtree_through_a_symlink_is_not_followed(library: Library, tree: Path, lid: int) -> None:
    os.symlink("b", tree / "link")
    scan_location(library, lid)
    r = scan_location(library, lid, "link/three.txt")
    assert r.added == 0
    assert "link/three.txt" not in entries(library, lid)
    assert entries(library, lid)["link"].kind == models.SYMLINK


def test_subtree_given_as_nfc_key_finds_nfd_folder(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "root"
    nfd = unicodedata.normalize("NFD", "Été")
    write(root / nfd / "f.txt", "f")
    location_id = add_location(library, root)
    scan_location(library, location_id)
    write(root / nfd / "g.txt", "g")

    r = scan_location(library, location_id, "Été")  # the key, not the disk name

    assert r.added == 1
    e = entries(library, location_id)
    assert e["Été/g.txt"].raw == f"{nfd}/g.txt".encode()
    assert e["Été"].raw == nfd.encode()


def test_subtree_scan_replaces_only_its_own_scan_errors(library: Library, tree: Path) -> None:
    os.mkfifo(tree / "a" / "pipe")
    os.mkfifo(tree / "b" / "pipe")
    location_id = add_location(library, tree)
    scan_location(library, location_id)
    assert set(scan_errors(library, location_id)) == {"a/pipe", "b/pipe"}
    os.unlink(tree / "a" / "pipe")

    scan_location(library, location_id, "a")

    assert set(scan_errors(library, location_id)) == {"b/pipe"}
    assert location(library, location_id).scan_errors == 1


@pytest.mark.parametrize("bad", ["../etc", "a/../b", "a/./b"])
def test_subtree_must_be_a_plain_relative_key(library: Library, lid: int, bad: str) -> None:
    with pytest.raises(UserError):
        scan_location(library, lid, bad)


def test_subtree_slashes_are_tolerated(library: Library, tree: Path, lid: int) -> None:
    write(tree / "a" / "z.txt", "z")
    assert scan_location(library, lid, "/a/").added == 1


def test_symlinks_in_a_subtree_rescan_as_noop(library: Library, tree: Path, lid: int) -> None:
    os.symlink("one.txt", tree / "a" / "link")
    assert scan_location(library, lid, "a").added == 1
    assert_noop(scan_location(library, lid, "a"))
    assert_noop(scan_location(library, lid, "a/link"))
    os.unlink(tree / "a" / "link")
    os.symlink("sub", tree / "a" / "link")
    assert scan_location(library, lid, "a/link").modified == 1
    assert entries(library, lid)["a/link"].link == "sub"


def test_subtree_scan_reports_unicode_twins_like_a_full_scan(
    library: Library, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    write(root / "é", "composed")
    write(root / unicodedata.normalize("NFD", "é"), "decomposed")
    location_id = add_location(library, root)
    full = scan_location(library, location_id)
    sub = scan_location(library, location_id, "é")
    assert [k for k, _ in full.errors] == [k for k, _ in sub.errors] == ["é"]
    assert entries(library, location_id)["é"].hash == xxh("composed")
    assert scan_errors(library, location_id) == dict(full.errors)
