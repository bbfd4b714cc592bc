"""Writing to disk without losing data (SPEC 3.6): copies, links, folders, moves, touches.

Every file write goes to a temp file (`.spacesync/tmp/` of the destination root, or a hidden
sibling when that is on another file system), is hashed while it streams, compared with
the index, made durable, and only then renamed over the real name. Right before that
rename both ends are re-checked against the scan: an unseen change is never overwritten
(`SourceChanged` / `DestinationChanged`), and whatever gets replaced is first handed to
the endpoint's `Remover` (versions store, trash or permanent, see `versions.py`).

Temp names carry the writer's pid (and, on Linux, its start time) so `clean_temp` can tell
a crashed run's leftovers from a live run's work.

All functions take absolute paths and are safe to call from several copy threads at once.
OSError is let through for the caller to report; it never leaves a partial file under a
real name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import itertools
import os
import secrets
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from .constants import DIR, FILE, SYMLINK
from .paths import TMP_PREFIX
from .paths import tmp_dir as root_tmp_dir
from .plan import Item

if TYPE_CHECKING:
    from .versions import Remover

StrPath = str | os.PathLike[str]

# A copy buffer small enough to stay in the CPU's L2 cache (1 MiB a core here) while the
# kernel copies it into the page cache, we think: measured on a 2-vCPU EPYC (Linux 6.18,
# ext4), an in-process W3 mirror (2 x 1 GiB, hashed, fsynced) took 0.92-1.01 s with
# 256 KiB, 2.0-2.7 s with 4 MiB (the kernel's copy from the buffer ran 4-8x slower), five
# alternating pairs; 128 KiB: the same, 512 KiB: a bit slower. Plain read+write, not mmap:
# a source truncated while mapped would kill the process (SIGBUS).
CHUNK = 256 * 1024
# From this many files on one file system, one syncfs beats an fsync per file (1,000 x 4 KB
# on ext4: 0.37 s with syncfs against 0.74 s with 1,000 fsyncs, stage+commit included).
SYNCFS_MIN_FILES = 32

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_IS_LINUX = sys.platform.startswith("linux")
_IS_WINDOWS = os.name == "nt"

# The C accelerator of stage_file (csrc/fastcopy.c, an optional build: see setup.py); None
# where it was not built, and then the Python path below does every copy.
try:
    from . import _fastcopy as _fast  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - built wherever a C compiler is
    _fast = None


# --- errors -----------------------------------------------------------------------------


class TransferError(Exception):
    """An item was skipped because the disk no longer matches the plan (user-readable)."""

    def __init__(self, path: StrPath, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        return f"{self.path}: {self.reason}"


def error_message(e: BaseException) -> str:
    """What a user reads about a copy, move or delete that failed with `e`."""
    if isinstance(e, TransferError):
        return str(e)
    if isinstance(e, OSError):
        return e.strerror or e.__class__.__name__
    return str(e)


class SourceChanged(TransferError):
    def _message(self) -> str:
        return (
            f"skipped {self.path}: the source changed since it was scanned ({self.reason}); "
            "it will be synced on the next run"
        )


class DestinationChanged(TransferError):
    def _message(self) -> str:
        return (
            f"skipped {self.path}: the destination changed since it was scanned "
            f"({self.reason}); nothing was overwritten"
        )


class DirectoryNotEmpty(DestinationChanged):
    def _message(self) -> str:
        return f"left folder {self.path} in place: {self.reason}"


# --- small helpers ----------------------------------------------------------------------


def kind_of(st: os.stat_result) -> str:
    if stat.S_ISREG(st.st_mode):
        return FILE
    if stat.S_ISDIR(st.st_mode):
        return DIR
    if stat.S_ISLNK(st.st_mode):
        return SYMLINK
    return "special file"


def mismatch(path: StrPath, expect: Item | None) -> str | None:
    """Why `path` on disk differs from what the scan recorded, or None when it matches.

    None expects nothing there; a file must keep size and mtime_ns (and inode when known);
    a folder must still be a folder; a symlink must keep its target.
    """
    try:
        st = os.lstat(path)
    except OSError as e:
        if e.errno not in _NO_LONGER_A_FOLDER:  # ELOOP: a folder above is a looping link
            raise
        return None if expect is None else "it no longer exists"
    kind = kind_of(st)
    if expect is None:
        return f"a {kind} appeared there"
    if kind != expect.kind:
        return f"it is now a {kind}, not a {expect.kind}"
    if kind == FILE:
        if st.st_size != expect.size or st.st_mtime_ns != expect.mtime_ns:
            return "it was modified"
        if expect.inode and st.st_ino != expect.inode:
            return "it was replaced by another file"
    elif kind == SYMLINK and os.readlink(path) != expect.link:
        return "its link target changed"
    return None


def _proc_stat(pid: int) -> list[bytes]:
    """The fields of /proc/PID/stat after the command name (Linux; [] elsewhere or gone):
    [0] is the state, [19] the start time in clock ticks since boot."""
    if not _IS_LINUX:
        return []
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return []
    # The command name may hold spaces and parentheses: fields restart after the last ')'.
    return data[data.rfind(b")") + 2 :].split()


def _proc_start(pid: int) -> str | None:
    """The process start time (Linux), to survive pid reuse."""
    fields = _proc_stat(pid)
    return fields[19].decode() if len(fields) > 19 else None


_own_token: dict[int, str] = {}


def _writer_token() -> str:
    # Keyed by pid because a forked child is another writer.
    pid = os.getpid()
    tok = _own_token.get(pid)
    if tok is None:
        start = _proc_start(pid)
        tok = f"{pid}.{start}" if start else str(pid)
        _own_token[pid] = tok
    return tok


_temp_seq = itertools.count()
_temp_salt: dict[int, str] = {}


def temp_name() -> str:
    """A fresh temp file name: TMP_PREFIX + writer (pid[.start]) + '-' + unique part.

    The unique part is a per-process random salt plus a counter: no system call per name
    (next() on a count is atomic under the GIL)."""
    pid = os.getpid()
    salt = _temp_salt.get(pid)
    if salt is None:
        salt = _temp_salt[pid] = secrets.token_hex(4)
    return f"{TMP_PREFIX}{_writer_token()}-{salt}{next(_temp_seq):x}"


def _parse_writer(name: str) -> tuple[int, str | None] | None:
    if not name.startswith(TMP_PREFIX):
        return None
    writer = name[len(TMP_PREFIX) :].split("-", 1)[0]
    pid_s, _, start = writer.partition(".")
    if not pid_s.isdigit():
        return None
    return int(pid_s), (start or None)


def _pid_alive(pid: int, start: str | None) -> bool:
    """Whether the writer may still run. Errs on 'alive': a kept temp costs only space."""
    if pid == os.getpid():
        return True
    if _IS_WINDOWS:
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # EPERM: it exists but belongs to someone else
    fields = _proc_stat(pid)
    if fields and fields[0] in (b"Z", b"X"):
        return False  # ended, not reaped yet (a killed copy worker whose parent died)
    # A different start time: the pid was reused by another process.
    return start is None or len(fields) <= 19 or fields[19].decode() == start


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - not run on Linux CI
    # os.kill(pid, 0) would terminate the process on Windows.
    try:
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    except AttributeError:
        return True
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return bool(kernel32.GetLastError() == 5)  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _unlink_quiet(path: StrPath) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_path(path: StrPath) -> None:
    # Read-only is enough for fsync on POSIX and works when the mode is already 0o444.
    fd = os.open(path, os.O_RDONLY | _O_BINARY | _O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# A folder a run renamed something in may be no folder any more (removed since, or the
# user put a file or a link in its place): nothing of it is left to make durable.
_NO_LONGER_A_FOLDER = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def sync_dirs(dirs: Iterable[StrPath]) -> None:
    """fsync folders so the renames in them survive a power loss (no-op on Windows).

    Many folders on Linux: one `syncfs` per file system instead (see make_durable)."""
    if _IS_WINDOWS:
        return
    unique = {os.fspath(x) for x in dirs}
    if _syncfs is not None and len(unique) >= SYNCFS_MIN_FILES:
        by_fs: dict[int, list[str]] = {}
        for d in unique:
            try:
                by_fs.setdefault(os.stat(d).st_dev, []).append(d)
            except OSError as e:
                if e.errno not in _NO_LONGER_A_FOLDER:
                    raise
        for folders in by_fs.values():
            for d in folders:  # the first that still exists syncs its whole file system
                try:
                    _syncfs_path(d)
                except OSError as e:
                    if e.errno not in _NO_LONGER_A_FOLDER:
                        raise
                else:
                    break
        return
    for d in unique:
        try:
            fd = os.open(d, os.O_RDONLY)
        except OSError as e:
            if e.errno in _NO_LONGER_A_FOLDER:
                continue  # its parent records that it went
            raise
        try:
            os.fsync(fd)
        except OSError as exc:
            # Some file systems (e.g. certain FUSE/CIFS) refuse fsync on folders.
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
                raise
        finally:
            os.close(fd)


# --- libc: renameat2(RENAME_NOREPLACE) and syncfs ----------------------------------------

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _load_libc() -> Any:
    if not _IS_LINUX:
        return None
    # glibc's name first: find_library runs `ldconfig -p` in a child process (~11 ms of
    # every CLI start); other C libraries (musl) are found by it.
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        pass
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so", use_errno=True)
    except OSError:
        return None


_libc = _load_libc()
_renameat2: Any = getattr(_libc, "renameat2", None) if _libc is not None else None
if _renameat2 is not None:
    _renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    _renameat2.restype = ctypes.c_int
_syncfs: Any = getattr(_libc, "syncfs", None) if _libc is not None else None
if _syncfs is not None:
    _syncfs.argtypes = [ctypes.c_int]
    _syncfs.restype = ctypes.c_int
_sync_file_range: Any = getattr(_libc, "sync_file_range", None) if _libc is not None else None
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    _sync_file_range.restype = ctypes.c_int
_SYNC_FILE_RANGE_WRITE = 2
# Copies that fsync right away start write-back every this many bytes as they go, so the
# fsync has little left to do (measured: 1 GiB + fsync 2.8 s -> 2.35 s, on par with
# `cp && sync`). Batched staging skips it: it would make them disk-bound before the batch
# needs to be.
WRITEBACK_STEP = 16 * 1024 * 1024
# Files from this size are fsynced by the copy thread that wrote them (with write-back
# started as they stream), not by the chunk's syncfs (executor.py).
DURABLE_ALONE_BYTES = 8 * 1024 * 1024


def rename_noreplace(src: StrPath, dst: StrPath) -> None:
    """Rename that never replaces anything: FileExistsError when `dst` exists."""
    src, dst = os.fspath(src), os.fspath(dst)
    if _renameat2 is not None:
        if (
            _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
            == 0
        ):
            return
        err = ctypes.get_errno()
        # EINVAL/ENOSYS/ENOTSUP: the file system or kernel lacks the flag; fall back below.
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), src, None, dst)
    if _IS_WINDOWS:  # pragma: no cover - os.rename never replaces on Windows
        os.rename(src, dst)
        return
    if not stat.S_ISDIR(os.lstat(src).st_mode):
        # link() fails with EEXIST instead of replacing: an atomic no-clobber for files.
        try:
            os.link(src, dst, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError:
            pass  # no hard links here (FAT, some FUSE): the checked rename below
        else:
            os.unlink(src)
            return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst)


# --- bandwidth ----------------------------------------------------------------------------


class BandwidthLimiter:
    """A token bucket shared by all copy threads of a run (1 MB = 1,000,000 bytes).

    `consume(n)` takes n bytes from the bucket and sleeps off any debt outside the lock,
    so concurrent callers queue up fairly and together stay at the configured rate. The
    clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        mb_per_s: float,
        *,
        burst_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mb_per_s <= 0:
            raise ValueError("bandwidth limit must be above 0 MB/s")
        self.rate = mb_per_s * 1_000_000.0  # bytes per second
        self.burst = self.rate * burst_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def reserve(self, nbytes: int) -> float:
        """Take `nbytes` now; return how long the caller must wait to honour the rate."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= nbytes
            return -self._tokens / self.rate if self._tokens < 0 else 0.0

    def consume(self, nbytes: int) -> None:
        wait = self.reserve(nbytes)
        if wait > 0:
            self._sleep(wait)


# --- staging ------------------------------------------------------------------------------


@dataclass
class Staged:
    """A verified temp copy waiting to be committed under its real name."""

    tmp_path: str
    size: int
    hash: str
    sibling: bool = False  # written next to the destination, not in .spacesync/tmp
    durable: bool = False  # fsynced (or covered by a syncfs) already
    inode: int = 0  # of the temp, which keeps it under the real name (index bookkeeping)
    mode: int = 0
    dev: int = 0  # the temp's file system (0: unknown)


_local = threading.local()


def _buffer() -> memoryview:
    # One buffer per thread: allocating (and zeroing) 4 MiB per small file would dominate.
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(CHUNK))
    return buf


def _nearest_existing(path: str) -> str:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


# Folders known to exist. A run creates thousands of files in a few folders; asking the
# file system each time (makedirs = stat + mkdir) cost more than the copy of a small file.
# A folder removed behind our back only makes the next open fail, which is reported.
_known_dirs: set[str] = set()


def ensure_dir(path: str) -> None:
    if path not in _known_dirs:
        make_dirs(path)
        _known_dirs.add(path)


def make_dirs(path: str) -> None:
    """os.makedirs that never replaces anything: a file or link standing where one of the
    folders should be (the user put it there since the scan) is a DestinationChanged."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        # ELOOP: a folder on the way became a symlink that loops (or a chain too long).
        if not isinstance(e, FileExistsError) and e.errno not in _NO_LONGER_A_FOLDER:
            raise
        reason = _not_a_folder(path)
        if reason is None:
            raise  # nothing in the way: the folder above went away (reported as is)
        raise DestinationChanged(path, reason) from None


