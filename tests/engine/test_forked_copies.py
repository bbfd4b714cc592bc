"""Many new small files are copied in forked worker processes (forked_copies.py): forked
by the CLI itself, or by a CopyHelper in the app's engine process and the daemon.

Real library, real folders, real forks. The thresholds are lowered so a few hundred files
take the forked path in several chunks; `can_fork` is forced because pytest may run
threads of its own (the CLI checks it for real). Each test runs both ways."""

from __future__ import annotations

import os
import pickle
import signal
import stat
import time
import unicodedata
from pathlib import Path

import pytest

from spacesync_gui.engine import first_mirror, forked_copies, snapshots, transfer
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.events import ItemFinished
from spacesync_gui.engine.plan import Item
from spacesync_gui.engine.service import FileSyncService
from tests.engine.test_indexer import entries
from tests.sync_helpers import read_tree, temp_files, versions_content, write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")

FILES = 120


class Forking:
    """How the copies get their workers: "fork" (the CLI: this process forks them) or
    "helper" (the app's engine process and the daemon, which run threads: a CopyHelper
    forked beforehand forks them). `ready()` starts the helper: call it after the test's
    own monkeypatches, since a forked helper sees only what was patched before it."""

    def __init__(self, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mode = mode
        self.monkeypatch = monkeypatch
        self.workers: list[int] = []  # "fork": the workers' pids
        self.helper_runs = 0  # "helper": runs handed to the helper

    def ready(self) -> None:
        if self.mode != "helper" or forked_copies._helper is not None:
            return
        self.monkeypatch.setattr(forked_copies, "can_fork", lambda: True)
        forked_copies.start_helper()
        # From now on this process counts as one with threads, like the app's engine.
        self.monkeypatch.setattr(forked_copies, "can_fork", lambda: False)
        helper = forked_copies._helper
        assert helper is not None
        real = helper.run

        def counting(*a, **kw):  # type: ignore[no-untyped-def]
            self.helper_runs += 1
            return real(*a, **kw)

        self.monkeypatch.setattr(helper, "run", counting)

    def restart(self) -> None:
        """A new helper, which sees the patches as they are now."""
        if self.mode == "helper":
            forked_copies.stop_helper()
            self.ready()

    def used(self) -> bool:
        return bool(self.workers) if self.mode == "fork" else self.helper_runs > 0


def _small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked_copies, "FORK_MIN_FILES", 10)
    monkeypatch.setattr(forked_copies, "CHUNK_FILES", 16)
    # These are the executor's copies: a first mirror into an empty folder would begin
    # with its own pass instead (test_first_mirror.py).
    monkeypatch.setattr(first_mirror, "eligible", lambda *a: None)


