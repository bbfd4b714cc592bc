"""Folder trees for end-to-end sync tests: write, read back, compare."""

from __future__ import annotations

import os
from pathlib import Path

from spacesync_gui.engine.paths import META_DIR


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        p.write_bytes(content)


def read_tree(root: Path, all_dirs: bool = False) -> dict[str, str]:
    """Every file (content), symlink ('-> target') and empty dir ('<dir>') below root
    (with `all_dirs`, every dir)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir.split(os.sep)[0] == META_DIR:
            continue
        dirnames[:] = [d for d in dirnames if d != META_DIR or rel_dir != "."]
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = os.path.normpath(os.path.join(rel_dir, name)).replace(os.sep, "/")
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                if all_dirs or not any(p.iterdir()):
                    out[rel] = "<dir>"
            else:
                out[rel] = p.read_bytes().decode("utf-8", "replace")
    return out


def versions_content(root: Path) -> list[str]:
    """Contents of every file kept in root's versions store."""
    vdir = root / META_DIR / "versions"
    if not vdir.exists():
        return []
    return sorted(p.read_text() for p in vdir.rglob("*") if p.is_file())


def temp_files(root: Path) -> list[Path]:
    tmp = root / META_DIR / "tmp"
    found = [p for p in tmp.rglob("*")] if tmp.exists() else []
    found += [p for p in root.rglob(".spacesync-tmp-*")]
    return found


def count_snapshot_loads(monkeypatch) -> list[str]:  # noqa: ANN001
    """Side names, one per whole snapshot a sync loads from the index (service.load_side)."""
    from spacesync_gui.engine import service

    calls: list[str] = []
    real = service.load_side

    def counting(lib, side):  # noqa: ANN001, ANN202
        calls.append(side.name)
        return real(lib, side)

    monkeypatch.setattr(service, "load_side", counting)
    return calls
