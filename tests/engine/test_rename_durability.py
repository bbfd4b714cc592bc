"""Moves and deletes rename things; the base may say they happened only once those renames
are on stable storage (else a power loss could bring a deleted file back, or undo a move
the base already records). Real library, real folders; the real functions are spied on."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from spacesync_gui.engine import snapshots, transfer
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.events import ItemFinished
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import read_tree, versions_content, write_tree


def _moved_and_deleted(library, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A synced mirror whose source then has a file moved and a file deleted."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"old/moved.bin": "m" * 3000, "gone/deleted.txt": "bye", "keep.txt": "k"})
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    svc = FileSyncService(library)
    assert svc.sync(c.id).copied == 3
    (src / "new").mkdir()
    os.rename(src / "old" / "moved.bin", src / "new" / "moved.bin")
    os.remove(src / "gone" / "deleted.txt")
    return src, dst, c, svc


def _spy(monkeypatch, fail_first: bool = False) -> list[tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    """('sync', folders) for each successful transfer.sync_dirs, ('base', keys) for each
    base write, in order. `fail_first`: the first sync_dirs fails (EIO) and syncs nothing."""
    order: list[tuple[str, set[str]]] = []
    real_sync, real_base = transfer.sync_dirs, snapshots._write_base

    def sync_spy(dirs):  # type: ignore[no-untyped-def]
        dirs = {os.fspath(d) for d in dirs}
        if fail_first and not any(what == "failed" for what, _ in order):
            order.append(("failed", dirs))
            raise OSError(errno.EIO, "Input/output error")
        order.append(("sync", dirs))
        return real_sync(dirs)

    def base_spy(conn, conduit_id, base):  # type: ignore[no-untyped-def]
        order.append(("base", set(base)))
        return real_base(conn, conduit_id, base)

    monkeypatch.setattr(transfer, "sync_dirs", sync_spy)
    monkeypatch.setattr(snapshots, "_write_base", base_spy)
    return order


def _synced_before_recorded(order, keys=("new/moved.bin", "gone/deleted.txt")) -> set[str]:  # type: ignore[no-untyped-def]
    """The folders synced before the base records the last of `keys` (the move and the
    delete)."""
    recorded = max(
        next(i for i, (what, ks) in enumerate(order) if what == "base" and key in ks)
        for key in keys
    )
    return set().union(*(dirs for what, dirs in order[:recorded] if what == "sync"))


def test_folders_of_moves_and_deletes_are_synced_before_the_base_records_them(
    library, tmp_path: Path, monkeypatch
):
    src, dst, c, svc = _moved_and_deleted(library, tmp_path)
    order = _spy(monkeypatch)

    report = svc.sync(c.id)

    assert report.moved == 1 and report.deleted == 1 and report.verified
    assert read_tree(dst) == read_tree(src)
    assert versions_content(dst) == ["bye"]
    synced = _synced_before_recorded(order)
    assert {str(dst / "old"), str(dst / "new"), str(dst / "gone")} <= synced
    # The deleted file's new home in the versions store too.
    assert any(d.startswith(str(dst / ".spacesync" / "versions")) for d in synced)


def test_folders_a_failed_sync_left_are_synced_before_the_base_records_them(
    library, tmp_path: Path, monkeypatch
):
    src, dst, c, svc = _moved_and_deleted(library, tmp_path)
    order = _spy(monkeypatch, fail_first=True)
    # A flush per row: the failed sync is followed by more flushes in the same run.
    monkeypatch.setattr(snapshots.IndexWriter, "BATCH", 1)

    report = svc.sync(c.id)

    # The move whose folders could not be synced is reported, not recorded: the base
    # never calls it done in this run.
    assert report.errors == [
        {"path": "new/moved.bin", "message": "Input/output error", "action": "move"}
    ]
    assert not any(what == "base" and "new/moved.bin" in keys for what, keys in order)
    assert read_tree(dst) == read_tree(src)
    # Its folders stay owed: the next sync covers them before the base records the delete.
    failed = next(dirs for what, dirs in order if what == "failed")
    assert {str(dst / "old"), str(dst / "new")} <= failed
    assert failed <= _synced_before_recorded(order, ("gone/deleted.txt",))
    again = FileSyncService(library).sync(c.id)
    assert (again.copied, again.moved, again.deleted, again.errors) == (0, 0, 0, [])
    with library.engine.connect() as conn:
        base = {p for (p,) in conn.exec_driver_sql("SELECT path FROM base_entries")}
    assert "new/moved.bin" in base and "old/moved.bin" not in base


def test_a_folder_replaced_by_a_link_before_its_renames_are_synced_fails_nothing(library, tmp_path):
    """The run deleted `d/a` (a rename into the versions store) and removed `d`; before it
    made that durable, the user put a symlink (here one looping onto itself) where `d` was.
    Nothing of the folder is left to sync: the run completes, the link stays."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"a.txt": "A"})
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    assert FileSyncService(library).sync(c.id).copied == 1
    write_tree(dst, {"d/a": "target only"})

    def link_in_place_of_d(ev: object) -> None:
        if isinstance(ev, ItemFinished) and ev.op == "rmdir" and ev.path == "d":
            (dst / "d").symlink_to("d")

    r = FileSyncService(library, link_in_place_of_d).sync(c.id, force=True)

    assert r.status == "completed" and r.deleted == 2, (r.reason, r.errors)
    assert os.readlink(dst / "d") == "d" and versions_content(dst) == ["target only"]


def test_sync_dirs_passes_over_what_is_no_longer_a_folder(tmp_path):
    """Removed, or replaced by a file or a (looping) link: both ways, fsync per folder
    and one syncfs for many."""
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "file").write_text("x")
    odd = [tmp_path / "loop", tmp_path / "file", tmp_path / "gone", tmp_path / "gone" / "below"]
    for many in (1, transfer.SYNCFS_MIN_FILES):
        real = [tmp_path / f"d{i}" for i in range(many)]
        for d in real:
            d.mkdir(exist_ok=True)
        transfer.sync_dirs([*odd, *real])
        transfer.sync_dirs(odd)