def _not_a_folder(path: str) -> str | None:
    """Why `path` cannot be made: its outermost component that is there but does not lead
    to a folder (a file, a dangling link, ...); None when there is none."""
    blocker: tuple[str, str] | None = None
    probe = path
    while True:
        try:
            st = os.lstat(probe)
        except OSError:
            pass
        else:
            if not stat.S_ISDIR(st.st_mode) and not os.path.isdir(probe):
                blocker = (probe, kind_of(st))
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if blocker is None:
        return None
    where, kind = blocker
    return f"{'it' if where == path else where} is now a {kind}, not a folder"


def drop_dir(path: str) -> None:
    """Remove an empty staging folder (left alone when not empty: clean_temp's job)."""
    _known_dirs.discard(path)
    for key in [k for k in _staging if k[0] == path]:
        del _staging[key]
    try:
        os.rmdir(path)
    except OSError:
        pass


# (tmp_dir, destination folder) -> where to stage, so the file system is asked (three
# stats) once per folder, not once per file. Should a mount appear there later, the
# commit's rename fails with EXDEV and restages beside the destination.
_staging: dict[tuple[str, str], tuple[str, bool]] = {}


def _staging_folder(tmp_dir: StrPath, dst: StrPath | None) -> tuple[str, bool]:
    """Where to write the temp: tmp_dir, or beside `dst` when they are on different devices."""
    tmp = os.fspath(tmp_dir)
    ensure_dir(tmp)
    if dst is None:
        return tmp, False
    folder = os.path.dirname(os.fspath(dst))
    where = _staging.get((tmp, folder))
    if where is None:
        near = _nearest_existing(folder)
        where = (near, True) if os.stat(near).st_dev != os.stat(tmp).st_dev else (tmp, False)
        if where[0] == tmp or near == folder:
            _staging[(tmp, folder)] = where
    return where


