"""Moves and deletes rename things; the base may say they happened only once those renames
are on stable storage (else a power loss could bring a deleted file back, or undo a move
the base already records). Real library, real folders; the real functions are spied on."""

from __future__ import annotations

import os
from pathlib import Path

from spacesync_gui.engine import snapshots, transfer
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.service import FileSyncService
from tests.sync_helpers import read_tree, versions_content, write_tree


def test_folders_of_moves_and_deletes_are_synced_before_the_base_records_them(
    library, tmp_path: Path, monkeypatch
):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"old/moved.bin": "m" * 3000, "gone/deleted.txt": "bye", "keep.txt": "k"})
    dst.mkdir()
    c = add_conduit(library, src, dst, "mirror")
    svc = FileSyncService(library)
    assert svc.sync(c.id).copied == 3
    (src / "new").mkdir()
    os.rename(src / "old" / "moved.bin", src / "new" / "moved.bin")
    os.remove(src / "gone" / "deleted.txt")

    order: list[tuple[str, set[str]]] = []
    real_sync, real_base = transfer.sync_dirs, snapshots._write_base

    def sync_spy(dirs):  # type: ignore[no-untyped-def]
        dirs = {os.fspath(d) for d in dirs}
        order.append(("sync", dirs))
        return real_sync(dirs)

    def base_spy(conn, conduit_id, base):  # type: ignore[no-untyped-def]
        order.append(("base", set(base)))
        return real_base(conn, conduit_id, base)

    monkeypatch.setattr(transfer, "sync_dirs", sync_spy)
    monkeypatch.setattr(snapshots, "_write_base", base_spy)

    report = svc.sync(c.id)

    assert report.moved == 1 and report.deleted == 1 and report.verified
    assert read_tree(dst) == read_tree(src)
    assert versions_content(dst) == ["bye"]
    recorded = next(
        i
        for i, (what, keys) in enumerate(order)
        if what == "base" and {"new/moved.bin", "gone/deleted.txt"} <= keys
    )
    synced = set().union(*(dirs for what, dirs in order[:recorded] if what == "sync"))
    assert {str(dst / "old"), str(dst / "new"), str(dst / "gone")} <= synced
    # The deleted file's new home in the versions store too.
    assert any(d.startswith(str(dst / ".spacesync" / "versions")) for d in synced)
