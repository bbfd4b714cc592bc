"""Folder digests: a rescan skips comparing folders whose listing did not change, and a
digest never vouches for entries that changed since (SPEC section 2, schema 4)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from spacesync_gui.engine import indexer
from spacesync_gui.engine.db import Library
from spacesync_gui.engine.indexer import scan_location
from tests.engine.test_indexer import (
    add_location,
    assert_noop,
    bump_mtime,
    entries,
    location,
    root,
    set_ignore,
    write,
    xxh,
)

__all__ = ["root"]  # a fixture, imported for these tests


class ChildLoads:
    """Records which folders the indexer compares entry by entry (the real loader runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folders: list[str] = []
        real = indexer._load_children

        def spy(conn, location_id, folder):  # type: ignore[no-untyped-def]
            self.folders.append(folder)
            return real(conn, location_id, folder)

        monkeypatch.setattr(indexer, "_load_children", spy)


@pytest.fixture
def tree(root: Path) -> Path:
    for d in ("a", "a/deep", "b", "c"):
        for i in range(3):
            write(root / d / f"f{i}.txt", f"{d} {i}")
    write(root / "top.txt", "top")
    return root


def test_unchanged_folders_are_not_compared(
    library: Library, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lid = add_location(library, tree)
    scan_location(library, lid)
    loads = ChildLoads(monkeypatch)

    r = scan_location(library, lid)

    assert_noop(r)
    assert loads.folders == []
    assert r.files_seen == location(library, lid).files == 13
    want_bytes = 3 * 3 * len("a 0") + 3 * len("a/deep 0") + len("top")
    assert r.bytes_seen == location(library, lid).bytes == want_bytes


def test_a_changed_file_is_found_and_only_its_folder_compared(
    library: Library, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lid = add_location(library, tree)
    scan_location(library, lid)
    # Same size, new content, new mtime: only the folder's listing shows it.
    write(tree / "a" / "deep" / "f1.txt", "A DEEP 1")
    bump_mtime(tree / "a" / "deep" / "f1.txt")
    loads = ChildLoads(monkeypatch)

    r = scan_location(library, lid)

    assert (r.files_hashed, r.modified) == (1, 1)
    assert loads.folders == ["a/deep"]
    assert entries(library, lid)["a/deep/f1.txt"].hash == xxh("A DEEP 1")
    loads.folders.clear()
    assert_noop(scan_location(library, lid))
    assert loads.folders == []


def test_adds_deletes_and_renames_deep_down_are_found(library: Library, tree: Path) -> None:
    lid = add_location(library, tree)
    scan_location(library, lid)
    write(tree / "a" / "deep" / "new.txt", "new")
    (tree / "b" / "f0.txt").unlink()
    os.rename(tree / "c", tree / "c2")

    r = scan_location(library, lid)

    keys = set(entries(library, lid))
    assert "a/deep/new.txt" in keys and "b/f0.txt" not in keys
    assert {"c2", "c2/f0.txt"} <= keys and not any(k.startswith("c/") or k == "c" for k in keys)
    assert (r.added, r.deleted) == (1 + 4, 1 + 4)
    assert location(library, lid).files == 13


def test_an_entry_written_by_someone_else_is_not_vouched_for(library: Library, tree: Path) -> None:
    """The executor (or another process) writes entries; the folder digest must not hide them."""
    lid = add_location(library, tree)
    scan_location(library, lid)
    with library.engine.begin() as conn:
        # An entry for a file that is not on disk (e.g. recorded by a sync, then the user
        # deleted the file again: the folder's listing is back to what the digest saw).
        conn.execute(
            text(
                "INSERT INTO entries (location_id, path, kind, size, mtime_ns, inode, mode, "
                "hash, indexed_at) VALUES (:l, 'b/ghost.txt', 'file', 5, 1, 1, 420, 'x', 0)"
            ),
            {"l": lid},
        )
        # And a stored hash changed behind the scanner's back (root-level file).
        conn.execute(
            text("UPDATE entries SET size = 99 WHERE location_id = :l AND path = 'top.txt'"),
            {"l": lid},
        )
    assert location(library, lid).files == 14  # totals follow every writer (triggers)

    r = scan_location(library, lid)

    e = entries(library, lid)
    assert "b/ghost.txt" not in e
    assert e["top.txt"].size == 3 and e["top.txt"].hash == xxh("top")
    assert (r.deleted, r.files_hashed) == (1, 1)
    assert location(library, lid).files == 13


def test_new_ignore_rules_recheck_every_folder(library: Library, tree: Path) -> None:
    lid = add_location(library, tree)
    scan_location(library, lid)
    set_ignore(library, lid, ["f1.txt"])

    r = scan_location(library, lid)

    assert r.deleted == 4
    assert not any(k.endswith("f1.txt") for k in entries(library, lid))
    assert location(library, lid).files == 9
    set_ignore(library, lid, [])
    r = scan_location(library, lid)
    assert r.added == 4 and location(library, lid).files == 13


def test_a_stopped_scan_vouches_for_nothing_it_did_not_finish(library: Library, root: Path) -> None:
    for i in range(30):
        write(root / f"d{i:02d}" / "f.txt", f"{i}")
    lid = add_location(library, root)
    scan_location(library, lid)
    for i in range(30):
        (root / f"d{i:02d}" / "f.txt").unlink()
        write(root / f"d{i:02d}" / "g.txt", f"{i}")
    polls = 0

    def stop_after_a_few() -> bool:
        nonlocal polls
        polls += 1
        return polls > 10

    assert scan_location(library, lid, should_stop=stop_after_a_few).stopped
    r = scan_location(library, lid)

    keys = set(entries(library, lid))
    assert {f"d{i:02d}/g.txt" for i in range(30)} <= keys
    assert not any(k.endswith("/f.txt") for k in keys)
    assert location(library, lid).files == 30
    assert r.deleted > 0


def test_an_error_in_a_folder_is_reported_on_every_scan(library: Library, root: Path) -> None:
    write(root / "d" / "ok.txt", "ok")
    os.mkfifo(root / "d" / "pipe")
    lid = add_location(library, root)
    scan_location(library, lid)
    for _ in range(2):
        r = scan_location(library, lid)
        assert r.errors == [("d/pipe", indexer.NOT_REGULAR)]


def test_same_listing_after_a_restore_still_detects_a_content_change(
    library: Library, tree: Path
) -> None:
    """mtime and size restored (e.g. by a tool), but the inode changed: found."""
    lid = add_location(library, tree)
    scan_location(library, lid)
    f = tree / "b" / "f2.txt"
    st = f.stat()
    d = tree / "b"
    dst = d.stat()
    tmp = d / "tmp"
    tmp.write_text("Z 2")  # the same size as "b 2"
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, f)
    os.utime(d, ns=(dst.st_atime_ns, dst.st_mtime_ns))  # the folder's mtime restored too

    scan_location(library, lid)

    assert entries(library, lid)["b/f2.txt"].hash == xxh("Z 2")