def _stream(
    fin: int,
    fout: int,
    limit: int,
    limiter: BandwidthLimiter | None,
    progress: Callable[[int], None] | None,
    what: str,
    writeback: bool = False,
) -> tuple[int, str]:
    """Copy fin → fout hashing the bytes as they go; stop as soon as more than `limit` came."""
    h = xxhash.xxh3_128()
    buf = _buffer()
    total = 0
    flushed = 0
    while True:
        n = os.readv(fin, [buf])
        if not n:
            break
        total += n
        if total > limit:
            raise SourceChanged(what, "it grew while being copied")
        chunk = buf[:n]
        h.update(chunk)
        if limiter is not None:
            limiter.consume(n)
        done = 0
        while done < n:
            done += os.write(fout, chunk[done:])
        if writeback and _sync_file_range is not None and total - flushed >= WRITEBACK_STEP:
            # Only starts write-back (no waiting); errors surface at fsync/syncfs.
            _sync_file_range(fout, flushed, total - flushed, _SYNC_FILE_RANGE_WRITE)
            flushed = total
        if progress is not None:
            progress(n)
        if total == limit:
            # All the bytes expected: no read to see the end. Had the file grown, the
            # caller's fstat after the copy would tell (stage_file checks size and mtime).
            break
    return total, h.hexdigest()