@pytest.fixture(params=["fork", "helper"])
def forking(request, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Small thresholds, and copies in forked workers the `Forking` way."""
    _small_thresholds(monkeypatch)
    f = Forking(request.param, monkeypatch)
    if request.param == "fork":
        monkeypatch.setattr(forked_copies, "can_fork", lambda: True)
        monkeypatch.setattr("spacesync_gui.engine.forked_scans.can_fork", lambda: True)
        real = forked_copies._Worker.start.__func__  # type: ignore[attr-defined]

        def start(cls, *a):  # type: ignore[no-untyped-def]
            w = real(cls, *a)
            f.workers.append(w.pid)
            return w

        monkeypatch.setattr(forked_copies._Worker, "start", classmethod(start))
    yield f
    forked_copies.stop_helper()


def _source(src: Path) -> dict[str, str]:
    files = {
        f"d{i % 7}/sub{i % 3}/f{i}.txt": f"content of file {i} " * (i % 5 + 1) for i in range(FILES)
    }
    write_tree(src, files)
    os.chmod(src / "d1" / "sub1" / "f1.txt", 0o640)
    os.utime(src / "d2" / "sub2" / "f2.txt", ns=(1_600_000_000_000_000_000,) * 2)
    return files


@pytest.fixture
def mirror(library, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(source, target, conduit): a fresh source tree to mirror into an empty target."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    _source(src)
    dst.mkdir()
    return src, dst, add_conduit(library, src, dst, "mirror")


def _sync(library, conduit_id: int, **kw):  # type: ignore[no-untyped-def]
    return FileSyncService(library, fork_workers=True, **kw).sync(conduit_id)


def test_new_files_are_copied_by_worker_processes_and_indexed(
    library, mirror, forking: Forking
) -> None:
    src, dst, c = mirror

    forking.ready()
    r = _sync(library, c.id)

    assert r.status == "completed" and r.verified and not r.errors
    assert r.copied == FILES and forking.used()
    if forking.mode == "fork":  # one more than the CPUs, at most the conduit's transfers
        assert len(forking.workers) == min(c.transfers, (os.cpu_count() or 1) + 1)
    assert read_tree(dst) == read_tree(src)
    for rel in ("d1/sub1/f1.txt", "d2/sub2/f2.txt"):
        s, d = os.lstat(src / rel), os.lstat(dst / rel)
        assert (stat.S_IMODE(d.st_mode), d.st_mtime_ns) == (stat.S_IMODE(s.st_mode), s.st_mtime_ns)
    target, source = entries(library, c.target_location_id), entries(library, c.source_location_id)
    files = {k: e for k, e in target.items() if e.kind == "file"}
    assert len(files) == FILES
    for key, e in files.items():
        assert e.hash is not None and e.hash == source[key].hash
        assert e.inode == os.lstat(dst / key).st_ino
    assert temp_files(dst) == []
    again = _sync(library, c.id)
    assert (again.copied, again.deleted, again.errors) == (0, 0, [])


def test_a_copy_reaches_the_base_only_after_its_rename_is_durable(
    library, mirror, tmp_path: Path, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    log = tmp_path / "worker.log"
    real_commit, real_durable, real_sync_dirs, real_place = (
        transfer.commit_file,
        transfer.make_durable,
        transfer.sync_dirs,
        transfer.place_new_dir,
    )

    def note(line: str) -> None:  # a line per event, appended by the workers
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {line}\n")

    def commit(staged, s, item, dst_path, expect, remover):  # type: ignore[no-untyped-def]
        real_commit(staged, s, item, dst_path, expect, remover)
        note(f"renamed {dst_path}")

    def place(path, folder):  # type: ignore[no-untyped-def]
        done = real_place(path, folder)
        if done:  # a new folder with its files
            note(f"renamed {folder}")
        return done

    def durable(staged):  # type: ignore[no-untyped-def]
        synced = real_durable(staged)
        note("synced" if synced else "fsynced")  # syncfs: earlier renames durable too
        return synced

    def sync_dirs(dirs):  # type: ignore[no-untyped-def]
        dirs = {os.fspath(d) for d in dirs}
        real_sync_dirs(dirs)
        note("dirs " + "|".join(sorted(dirs)))

    recorded: list[tuple[str, list[str]]] = []
    real_base = snapshots._write_base

    def base_spy(conn, conduit_id, base):  # type: ignore[no-untyped-def]
        lines = log.read_text().splitlines() if log.exists() else []
        recorded.extend((k, list(lines)) for k, item in base.items() if item is not None)
        return real_base(conn, conduit_id, base)

    monkeypatch.setattr(transfer, "commit_file", commit)
    monkeypatch.setattr(transfer, "make_durable", durable)
    monkeypatch.setattr(transfer, "sync_dirs", sync_dirs)
    monkeypatch.setattr(transfer, "place_new_dir", place)
    monkeypatch.setattr(snapshots, "_write_base", base_spy)

    forking.ready()
    r = _sync(library, c.id)

    assert r.copied == FILES and not r.errors and forking.used()
    files = [(k, lines) for k, lines in recorded if (dst / k).is_file()]
    assert len({k for k, _ in files}) == FILES
    renames = [ln.split(" renamed ")[1] for ln in log.read_text().splitlines() if " renamed " in ln]
    whole = set(renames) - {str(dst / k) for k, _ in files}
    assert whole, "no new folder was made whole"
    # A file renamed on its own, or in its new folder (itself recorded only then too).
    for key, lines in [*files, *((k, ls) for k, ls in recorded if str(dst / k) in whole)]:
        path = str(dst / key)
        renamed = (path, os.path.dirname(path))
        at = next(i for i, ln in enumerate(lines) if ln.split(" renamed ")[-1] in renamed)
        pid, what = lines[at].split(" renamed ")[0], lines[at].split(" renamed ")[1]
        later = [ln.split(" ", 1)[1] for ln in lines[at + 1 :] if ln.split()[0] == pid]
        assert any(
            ln == "synced"
            or (ln.startswith("dirs ") and os.path.dirname(what) in ln[5:].split("|"))
            for ln in later
        ), f"{key} was recorded before its rename was made durable"


def test_a_new_folder_left_empty_is_made_durable_too(
    library, mirror, tmp_path: Path, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new folder whose only file changed at the source once staged is placed empty: no
    file of it is made durable, so the folder itself must be (its rename rewrote its `..`)."""
    src, dst, c = mirror
    (src / "solo").mkdir()
    (src / "solo" / "only.txt").write_text("as planned")
    log = tmp_path / "dirs.log"
    real_durable, real_sync_dirs = transfer.make_durable, transfer.sync_dirs

    def edit_once_staged(staged):  # type: ignore[no-untyped-def]
        if any(s.tmp_path.endswith(os.sep + "only.txt") for s in staged):
            (src / "solo" / "only.txt").write_text("edited after it was copied")
        return real_durable(staged)

    def sync_dirs(dirs):  # type: ignore[no-untyped-def]
        dirs = {os.fspath(d) for d in dirs}
        real_sync_dirs(dirs)
        with open(log, "a") as f:  # the workers' calls, from their processes
            f.write("".join(f"{d}\n" for d in dirs))

    monkeypatch.setattr(transfer, "make_durable", edit_once_staged)
    monkeypatch.setattr(transfer, "sync_dirs", sync_dirs)

    forking.ready()
    r = _sync(library, c.id)

    assert forking.used()
    assert [(e["path"], e["action"]) for e in r.errors] == [("solo/only.txt", "copy")]
    assert os.listdir(dst / "solo") == []
    assert str(dst / "solo") in log.read_text().splitlines()


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask022", "umask077"])
def test_copies_being_staged_are_out_of_others_reach_and_land_with_their_own_bits(
    library, mirror, tmp_path: Path, forking: Forking, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    """A new folder's files are made with their final bits at once: what keeps a half-made
    copy of a file from others is then the folder it is staged in, only its owner's until
    it gets its own bits and is put in place; and a umask that takes bits away changes
    none of the copies' bits."""
    src, dst, c = mirror
    os.chmod(src / "d3" / "sub0" / "f3.txt", 0o604)
    os.chmod(src / "d4" / "sub1" / "f4.txt", 0o755)
    log = tmp_path / "staged.log"
    real_stage = transfer.stage_files

    def stage(jobs):  # type: ignore[no-untyped-def]
        out = real_stage(jobs)  # a chunk's copies staged, none of them in place yet
        with open(log, "a") as f:  # from the workers' processes
            for (_, _, tmp_dir, _, _), staged in zip(jobs, out, strict=True):
                folder, made = os.stat(tmp_dir).st_mode, os.stat(staged.tmp_path).st_mode
                f.write(f"{stat.S_IMODE(folder)} {stat.S_IMODE(made)}\n")
        return out

    monkeypatch.setattr(transfer, "stage_files", stage)
    old = os.umask(umask)
    try:
        forking.ready()  # the helper and the workers take this umask with them
        r = _sync(library, c.id)
    finally:
        os.umask(old)

    assert r.status == "completed" and not r.errors and forking.used()
    staged = [tuple(int(m) for m in line.split()) for line in log.read_text().splitlines()]
    assert len(staged) == FILES
    for folder, made in staged:  # others can read it or enter where it is: never both
        assert not (made & 0o044 and folder & 0o011), (oct(folder), oct(made))
    assert any(made == 0o604 for _, made in staged) or umask & 0o004
    for rel in read_tree(src):
        if (src / rel).is_file():
            want = stat.S_IMODE(os.lstat(src / rel).st_mode)
            assert stat.S_IMODE(os.lstat(dst / rel).st_mode) == want, rel
    target = entries(library, c.target_location_id)
    assert target["d4/sub1/f4.txt"].mode == 0o755 and target["d3/sub0/f3.txt"].mode == 0o604


def test_new_folders_arrive_whole_and_nothing_in_their_way_is_replaced(
    library, mirror, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    os.chmod(src / "d4" / "sub1", 0o750)
    real_run, real_place, real_durable = (
        forked_copies.run,
        transfer.place_new_dir,
        transfer.make_durable,
    )

    def meddle_then_run(*a, **kw):  # type: ignore[no-untyped-def]
        # The user, after planning, where two new folders go: a folder of their own
        # holding a file under a name being copied, and a file.
        (dst / "d0" / "sub0").mkdir()
        (dst / "d0" / "sub0" / "f0.txt").write_text("mine")
        (dst / "d1" / "sub1").write_text("a file where a folder goes")
        return real_run(*a, **kw)

    def edit_once_staged(staged):  # type: ignore[no-untyped-def]
        if any(s.tmp_path.endswith(os.sep + "f5.txt") for s in staged):
            (src / "d5" / "sub2" / "f5.txt").write_text("edited after it was copied")
        return real_durable(staged)

    def place(path, folder):  # type: ignore[no-untyped-def]
        # Whole: every file the folder will hold is in it, under its own name, durable.
        names = sorted(os.listdir(path))
        assert names and all(not n.startswith(".spacesync") for n in names)
        return real_place(path, folder)

    monkeypatch.setattr(forked_copies, "run", meddle_then_run)
    monkeypatch.setattr(transfer, "make_durable", edit_once_staged)
    monkeypatch.setattr(transfer, "place_new_dir", place)

    forking.ready()
    r = _sync(library, c.id)

    errors = {(e["path"], e["action"]): e["message"] for e in r.errors}
    in_sub1 = sorted(k for k in read_tree(src) if k.startswith("d1/sub1/"))
    assert set(errors) == {
        ("d0/sub0/f0.txt", "copy"),
        ("d5/sub2/f5.txt", "copy"),
        ("d1/sub1", "mkdir"),
        *((k, "copy") for k in in_sub1),
    }
    assert "appeared" in errors[("d0/sub0/f0.txt", "copy")]
    assert "modified" in errors[("d5/sub2/f5.txt", "copy")]
    assert "appeared" in errors[("d1/sub1", "mkdir")]
    assert r.copied == FILES - 2 - len(in_sub1)
    # Nothing of the user's was replaced; the rest of that folder went into theirs.
    assert (dst / "d0" / "sub0" / "f0.txt").read_text() == "mine"
    assert (dst / "d1" / "sub1").read_text() == "a file where a folder goes"
    assert not (dst / "d5" / "sub2" / "f5.txt").exists()
    copied = {k: v for k, v in read_tree(dst).items() if v != "<dir>"}
    assert copied["d0/sub0/f21.txt"] == (src / "d0" / "sub0" / "f21.txt").read_text()
    assert stat.S_IMODE(os.lstat(dst / "d4" / "sub1").st_mode) == 0o750
    target = entries(library, c.target_location_id)
    assert target["d4/sub1"].kind == "dir" and "d1/sub1" not in target
    assert temp_files(dst) == []

    for name, real in (("run", real_run), ("make_durable", real_durable)):
        monkeypatch.setattr(forked_copies if name == "run" else transfer, name, real)
    forking.restart()
    again = _sync(library, c.id)
    assert again.status == "completed" and not again.errors
    assert read_tree(dst) == read_tree(src)
    assert versions_content(dst) == ["a file where a folder goes", "mine"]


def test_a_new_folder_holding_anything_else_is_made_before_its_copies(
    library, mirror, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    os.symlink("f3.txt", src / "d3" / "sub0" / "link")  # copied by this process, not a worker
    (src / "d4" / "sub1" / "deeper").mkdir()  # a folder in it: made before the copies
    real_place = transfer.place_new_dir

    def place(path, folder):  # type: ignore[no-untyped-def]
        done = real_place(path, folder)
        with open(os.path.join(os.path.dirname(os.fspath(dst)), "placed"), "a") as f:
            f.write(os.path.relpath(folder, dst) + "\n")
        return done

    monkeypatch.setattr(transfer, "place_new_dir", place)
    forking.ready()
    r = _sync(library, c.id)

    assert r.status == "completed" and not r.errors
    made = (dst.parent / "placed").read_text().split()
    assert "d3/sub0" not in made and "d4/sub1" not in made and "d4/sub1/deeper" not in made
    assert "d3/sub1" in made and len(made) == 7 * 3 - 2
    assert read_tree(dst, all_dirs=True) == read_tree(src, all_dirs=True)


def test_new_folders_with_odd_names_arrive_whole_under_their_own_names(
    library, tmp_path: Path, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _source(src)
    dst.mkdir()
    latin1 = os.fsencode(src) + b"/d\xe9j\xe0"  # not UTF-8: its key is not its name
    os.mkdir(latin1)
    for i in range(4):
        with open(latin1 + b"/f%d.txt" % i, "wb") as f:
            f.write(b"x" * (i + 1))
    nfd = src / unicodedata.normalize("NFD", "café")  # the key is NFC
    nfd.mkdir()
    for i in range(4):
        (nfd / f"g{i}").write_text("y" * (i + 1))
    c = add_conduit(library, src, dst, "mirror")
    placed = tmp_path / "placed"
    real_place = transfer.place_new_dir

    def place(path, folder):  # type: ignore[no-untyped-def]
        done = real_place(path, folder)
        with open(placed, "ab") as f:
            f.write(os.fsencode(os.path.relpath(folder, dst)) + b"\n")
        return done

    monkeypatch.setattr(transfer, "place_new_dir", place)
    forking.ready()
    r = _sync(library, c.id)

    assert r.status == "completed" and not r.errors and r.copied == FILES + 8
    assert {b"d\xe9j\xe0", os.fsencode(nfd.name)} <= set(placed.read_bytes().split(b"\n"))

    def tree(root: Path) -> dict[bytes, bytes]:
        top = os.fsencode(root)
        return {
            os.path.relpath(os.path.join(d, n), top): Path(
                os.fsdecode(os.path.join(d, n))
            ).read_bytes()
            for d, _, names in os.walk(top)
            if b".spacesync" not in d
            for n in names
        }

    assert tree(dst) == tree(src)


def test_a_source_changed_after_planning_fails_alone(
    library, mirror, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    real_run = forked_copies.run

    def edit_then_run(*a, **kw):  # type: ignore[no-untyped-def]
        (src / "d3" / "sub0" / "f3.txt").write_text("edited after the scan, longer than before")
        return real_run(*a, **kw)

    monkeypatch.setattr(forked_copies, "run", edit_then_run)

    forking.ready()
    r = _sync(library, c.id)

    assert r.copied == FILES - 1 and forking.used()
    assert [(e["path"], "modified" in e["message"]) for e in r.errors] == [("d3/sub0/f3.txt", True)]
    assert not (dst / "d3" / "sub0" / "f3.txt").exists()
    assert "d3/sub0/f3.txt" not in entries(library, c.target_location_id)
    monkeypatch.setattr(forked_copies, "run", real_run)
    again = _sync(library, c.id)
    assert again.copied == 1 and not again.errors
    assert read_tree(dst) == read_tree(src)


def test_a_worker_that_dies_fails_its_unreported_files_and_the_next_run_completes(
    library, mirror, tmp_path: Path, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    parent = os.getpid()
    real_commit = forked_copies._commit
    dying = tmp_path / "dying"
    mine: list[int] = []  # this process's commits: each worker counts its own

    def crash_later(*a):  # type: ignore[no-untyped-def]
        mine.append(1)
        if os.getpid() != parent and len(mine) == 2:
            try:  # one worker dies, at its second chunk: the others go on and report
                os.close(os.open(dying, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return real_commit(*a)
            real_commit(*a)  # renamed, never reported (nor its first chunk)
            os._exit(9)
        return real_commit(*a)

    monkeypatch.setattr(forked_copies, "_commit", crash_later)

    forking.ready()
    r = _sync(library, c.id)

    assert r.errors and not r.verified
    assert {e["message"] for e in r.errors} == {forked_copies.WORKER_DIED}
    failed = [e for e in r.errors if e["action"] == "copy"]
    assert 0 < r.copied < FILES and r.copied + len(failed) == FILES
    # Whatever is under a real name is whole; only reported copies are indexed.
    indexed = {k for k, e in entries(library, c.target_location_id).items() if e.kind == "file"}
    on_disk = {k for k, v in read_tree(dst).items() if v != "<dir>"}
    assert indexed <= on_disk and len(indexed) == r.copied
    assert all((dst / k).read_bytes() == (src / k).read_bytes() for k in on_disk)

    monkeypatch.setattr(forked_copies, "_commit", real_commit)
    forking.restart()
    again = _sync(library, c.id)
    assert again.status == "completed" and not again.errors
    # The files the dead worker renamed without reporting are taken as they are.
    assert again.copied == FILES - len(on_disk)
    assert read_tree(dst) == read_tree(src)
    assert temp_files(dst) == []


def test_stopping_lets_the_workers_finish_their_chunk_and_the_next_run_completes(
    library, mirror, forking: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    landed: list[str] = []
    # 15 chunks of 0.3 s or more each: the stop reaches the workers long before the end.
    monkeypatch.setattr(forked_copies, "CHUNK_FILES", 8)
    real_stage = forked_copies._stage

    def slow_stage(*a):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return real_stage(*a)

    monkeypatch.setattr(forked_copies, "_stage", slow_stage)

    def emit(ev) -> None:  # type: ignore[no-untyped-def]
        if isinstance(ev, ItemFinished) and ev.ok and ev.op == "copy":
            landed.append(ev.path)

    forking.ready()
    r = FileSyncService(
        library, emit=emit, fork_workers=True, should_stop=lambda: bool(landed)
    ).sync(c.id)

    assert r.status == "failed" and "stopped" in (r.reason or "") and not r.errors
    assert 0 < r.copied < FILES and len(landed) == r.copied
    indexed = {k for k, e in entries(library, c.target_location_id).items() if e.kind == "file"}
    assert indexed == set(landed)
    assert temp_files(dst) == []
    monkeypatch.setattr(forked_copies, "_stage", real_stage)
    forking.restart()
    again = _sync(library, c.id)
    assert again.status == "completed" and again.copied + r.copied >= FILES
    assert read_tree(dst) == read_tree(src)


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    _small_thresholds(monkeypatch)
    yield Forking("helper", monkeypatch)
    forked_copies.stop_helper()


def test_a_helper_that_died_leaves_the_copies_to_threads(library, mirror, helper: Forking) -> None:
    src, dst, c = mirror
    helper.ready()
    process = forked_copies._helper
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    for _ in range(100):  # until the kernel reports it gone
        if not process.alive():
            break
        time.sleep(0.05)

    r = _sync(library, c.id)

    assert r.status == "completed" and r.copied == FILES and not r.errors
    assert helper.helper_runs == 0  # usable() said no: the copy threads did it
    assert read_tree(dst) == read_tree(src)


def test_a_bandwidth_limit_keeps_the_copies_in_this_process(
    library, tmp_path: Path, forking: Forking
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _source(src)
    dst.mkdir()
    # The limit is shared by the copy threads; workers in other processes would ignore it.
    c = add_conduit(library, src, dst, "mirror", bwlimit=50_000_000)
    forking.ready()

    r = _sync(library, c.id)

    assert r.status == "completed" and r.copied == FILES and not forking.used()
    assert read_tree(dst) == read_tree(src)


def test_a_helper_that_dies_during_a_run_fails_what_it_did_not_report(
    library, mirror, helper: Forking, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, c = mirror
    parent = os.getpid()
    real_handle = forked_copies._Worker.handle
    handled = 0

    def die_at_the_third_report(self, msg, on):  # type: ignore[no-untyped-def]
        nonlocal handled  # counts in the helper's own memory
        real_handle(self, msg, on)
        handled += 1
        if os.getpid() != parent and handled == 3:
            os._exit(9)  # the helper, with its workers' reports half relayed

    monkeypatch.setattr(forked_copies._Worker, "handle", die_at_the_third_report)
    helper.ready()

    r = _sync(library, c.id)

    assert r.errors and {e["message"] for e in r.errors} == {forked_copies.WORKER_DIED}
    assert r.copied + len([e for e in r.errors if e["action"] == "copy"]) == FILES
    process = forked_copies._helper
    assert process is not None and not process.alive()  # later runs copy with threads
    indexed = {k for k, e in entries(library, c.target_location_id).items() if e.kind == "file"}
    assert len(indexed) == r.copied
    # The helper's workers were killed with it, but one may still be finishing a system
    # call (a syncfs): its temps are removed by the first run after it is gone.
    _until_writers_gone(dst)
    again = _sync(library, c.id)
    assert again.status == "completed" and not again.errors
    assert read_tree(dst) == read_tree(src)
    assert temp_files(dst) == []


def _until_writers_gone(root: Path, limit: float = 10.0) -> None:
    tmp = transfer.root_tmp_dir(root)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        names = os.listdir(tmp) if os.path.isdir(tmp) else []
        if all(transfer.is_stale_temp(os.path.join(tmp, n)) for n in names):
            return
        time.sleep(0.01)


def _ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc (Linux)")
def test_copy_workers_end_with_the_process_that_forked_them(
    library, mirror, helper: Forking, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src, dst, c = mirror
    parent = os.getpid()
    pids = tmp_path / "worker-pids"
    real_stage = forked_copies._stage

    def slow_stage(*a):  # type: ignore[no-untyped-def]
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(2)  # every chunk: long after its helper is gone
        return real_stage(*a)

    real_start = forked_copies._Worker.start.__func__  # type: ignore[attr-defined]

    def start_then_die(cls, *a):  # type: ignore[no-untyped-def]
        w = real_start(cls, *a)
        if os.getpid() != parent:  # the helper, once it forked a worker
            time.sleep(0.5)
            os._exit(9)
        return w

    monkeypatch.setattr(forked_copies, "_stage", slow_stage)
    monkeypatch.setattr(forked_copies._Worker, "start", classmethod(start_then_die))
    helper.ready()

    r = _sync(library, c.id)

    assert {e["message"] for e in r.errors} == {forked_copies.WORKER_DIED}
    (worker,) = {int(p) for p in pids.read_text().split()}
    deadline = time.monotonic() + 1.0  # well inside its 2 s nap
    while not _ended(worker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _ended(worker)  # killed with its helper, not copying behind the next run's back


def test_the_work_handed_to_the_copy_helper_arrives_as_it_was(tmp_path: Path) -> None:
    """What the app's engine pickles for its CopyHelper (in columns, see Copies.__reduce__)
    unpickles to the same jobs: paths, items (as Items), staging roots, one Remover shared
    by its jobs as before, new folders and chunks."""
    remover = transfer.Remover(tmp_path, "versioning", "2026-11-27_160000")
    other = transfer.Remover(tmp_path / "b", "trash", "2026-11-27_160000")
    jobs = [
        forked_copies.Job(
            f"/src/d{i}/f.txt",
            Item("file", i, 10**18 + i, None if i % 2 else f"{i:032x}", None, 0o640, 7 + i),
            f"/dst/d{i}/f.txt",
            "/dst/.spacesync/tmp" if i < 3 else "/b/.spacesync/tmp",
            remover if i < 3 else other,
            folder=i - 1,
        )
        for i in range(5)
    ]
    work = forked_copies.Copies(
        jobs, [range(0, 3), range(3, 5)], 2, [forked_copies.NewFolder("/dst/d1", 0o750)]
    )
    back = pickle.loads(pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL))

    def plain(w: forked_copies.Copies) -> tuple:  # type: ignore[type-arg]
        fields = [(j.src, j.item, j.dst, j.tmp_root, j.folder) for j in w.jobs]
        removers = [(j.remover.root, j.remover.mode, j.remover.stamp) for j in w.jobs]
        return fields, removers, list(w.chunks), w.workers, list(w.folders)

    assert plain(back) == plain(work)
    assert all(type(j.item) is Item for j in back.jobs)
    assert back.jobs[0].remover is back.jobs[2].remover is not back.jobs[3].remover
