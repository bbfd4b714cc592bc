"""listing.list_flat, the listing a first mirror walks and verifies with: through the C
accelerator (csrc/fastcopy.c `list_stats`) it is the listing the Python path makes, item
for item and in the same order, so the digests it stores are the ones every later scan
(listing.digest over list_dir) computes for the same folder."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from spacesync_gui.engine import listing as L
from spacesync_gui.engine.listing import digest, digest_seed, flat_digest, list_dir, list_flat
from spacesync_gui.engine.paths import META_DIR, TMP_PREFIX
from spacesync_gui.engine.rules import IgnoreRules

from .test_transfer import run_as_nobody


def both(monkeypatch: pytest.MonkeyPatch, folder: str) -> dict[str, object]:
    accel = L._fast
    out: dict[str, object] = {}
    for path in ("accelerated", "python"):
        monkeypatch.setattr(L, "_fast", accel if path == "accelerated" else None)
        out[path] = list_flat(folder)
    return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder holding one of every kind of item, built-in ignored names among them."""
    d = tmp_path / "folder"
    d.mkdir()
    (d / "plain.txt").write_bytes(b"x" * 1234)
    (d / "sub").mkdir(mode=0o750)
    (d / "link").symlink_to("plain.txt")
    os.mkfifo(d / "pipe")
    os.utime(d / "plain.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    for ignored in (META_DIR, ".DS_Store", "~$report.docx", f"{TMP_PREFIX}abc", ".~lock.x#"):
        (d / ignored).write_bytes(b"")
    (d / ".~lock.not-ignored").write_bytes(b"")
    if sys.platform != "darwin":  # a name that is not UTF-8 (macOS refuses one)
        with open(os.path.join(os.fsencode(d), b"caf\xe9.txt"), "wb"):
            pass
    return d


def test_the_accelerator_lists(folder: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("the accelerator is not built on Windows")
    assert L._fast is not None, "the C accelerator was not built (see setup.py)"
    got = L._fast.list_stats(str(folder))
    assert got is not None and got[1] is True


def test_both_paths_list_the_same_items_in_the_same_order(
    monkeypatch: pytest.MonkeyPatch, folder: Path
) -> None:
    got = both(monkeypatch, str(folder))
    items, whole = got["accelerated"]  # type: ignore[misc]
    assert got["accelerated"] == got["python"]
    assert whole is True
    names = [name for name, *_ in items]
    st = os.lstat(folder / "plain.txt")
    assert ("plain.txt", st.st_mode, 1234, 1_600_000_000_123_456_789, st.st_ino) in items
    expected = {"plain.txt", "sub", "link", "pipe", ".~lock.not-ignored"}
    if sys.platform != "darwin":
        expected.add(os.fsdecode(b"caf\xe9.txt"))
    assert set(names) == expected  # the built-in ignored names left out
    assert names == [n for n in os.listdir(folder) if n in expected]  # the folder's order


def test_its_digest_is_the_one_every_scan_computes(
    monkeypatch: pytest.MonkeyPatch, folder: Path
) -> None:
    seed = digest_seed(IgnoreRules())
    listed = list_dir(str(folder))
    assert listed is not None and listed[1]
    scanned = digest(seed, listed[0])
    for path, (items, _) in both(monkeypatch, str(folder)).items():  # type: ignore[misc]
        assert flat_digest(seed, items) == scanned, path
    (folder / "plain.txt").write_bytes(b"changed")
    assert flat_digest(seed, list_flat(str(folder))[0]) != scanned


def test_a_folder_that_is_not_there_is_an_empty_listing_not_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "file").write_bytes(b"")
    for missing in (tmp_path / "gone", tmp_path / "file"):
        assert both(monkeypatch, str(missing)) == {
            "accelerated": ([], False),
            "python": ([], False),
        }


def test_a_folder_it_may_not_read_is_not_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """As `nobody` (root reads anything): the C listing fails, the Python one tells."""
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        (base / "closed").mkdir(mode=0o700)  # root's
        (base / "closed" / "f").write_bytes(b"")

        def check() -> None:
            got = both(monkeypatch, str(base / "closed"))
            assert got == {"accelerated": ([], False), "python": ([], False)}, got

        assert run_as_nobody(check) == "ok"
    finally:
        shutil.rmtree(base)