def _modes(expect_src: Item, private: bool) -> tuple[int, bool]:
    """The bits a staged copy gets (0: none to give), and whether it is made with them at
    once: 0o600 until verified, so that a half-written copy of a private file stays
    private; in a private folder nobody else can reach it anyway, so its own bits at once,
    and one fchmod less for each of a new folder's files (~0.07 CPU-s per W1 mirror)."""
    want = stat.S_IMODE(expect_src.mode) if expect_src.mode else 0
    return want, private and want != 0


def _fast_job(
    src: str, expect_src: Item, folder: str, name: str | None, private: bool
) -> tuple[str, str, int, int, int, bool] | None:
    """The accelerator's arguments for this copy into `folder`; None when it does not take
    it (not built here, or a file too big for it)."""
    if _fast is None or expect_src.size > _fast.MAX_SIZE:
        return None
    want, at_once = _modes(expect_src, private)
    tmp_path = os.path.join(folder, name or temp_name())
    return (src, tmp_path, expect_src.size, expect_src.mtime_ns, want, at_once)


def _fast_staged(
    job: tuple[str, str, int, int, int, bool],
    expect_src: Item,
    sibling: bool,
    done: tuple[str, int, int, int] | None,
) -> Staged | None:
    """The accelerator's copy (`done`: its digest, inode, bits and device) as staged; None,
    its temp gone, when it left the copy to the Python path or the bytes are not the ones
    the scan hashed (that path then says so)."""
    if done is None:
        return None
    digest, inode, mode, dev = done
    if expect_src.hash is not None and digest != expect_src.hash:
        _unlink_quiet(job[1])
        return None
    return Staged(job[1], expect_src.size, digest, sibling, inode=inode, mode=mode, dev=dev)


# A copy for stage_files: (src, expect_src, tmp_dir, name, private), as stage_file takes them.
StageJob = tuple[str, Item, str, "str | None", bool]


def stage_files(jobs: Sequence[StageJob]) -> list[Staged | TransferError | OSError]:
    """`stage_file(src, expect_src, tmp_dir, name=name, private=private)` of each job, in
    order: its Staged, or the error it raised. The accelerator takes the small files all
    in one call, without the interpreter between them (a copy worker's chunk); what it
    leaves goes through stage_file."""
    out: list[Staged | TransferError | OSError | None] = [None] * len(jobs)
    tried: dict[int, str] = {}  # the jobs the accelerator had: their staging folder
    if _fast is not None:
        fast = []
        for k, (src, it, tmp_dir, name, private) in enumerate(jobs):
            if it.kind != FILE:
                continue
            try:
                folder = _staging_folder(tmp_dir, None)[0]
            except OSError:
                continue  # stage_file tells
            args = _fast_job(src, it, folder, name, private)
            if args is not None:
                fast.append((k, args))
                tried[k] = folder
        done = _fast.stage_many([args for _, args in fast])
        for (k, args), d in zip(fast, done, strict=True):
            out[k] = _fast_staged(args, jobs[k][1], False, d)
    result: list[Staged | TransferError | OSError] = []
    for k, (src, it, tmp_dir, name, private) in enumerate(jobs):
        staged = out[k]
        if staged is None:
            try:
                if k in tried:  # left by the accelerator: this way, which tells why
                    staged = _stage_here(src, it, tried[k], False, None, None, False, name, private)
                else:
                    staged = stage_file(src, it, tmp_dir, name=name, private=private)
            except (TransferError, OSError) as e:
                staged = e
        result.append(staged)
    return result


def stage_file(
    src: StrPath,
    expect_src: Item,
    tmp_dir: StrPath,
    *,
    limiter: BandwidthLimiter | None = None,
    progress: Callable[[int], None] | None = None,
    dst: StrPath | None = None,
    durable: bool = False,
    name: str | None = None,
    private: bool = False,
) -> Staged:
    """Copy `src` into a new temp file, verified against the indexed size and xxh3-128.

    The temp gets `expect_src`'s mtime and permission bits. Pass `dst` to stage beside it
    straight away when tmp_dir is on another file system; `durable=True` fsyncs here
    (otherwise call `make_durable` before `commit_file`). `name`: the temp's name in
    tmp_dir instead of a fresh temp name (a private staging folder's file takes its final
    name, see `place_new_dir`). `private`: tmp_dir is a folder only its owner can enter
    (0o700), so the temp is made with its final permission bits at once. Raises
    SourceChanged (temp removed) when the bytes read are not the ones the scan saw.
    """
    if expect_src.kind != FILE:
        raise ValueError(f"stage_file copies files, not a {expect_src.kind}")
    src = os.fspath(src)
    folder, sibling = _staging_folder(tmp_dir, dst)
    job = (
        None
        if durable or limiter is not None
        else _fast_job(src, expect_src, folder, name, private)
    )
    if job is not None:
        staged = _fast_staged(job, expect_src, sibling, _fast.stage_many([job])[0])
        if staged is not None:
            if progress is not None:
                progress(expect_src.size)
            return staged
        # Not as expected (the accelerator removed its temp): the copy again, this way,
        # which tells why.
    return _stage_here(src, expect_src, folder, sibling, limiter, progress, durable, name, private)


def _stage_here(
    src: str,
    expect_src: Item,
    folder: str,
    sibling: bool,
    limiter: BandwidthLimiter | None,
    progress: Callable[[int], None] | None,
    durable: bool,
    name: str | None,
    private: bool,
) -> Staged:
    """stage_file's copy in Python, into `folder`: every copy the accelerator does not
    take or leaves, with the checks that say why one fails."""
    want, at_once = _modes(expect_src, private)
    try:
        fin = os.open(src, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise SourceChanged(src, "it no longer exists") from None
        if exc.errno == errno.ELOOP:
            raise SourceChanged(src, "it is now a symlink") from None
        raise
    tmp_path = os.path.join(folder, name or temp_name())
    fout = -1
    made = False  # only a temp made here is removed: not what had the name already
    try:
        st = os.fstat(fin)
        if not stat.S_ISREG(st.st_mode):
            raise SourceChanged(src, f"it is now a {kind_of(st)}")
        if st.st_size != expect_src.size or st.st_mtime_ns != expect_src.mtime_ns:
            raise SourceChanged(src, "it was modified")
        create = want if at_once else 0o600
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
        try:
            fout = os.open(tmp_path, flags, create)
        except FileNotFoundError:  # the temp folder went away since we last made it
            _known_dirs.discard(folder)
            ensure_dir(folder)
            fout = os.open(tmp_path, flags, create)
        made = True
        size, digest = _stream(
            fin, fout, expect_src.size, limiter, progress, src, writeback=durable
        )
        if size != expect_src.size:
            raise SourceChanged(src, "its size changed while being copied")
        if expect_src.hash is not None and digest != expect_src.hash:
            raise SourceChanged(src, "its content differs from the scan")
        after = os.fstat(fin)
        if after.st_size != st.st_size or after.st_mtime_ns != st.st_mtime_ns:
            # Without a scan hash (deferred.py) this is what tells a torn read.
            raise SourceChanged(src, "it was modified while being copied")
        if want and not at_once:
            if hasattr(os, "fchmod"):
                os.fchmod(fout, want)
            else:  # pragma: no cover - Windows before 3.13
                os.chmod(tmp_path, want)
        times = (st.st_atime_ns, expect_src.mtime_ns)
        if os.utime in os.supports_fd:
            os.utime(fout, ns=times)  # last: nothing may write after it
        else:  # pragma: no cover
            os.utime(tmp_path, ns=times)
        tmp_st = os.fstat(fout)
        mode = stat.S_IMODE(tmp_st.st_mode)
        if at_once and mode != want:  # the umask took bits away (fchmod leaves mtime be)
            os.fchmod(fout, want)
            mode = want
        if durable or _IS_WINDOWS:
            # Windows cannot fsync a read-only file later, so it always syncs here.
            os.fsync(fout)
            durable = True
        os.close(fout)
        fout = -1
    except BaseException:
        if fout >= 0:
            os.close(fout)
        if made:
            _unlink_quiet(tmp_path)
        raise
    finally:
        os.close(fin)
    return Staged(
        tmp_path,
        size,
        digest,
        sibling=sibling,
        durable=durable,
        inode=tmp_st.st_ino,
        mode=mode,
        dev=tmp_st.st_dev,
    )


def discard(staged: Staged) -> None:
    """Drop a staged temp that will not be committed (idempotent)."""
    _unlink_quiet(staged.tmp_path)


def _syncfs_path(path: str) -> None:
    """syncfs(2) of the file system holding `path`."""
    assert _syncfs is not None
    fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
    try:
        if _syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


def make_durable(staged_list: Sequence[Staged]) -> set[int]:
    """Flush staged temps to stable storage before any of them is committed.

    Few files: one fsync each. Many files on Linux: one `syncfs` per file system, which
    is one journal commit instead of one per file (about 2x faster for 1,000 small files
    on ext4; on Linux >= 5.8 it also reports write-back errors, like fsync).

    Returns the devices (st_dev) that were synced whole: everything done on them before
    this call (earlier renames included) is durable now.
    """
    pending = [s for s in staged_list if not s.durable]
    if not pending:
        return set()
    if _syncfs is not None and len(pending) >= SYNCFS_MIN_FILES:
        one_per_fs: dict[int, str] = {}
        for s in pending:
            one_per_fs.setdefault(s.dev or os.stat(s.tmp_path).st_dev, s.tmp_path)
        for path in one_per_fs.values():
            _syncfs_path(path)
        synced = set(one_per_fs)
    else:
        for s in pending:
            _fsync_path(s.tmp_path)
        synced = set()
    for s in pending:
        s.durable = True
    return synced


# --- committing ---------------------------------------------------------------------------


def _copy_verified(src_tmp: str, dst_tmp: str, size: int, digest: str) -> None:
    """Copy a staged temp to another file system, re-verify it and fsync it."""
    fin = os.open(src_tmp, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY)
    fout = -1
    try:
        st = os.fstat(fin)
        fout = os.open(
            dst_tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY, 0o600
        )
        got, h = _stream(fin, fout, size, None, None, src_tmp)
        if got != size or h != digest:
            raise OSError(errno.EIO, "the copy between file systems did not verify", dst_tmp)
        os.fsync(fout)
        os.close(fout)
        fout = -1
        shutil.copystat(src_tmp, dst_tmp, follow_symlinks=False)
        os.utime(dst_tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    except BaseException:
        if fout >= 0:
            os.close(fout)
        _unlink_quiet(dst_tmp)
        raise
    finally:
        os.close(fin)


def _replace_into(staged: Staged, dst: str) -> None:
    try:
        os.replace(staged.tmp_path, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    # .spacesync/tmp and dst are on different file systems (e.g. a mount inside the root):
    # restage beside dst, where the rename is atomic again.
    staged.dev = 0  # renamed on another file system than the temp's: not covered by its syncfs
    sibling = os.path.join(os.path.dirname(dst), temp_name())
    _copy_verified(staged.tmp_path, sibling, staged.size, staged.hash)
    try:
        os.replace(sibling, dst)
    except BaseException:
        _unlink_quiet(sibling)
        raise
    _unlink_quiet(staged.tmp_path)


def place_new_dir(path: str, dst: str) -> bool:
    """Rename the private folder `path` (its files staged and durable) to `dst`, where
    nothing may be: the whole folder appears at once, one rename instead of one per file.
    True when done; False when the caller must make `dst` and commit the files one by one
    (the flag unsupported, another file system). Raises DestinationChanged when something
    appeared at `dst` (a folder too: its files may still go into it one by one)."""
    if _renameat2 is None:
        return False
    return _rename_new(path, dst)


def _rename_new(path: str, dst: str) -> bool:
    """renameat2(RENAME_NOREPLACE) `path` to `dst`: True when done, False when the caller
    must take the checked path (flag unsupported, or another file system). Raises
    DestinationChanged when something appeared at `dst`."""
    if (
        _renameat2(
            _AT_FDCWD,
            os.fsencode(path),
            _AT_FDCWD,
            os.fsencode(dst),
            _RENAME_NOREPLACE,
        )
        == 0
    ):
        return True
    err = ctypes.get_errno()
    if err in (errno.EEXIST, errno.ENOTEMPTY):
        raise DestinationChanged(dst, "something appeared there")
    if err in (errno.ENOTDIR, errno.ELOOP):  # a folder on the way became a file or a link
        folder = os.path.dirname(dst)
        _known_dirs.discard(folder)
        raise DestinationChanged(folder, _not_a_folder(folder) or "it is not a folder")
    if err == errno.ENOENT and not os.path.isdir(os.path.dirname(dst)):
        _known_dirs.discard(os.path.dirname(dst))
        ensure_dir(os.path.dirname(dst))
        return _rename_new(path, dst)
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), path, None, dst)


def commit_file(
    staged: Staged,
    src: StrPath,
    expect_src: Item,
    dst: StrPath,
    expect_dst: Item | None,
    preserve: Remover,
) -> None:
    """Put a staged temp under its real name, if nothing changed since the scan.

    The source must still match `expect_src` (size, mtime_ns) and the destination
    `expect_dst` (None: absent); otherwise the temp is removed, nothing else is touched,
    and SourceChanged/DestinationChanged is raised. An existing destination is first handed
    to `preserve` (versions store, trash or permanent), then replaced atomically.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    try:
        reason = mismatch(src, expect_src._replace(inode=0))
        if reason:
            raise SourceChanged(src, reason)
        if expect_dst is None and _renameat2 is not None and not staged.sibling:
            # Nothing expected there: one atomic no-clobber rename instead of a check
            # followed by a replace (fewer syscalls, and no window between the two).
            ensure_dir(os.path.dirname(dst))
            if _rename_new(staged.tmp_path, dst):
                return
        reason = mismatch(dst, expect_dst)
        if reason:
            raise DestinationChanged(dst, reason)
        if expect_dst is None:
            ensure_dir(os.path.dirname(dst))
        else:
            preserve.preserve(dst, expect_dst)
        _replace_into(staged, dst)
    except BaseException:
        _unlink_quiet(staged.tmp_path)
        raise


def copy_file(
    src: StrPath,
    expect_src: Item,
    dst: StrPath,
    expect_dst: Item | None,
    preserve: Remover,
    *,
    tmp_dir: StrPath | None = None,
    limiter: BandwidthLimiter | None = None,
    progress: Callable[[int], None] | None = None,
) -> Staged:
    """Stage, fsync and commit one file; the rename itself is made durable too.

    `tmp_dir` defaults to `.spacesync/tmp` of the Remover's root. Returns the Staged record
    (its `hash` is what landed on disk).
    """
    folder = tmp_dir if tmp_dir is not None else root_tmp_dir(preserve.root)
    staged = stage_file(
        src, expect_src, folder, limiter=limiter, progress=progress, dst=dst, durable=True
    )
    commit_file(staged, src, expect_src, dst, expect_dst, preserve)
    sync_dirs([os.path.dirname(os.fspath(dst))])
    return staged


# --- symlinks, folders, moves, touches ----------------------------------------------------


def copy_symlink(
    link_target: str,
    dst: StrPath,
    expect_dst: Item | None,
    preserve: Remover,
    *,
    mtime_ns: int | None = None,
) -> None:
    """Create a symlink (never followed) under a temp name and rename it into place."""
    dst = os.fspath(dst)
    reason = mismatch(dst, expect_dst)
    if reason:
        raise DestinationChanged(dst, reason)
    parent = os.path.dirname(dst)
    make_dirs(parent)
    tmp = os.path.join(parent, temp_name())
    os.symlink(link_target, tmp)
    try:
        if mtime_ns is not None and os.utime in os.supports_follow_symlinks:
            os.utime(tmp, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
        reason = mismatch(dst, expect_dst)
        if reason:
            raise DestinationChanged(dst, reason)
        if expect_dst is not None:
            preserve.preserve(dst, expect_dst)
        os.replace(tmp, dst)
    except BaseException:
        _unlink_quiet(tmp)
        raise


def make_dir(dst: StrPath, mode: int, expect_dst: Item | None, preserve: Remover) -> None:
    """Create a folder (and its parents). A file or symlink in the way that matches
    `expect_dst` is removed through `preserve` (so it stays recoverable) first.

    The owner keeps rwx whatever `mode` says: a read-only folder could not receive the
    files copied into it later in the run.
    """
    dst = os.fspath(dst)
    reason = mismatch(dst, expect_dst)
    already_dir = os.path.isdir(dst) and not os.path.islink(dst)
    if reason and not already_dir:
        raise DestinationChanged(dst, reason)
    if not already_dir and expect_dst is not None:
        preserve.delete(dst, expect_dst)
    make_dirs(dst)
    if mode:
        os.chmod(dst, stat.S_IMODE(mode) | stat.S_IRWXU)


def move_item(src_path: StrPath, dst_path: StrPath, expect: Item) -> None:
    """Rename within one side (no bytes copied), never replacing anything at `dst_path`."""
    src_path, dst_path = os.fspath(src_path), os.fspath(dst_path)
    reason = mismatch(src_path, expect)
    if reason:
        raise SourceChanged(src_path, reason)
    if os.path.lexists(dst_path):
        raise DestinationChanged(dst_path, "something is already there")
    make_dirs(os.path.dirname(dst_path))
    try:
        rename_noreplace(src_path, dst_path)
    except FileExistsError:
        raise DestinationChanged(dst_path, "something is already there") from None


def set_mtime(dst: StrPath, item: Item, expect_dst: Item) -> None:
    """Carry over a new mtime when the content is already equal (TOUCH)."""
    dst = os.fspath(dst)
    reason = mismatch(dst, expect_dst)
    if reason:
        raise DestinationChanged(dst, reason)
    st = os.lstat(dst)
    if stat.S_ISLNK(st.st_mode):
        if os.utime not in os.supports_follow_symlinks:
            return  # the platform cannot set a link's own time; not worth an error
        os.utime(dst, ns=(st.st_atime_ns, item.mtime_ns), follow_symlinks=False)
    else:
        os.utime(dst, ns=(st.st_atime_ns, item.mtime_ns))


# --- leftovers ----------------------------------------------------------------------------


def is_stale_temp(path: StrPath) -> bool:
    """True for an app temp (by name) whose writer process is gone."""
    parsed = _parse_writer(os.path.basename(os.fspath(path)))
    return parsed is not None and not _pid_alive(*parsed)


def remove_if_stale(path: StrPath) -> bool:
    """Remove one app temp (file, symlink or folder) if its writer is gone.

    For sibling temps the indexer meets while walking a root.
    """
    path = os.fspath(path)
    if not is_stale_temp(path):
        return False
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def clean_temp(root: StrPath) -> int:
    """Remove temps in `root/.spacesync/tmp/` left by dead writers; return how many."""
    folder = root_tmp_dir(root)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    return sum(remove_if_stale(Path(folder, n)) for n in names)


# The Remover and the versions store live in versions.py (which imports this module);
# re-exported lazily so callers can take the whole transfer API from here.
_VERSIONS_API = {"Remover", "prune_versions", "list_versions", "make_stamp"}


def __getattr__(name: str) -> Any:
    if name in _VERSIONS_API:
        from . import versions

        return getattr(versions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
