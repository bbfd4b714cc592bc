"""Copy many new small files in forked worker processes.

Copy threads share Python's GIL: for small files they spend their time handing it to each
other around every system call (`strace -c -f` of a 10,000-file mirror: ~90 futex calls
per file; one thread was as fast as four). Worker processes made with fork (the engine
already imported, no start-up cost) really copy in parallel, while this process does what
only it may do: write the index.

Each worker does what the copy threads do (transfer.py), on its share of the chunks:
stage a chunk into its own staging folder, make it durable (one syncfs), rename it into
place. A copy is reported *landed* only once its rename is durable too: covered by the
worker's next syncfs on that file system, or, after its last chunk, by fsyncing the
folders. The parent records a copy in the index and the base only when it is reported
landed, so a power loss can never leave the base saying "synced" for a file that is not
on disk (the same rule as the copy threads').

Only new files (nothing at the destination) go here: replacing a file hands the old one to
the Remover (versions store or trash), which stays in the parent, one at a time.

New folders that will hold nothing but such files (`NewFolder`, chosen by
executor.new_folders) are made by the workers too: the folder's files are staged under
their own names in a private folder, which is renamed into place once they are durable.
The folder appears whole, with one rename instead of one per file (the W1 mirror: ~1.3
CPU-seconds less). Should something appear at its place meanwhile, a folder takes its
files one by one (never replacing any); anything else is left alone and the folder fails.

Failures: a file that cannot be copied is reported with its message and the rest go on.
A worker that dies (killed, out of memory) leaves its unreported files failed for this run;
what it renamed without reporting is found by the next scan, equal to the source, and is
recorded then without being copied again; its temps are removed by `clean_temp` once its
pid is gone. Stopping closes a pipe the workers look at before each chunk: they finish the
chunk in hand (up to a thousand small files), report it, and leave.

Fork is safe only in a process running no other thread (the CLI). The desktop app's
engine process and the daemon have threads (runtime, watcher), so while they are still
single-threaded they start a `CopyHelper`: a forked process that stays single-threaded,
forks the workers on request and relays their reports. It forks their forked scans too
(`call_in_helper`, for forked_scans.py).
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import select
import signal
import stat
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from . import transfer
from .forking import ChildFailed, ForkedJob, can_fork, fork_child
from .listing import DIR_FLAGS
from .plan import Item

if TYPE_CHECKING:
    from .db import Library

log = logging.getLogger(__name__)

# Below this many files the copy threads do it: forking costs ~10-50 ms (page tables of a
# large process) and small runs fsync file by file anyway (executor.FSYNC_ALONE_MAX_FILES).
FORK_MIN_FILES = 1024
WORKER_DIED = "the copy worker process ended before it finished; the next run retries"
_HEADER = struct.Struct("<I")
_PR_SET_PDEATHSIG = 1


# slots: a run holds 100k of them (48 bytes, not 350); not frozen: that __init__ costs twice
# as much (0.08 s for 100k), before any worker can start.
@dataclass(slots=True)
class Job:
    """One new file to copy: `src` (as indexed: `item`) to `dst`, staged under `tmp_root`."""

    src: str
    item: Item
    dst: str
    tmp_root: str
    remover: transfer.Remover
    folder: int = -1  # index into Copies.folders: the new folder it is staged in, if any


@dataclass(frozen=True)
class NewFolder:
    """A folder to make at `dst` (nothing there) whose files are all jobs: they are staged
    in a private folder under their own names, which is renamed to `dst` once they are
    durable (`transfer.place_new_dir`): one rename for the folder instead of one per file,
    and the folder appears whole. Its jobs are all in one chunk."""

    dst: str
    mode: int


# What a worker reports for a copy whose data and rename are durable: (job index, inode,
# mode, hash). A plain tuple: a report carries up to a thousand, and each is pickled by the
# worker and unpickled by the engine (and once more of each in the app's CopyHelper); a
# NamedTuple costs 5-10x more there (its __new__ is Python, called per record).
Landed = tuple[int, int, int, str]


@dataclass(frozen=True)
class Copies:
    """What `run` copies: the jobs, grouped in chunks of job indices (each staged, made
    durable and renamed together), with this many worker processes."""

    jobs: Sequence[Job]
    chunks: Sequence[Sequence[int]]
    workers: int
    folders: Sequence[NewFolder] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled for the CopyHelper (the app's engine, the daemon): 100k Jobs one by one,
        # each a slots dataclass holding an Item, took 0.7 s to pickle here and 0.4-0.6 s to
        # unpickle there, before any worker could start. In columns of plain values (the
        # tmp roots and removers are a few objects, which pickle writes once each): ~0.1 s
        # here, 0.2-0.3 s there.
        jobs = self.jobs
        columns = (
            [j.src for j in jobs],
            [tuple(j.item) for j in jobs],
            [j.dst for j in jobs],
            [j.tmp_root for j in jobs],
            [j.remover for j in jobs],
            [j.folder for j in jobs],
        )
        return (_copies_from, (columns, self.chunks, self.workers, self.folders))


def _copies_from(
    columns: tuple[list[Any], ...],
    chunks: Sequence[Sequence[int]],
    workers: int,
    folders: Sequence[NewFolder],
) -> Copies:
    """`Copies.__reduce__`'s other half."""
    item = functools.partial(tuple.__new__, Item)  # no NamedTuple __new__ per job
    jobs = [
        Job(src, item(it), dst, root, remover, folder)
        for src, it, dst, root, remover, folder in zip(*columns, strict=True)
    ]
    return Copies(jobs, chunks, workers, folders)


@dataclass(frozen=True)
class Reports:
    """Where `run` hands what the workers report, in the process that called it."""

    landed: Callable[[list[Landed]], None]  # a batch, in the order they landed
    failed: Callable[[int, str], None]  # job index, message
    copied_bytes: Callable[[int], None]
    # New folders (indices into Copies.folders) made and durable: before their files land.
    folders_made: Callable[[list[int]], None]
    folder_failed: Callable[[int, str], None]  # folder index, message


# Small files are staged by the copy threads in chunks, made durable together (one
# flush for the chunk instead of one per file), then renamed into place. Each syncfs
# writes the file system's shared metadata (bitmaps, inode tables, folders) again: the
# in-process W1 mirror (100k files) took 6.2-6.6 s with 1,024 files a chunk against
# 6.9-7.6 s with 256, four alternating pairs; 2,048 was no better, 4,096 worse.
CHUNK_FILES = 1024
CHUNK_BYTES = 256 * 1024 * 1024

# A worker's report of a chunk: landed copies, (job index, message) failures, bytes staged,
# new folders made, (folder index, message) folders that could not be made.
ChunkReport = tuple[list[Landed], list[tuple[int, str]], int, list[int], list[tuple[int, str]]]


def job_chunks(jobs: Sequence[Job], most: int, most_bytes: int) -> list[range]:
    """Runs of `most` jobs (or `most_bytes`), never cutting through a new folder's files
    (a folder's jobs are next to each other)."""
    out: list[range] = []
    start = size = 0
    for i, job in enumerate(jobs):
        full = i - start >= most or size >= most_bytes
        if full and (job.folder < 0 or job.folder != jobs[i - 1].folder):
            out.append(range(start, i))
            start, size = i, 0
        size += job.item.size
    if start < len(jobs):
        out.append(range(start, len(jobs)))
    return out


def workers_for(transfers: int) -> int:
    """Worker processes for a conduit's `transfers`: one more than the CPUs, since each
    waits for its chunk's syncfs part of the time (the W1 mirror on 2 vCPUs, in-process,
    6 alternating pairs: 3 workers 5.73-8.11 s, median 5.82; 2 workers 5.88-9.60 s, median
    6.48; the cores' idle time while copying 1.0-1.2 -> 0.7-0.9 s)."""
    return max(1, min(transfers, (os.cpu_count() or 1) + 1))


def usable(files: int) -> bool:
    if files < FORK_MIN_FILES:
        return False
    return can_fork() or (_helper is not None and _helper.alive())


def run(
    work: Copies,
    should_stop: Callable[[], bool],
    on: Reports,
) -> bool:
    """Copy `work` with its worker processes: forked here if this process may fork, else by
    the CopyHelper (see `usable`).

    Hands reports to `on` here, as they arrive. Returns True when it stopped early because
    `should_stop()` said so (the files not reported were not attempted, or are left for
    the next run)."""
    if can_fork():
        return run_here(work, should_stop, on)
    assert _helper is not None, "run() without usable()"
    return _helper.run(work, should_stop, on)


def run_here(
    work: Copies,
    should_stop: Callable[[], bool],
    on: Reports,
    close: Sequence[int] = (),
    after_report: Callable[[], None] | None = None,
) -> bool:
    """`run` with workers forked from this process (which must run no other thread).
    `close`: more fds of this process the workers must not keep; `after_report` is called
    after each worker report is handled (the helper relays its batch then)."""
    chunks, workers = work.chunks, work.workers
    stop_r, stop_w = os.pipe()
    running: dict[int, _Worker] = {}
    try:
        for w in range(max(1, min(workers, len(chunks)))):
            mine = [chunks[i] for i in range(w, len(chunks), workers)]
            worker = _Worker.start(work, mine, stop_r, [stop_w, *close, *running])
            running[worker.fd] = worker
        os.close(stop_r)
        stop_r = -1
        stopping = False
        while running:
            ready, _, _ = select.select(list(running), [], [], 0.25)
            if not stopping and should_stop():
                stopping = True
                os.close(stop_w)
                stop_w = -1
            for fd in ready:
                worker = running[fd]
                for msg in worker.frames.read():
                    worker.handle(msg, on)
                if after_report is not None:
                    after_report()
                if worker.frames.eof:
                    del running[fd]
                    worker.finish(on, stopping)
        return stopping
    finally:
        for fd in (stop_r, stop_w):
            if fd >= 0:
                os.close(fd)
        for worker in running.values():  # only after an exception here: let them go
            worker.abandon()


class _Unreported:
    """The jobs and new folders of some chunks not reported yet: crossed off as their
    reports are handed on, failed when whoever should report them is gone."""

    def __init__(self, jobs: Sequence[Job], chunks: Sequence[Sequence[int]]) -> None:
        self.jobs = {i for c in chunks for i in c}
        self.folders = _folders_of(jobs, chunks)

    def relay(self, on: Reports) -> Reports:
        """`on`, crossing off what it is told."""

        def landed(batch: list[Landed]) -> None:
            self.jobs.difference_update(item[0] for item in batch)
            on.landed(batch)

        def failed(index: int, message: str) -> None:
            self.jobs.discard(index)
            on.failed(index, message)

        def made(folders: list[int]) -> None:
            self.folders.difference_update(folders)
            on.folders_made(folders)

        def unmade(folder: int, message: str) -> None:
            self.folders.discard(folder)
            on.folder_failed(folder, message)

        return Reports(landed, failed, on.copied_bytes, made, unmade)

    def fail(self, on: Reports) -> None:
        for index in sorted(self.jobs):
            on.failed(index, WORKER_DIED)
        for folder in sorted(self.folders):
            on.folder_failed(folder, WORKER_DIED)


class _Worker:
    def __init__(self, pid: int, fd: int, left: _Unreported) -> None:
        self.pid = pid
        self.fd = fd
        self.frames = Frames(fd)
        self.left = left  # what it has not reported yet
        self.done = False

    @classmethod
    def start(
        cls, work: Copies, chunks: list[Sequence[int]], stop_fd: int, close: list[int]
    ) -> _Worker:
        """Fork a worker; `close`: the parent's fds the child must not keep open (the stop
        pipe's write end, else closing it would never reach the workers; other workers'
        report pipes)."""
        read_fd, write_fd = os.pipe()
        parent = os.getpid()

        def worker() -> None:  # the parent fails what it does not report
            die_with(parent)
            os.close(read_fd)
            for fd in close:
                os.close(fd)
            work_chunks(work, chunks, write_fd, stop_fd)

        pid = fork_child(worker)
        os.close(write_fd)
        return cls(pid, read_fd, _Unreported(work.jobs, chunks))

    def handle(self, msg: object, on: Reports) -> None:
        if msg == "done":
            self.done = True
            return
        ok, bad, nbytes, made, unmade = cast(ChunkReport, msg)
        on = self.left.relay(on)
        if nbytes:
            on.copied_bytes(nbytes)
        if made:
            on.folders_made(made)
        for folder, message in unmade:
            on.folder_failed(folder, message)
        if ok:
            on.landed(ok)
        for index, message in bad:
            on.failed(index, message)

    def finish(self, on: Reports, stopping: bool) -> None:
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        if self.done and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return  # what it did not report, it did not attempt (asked to stop)
        if not stopping:
            log.warning("copy worker %d ended with status %d", self.pid, status)
        self.left.fail(on)

    def abandon(self) -> None:
        os.close(self.fd)  # its next report fails (broken pipe) and it leaves
        os.waitpid(self.pid, 0)


# --- framing: length-prefixed pickles over a pipe ------------------------------------------


def send_frame(fd: int, msg: object) -> None:
    _write_frame(fd, pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))


def _write_frame(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


class Frames:
    """The messages arriving on a pipe, read as they come (after a select says so)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.eof = False
        self._buf = bytearray()

    def read(self) -> list[object]:
        data = os.read(self.fd, 1 << 16)
        if not data:
            self.eof = True
            return []
        self._buf += data
        msgs = []
        while len(self._buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + n:
                break
            msgs.append(pickle.loads(self._buf[_HEADER.size : _HEADER.size + n]))
            del self._buf[: _HEADER.size + n]
        return msgs


# --- the helper of a process with threads --------------------------------------------------

_helper: CopyHelper | None = None


def start_helper(niceness: int = 0, lib: Library | None = None) -> None:
    """Start the CopyHelper; call while this process runs no other thread (else a no-op:
    copies then use threads). Its workers run `niceness` lower in the CPU queue. With
    `lib` (opened here), it also runs `call_in_helper` jobs."""
    global _helper
    if _helper is None and can_fork():
        _helper = CopyHelper(niceness, lib)


def helper_usable() -> bool:
    """Whether `call_in_helper` may take a job (a helper with a library is running)."""
    return _helper is not None and _helper.lib is not None and _helper.alive()


def call_in_helper(fn: Callable[[Library], Any]) -> HelperCall | None:
    """Start `fn(lib)` in a child the CopyHelper forks; `result()` waits for its value.
    None when it cannot (no helper, the helper busy with another run's copies, `fn` does
    not pickle): the caller does the work itself."""
    if _helper is None or _helper.lib is None:
        return None
    return _helper.call(fn)


def stop_helper() -> None:
    global _helper
    if _helper is not None:
        _helper.close()
        _helper = None


class CopyHelper:
    """A single-threaded process, forked before the engine starts its threads, that forks
    copy workers on request (`run`) and relays their reports back."""

    def __init__(self, niceness: int = 0, lib: Library | None = None) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()

        def helper() -> None:  # the engine fails what it does not report
            os.close(req_w)
            os.close(rep_r)
            if niceness and hasattr(os, "nice"):
                os.nice(niceness)  # inherited by the workers
            _serve(req_r, rep_w, lib)

        pid = fork_child(helper)
        os.close(req_r)
        os.close(rep_w)
        self.pid = pid
        self.lib = lib
        self._req = req_w
        self._rep = rep_r
        self._lock = threading.Lock()  # one run (or call) at a time
        self._dead = False

    def alive(self) -> bool:
        with self._lock:
            if not self._dead and os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                self._dead = True
                log.warning("the copy helper process ended; copying with threads")
            return not self._dead

    def run(
        self,
        work: Copies,
        should_stop: Callable[[], bool],
        on: Reports,
    ) -> bool:
        left = _Unreported(work.jobs, work.chunks)
        tracked = left.relay(on)
        relayed: dict[str, Callable[..., None]] = {  # the kinds `_serve` relays
            "landed": tracked.landed,
            "failed": tracked.failed,
            "bytes": tracked.copied_bytes,
            "made": tracked.folders_made,
            "unmade": tracked.folder_failed,
        }
        with self._lock:
            frames = Frames(self._rep)
            stopping = False
            try:
                send_frame(self._req, ("run", work))
                while True:
                    ready, _, _ = select.select([self._rep], [], [], 0.25)
                    if not stopping and should_stop():
                        stopping = True
                        send_frame(self._req, ("stop",))
                    if not ready:
                        continue
                    for msg in frames.read():
                        if msg[0] == "end":  # type: ignore[index]
                            return bool(msg[1])  # type: ignore[index]
                        for kind, *args in msg[1]:  # type: ignore[index]
                            relayed[kind](*args)
                    if frames.eof:
                        break
            except OSError:  # broken pipe: the helper is gone
                pass
            self._dead = True
            log.warning("the copy helper process ended during a run; copying with threads")
        left.fail(on)
        return stopping

    def call(self, fn: Callable[[Library], Any]) -> HelperCall | None:
        """See `call_in_helper`."""
        if not self._lock.acquire(blocking=False):
            return None  # another run's copies: not worth waiting for
        try:
            if self._dead:
                raise OSError("the helper is gone")
            data = pickle.dumps(("call", fn), protocol=pickle.HIGHEST_PROTOCOL)
            _write_frame(self._req, data)
        except (OSError, pickle.PicklingError, AttributeError, TypeError):
            self._lock.release()
            return None
        return HelperCall(self)

    def close(self) -> None:
        os.close(self._req)  # the helper reads end of file and leaves
        os.close(self._rep)
        with self._lock:
            if not self._dead:  # else alive() reaped it already
                os.waitpid(self.pid, 0)
                self._dead = True


class HelperCall:
    """A job the CopyHelper's child is doing; holds the helper until `result()`."""

    def __init__(self, helper: CopyHelper) -> None:
        self._helper = helper

    def result(self) -> Any:
        """What the job returned; raises ChildFailed if it did not finish."""
        helper = self._helper
        frames = Frames(helper._rep)
        try:
            while not frames.eof:
                for msg in frames.read():
                    if isinstance(msg, tuple) and msg[0] == "called":
                        if not msg[1]:
                            raise ChildFailed("the helper's child did not finish the job")
                        return msg[2]
            helper._dead = True
            raise ChildFailed("the copy helper process ended")
        except OSError as e:
            helper._dead = True
            raise ChildFailed(f"the copy helper process ended ({e})") from None
        finally:
            helper._lock.release()


def _call(lib: Library | None, fn: Callable[[Library], Any], close: Sequence[int]) -> tuple:
    """In the helper: `fn(lib)` in a forked child (the helper itself stays as it was)."""
    if lib is None:
        return ("called", False, None)
    try:
        return ("called", True, ForkedJob(lib, fn, close=close).result())
    except ChildFailed:
        return ("called", False, None)


def _serve(req_fd: int, rep_fd: int, lib: Library | None = None) -> None:
    """The helper's loop: run each request with `run_here` (copies) or `_call` (another
    job), relay reports in batches."""
    frames = Frames(req_fd)
    pending: list[object] = []
    stop = False

    def stop_asked() -> bool:
        nonlocal stop
        while not stop and select.select([req_fd], [], [], 0)[0]:
            msgs = frames.read()
            stop = frames.eof or any(m == ("stop",) for m in msgs)
        return stop

    def relay() -> None:
        if pending:
            send_frame(rep_fd, ("batch", pending[:]))
            pending.clear()

    while not frames.eof:
        for msg in frames.read():
            if isinstance(msg, tuple) and msg[0] == "call":
                send_frame(rep_fd, _call(lib, msg[1], (req_fd, rep_fd)))
                continue
            if not (isinstance(msg, tuple) and msg[0] == "run"):
                continue  # a stop that came after its run had ended
            stop = False
            on = Reports(
                landed=lambda batch: pending.append(("landed", batch)),
                failed=lambda i, m: pending.append(("failed", i, m)),
                copied_bytes=lambda n: pending.append(("bytes", n)),
                folders_made=lambda folders: pending.append(("made", folders)),
                folder_failed=lambda f, m: pending.append(("unmade", f, m)),
            )
            stopped = run_here(msg[1], stop_asked, on, close=(req_fd, rep_fd), after_report=relay)
            relay()
            send_frame(rep_fd, ("end", stopped))
            if frames.eof:
                return


# --- in the worker -----------------------------------------------------------------------


def _folders_of(jobs: Sequence[Job], chunks: Sequence[Sequence[int]]) -> set[int]:
    """The new folders the jobs of `chunks` are staged in."""
    return {jobs[i].folder for c in chunks for i in c if jobs[i].folder >= 0}


def work_chunks(
    work: Copies,
    chunks: list[Sequence[int]],
    out_fd: int,
    stop_fd: int,
    vouch: Callable[[list[Landed], list[int]], object] | None = None,
) -> None:
    """Copy the chunks, reporting each (`ChunkReport`). `vouch(landed, made)`, when given,
    is asked after each report that tells of new folders made: what it returns (None:
    nothing) is sent too."""

    def send(msg: object) -> None:
        send_frame(out_fd, msg)

    def report(
        ok: list[Landed],
        bad: list[tuple[int, str]],
        nbytes: int,
        made: list[int],
        unmade: list[tuple[int, str]],
    ) -> None:
        send((ok, bad, nbytes, made, unmade))
        if made and vouch is not None:
            extra = vouch(ok, made)
            if extra is not None:
                send(extra)

    jobs = work.jobs
    staging: dict[str, str] = {}  # tmp root -> this worker's staging folder
    unlanded: list[tuple[int, transfer.Staged]] = []  # renamed, not yet durable
    placed: list[tuple[int, int]] = []  # new folders renamed into place, not yet durable: dev
    try:
        for chunk in chunks:
            if _stop_asked(stop_fd):
                break
            bad: list[tuple[int, str]] = []
            unmade: list[tuple[int, str]] = []
            private: dict[int, str] = {}  # new folder -> where its files are staged
            staged = _stage(work, chunk, staging, bad, private)
            try:
                synced = transfer.make_durable([s for _, s in staged])
            except OSError as e:
                message = transfer.error_message(e)
                for i, s in staged:
                    transfer.discard(s)
                    bad.append((i, message))
                staged, synced = [], set()
                unmade.extend((f, message) for f in private)
                for t in private.values():
                    transfer.drop_dir(t)
                private = {}
            # That syncfs also made the previous chunk's renames durable (same file system).
            ok, made = _durable(work, unlanded, placed, synced, bad, unmade)
            unlanded, placed = _commit(work, staged, private, bad, unmade)
            for f in _folders_of(jobs, [chunk]).difference(private, (f for f, _ in unmade)):
                unmade.append((f, "none of its files could be staged"))
            report(ok, bad, sum(s.size for _, s in staged), made, unmade)
        bad, unmade = [], []
        ok, made = _durable(work, unlanded, placed, set(), bad, unmade)
        report(ok, bad, 0, made, unmade)
        send("done")
    finally:
        for folder in staging.values():
            transfer.drop_dir(folder)


def die_with(parent: int) -> None:
    """Be killed when `parent` ends (Linux): a worker left behind by a killed CLI or a dead
    helper would go on copying behind the back of the next run. Killed, it leaves only
    temps (removed once its pid is gone) and renamed files the next scan finds."""
    prctl = getattr(transfer._libc, "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before that took effect
        os._exit(1)


def _stop_asked(stop_fd: int) -> bool:
    # The parent closes its end to ask: the read end then polls readable (end of file).
    ready, _, _ = select.select([stop_fd], [], [], 0)
    return bool(ready)


def _stage(
    work: Copies,
    chunk: Sequence[int],
    staging: dict[str, str],
    bad: list[tuple[int, str]],
    private: dict[int, str],
) -> list[tuple[int, transfer.Staged]]:
    """Stage the chunk's files (`transfer.stage_files`, the small ones in one call): a new
    folder's under their own names in a private folder (made on its first file, noted in
    `private`), the others under temp names."""
    jobs, folders = work.jobs, work.folders
    todo: list[tuple[int, transfer.StageJob]] = []
    for i in chunk:
        job = jobs[i]
        folder = staging.get(job.tmp_root)
        if folder is None:
            folder = staging[job.tmp_root] = os.path.join(job.tmp_root, transfer.temp_name())
        if job.folder < 0:
            todo.append((i, (job.src, job.item, folder, None, False)))
            continue
        # With its own bits known, the folder gets them just before it is renamed into
        # place (_place_folder): until then only its owner may enter it, and its files
        # are made with their final bits at once.
        own = folders[job.folder].mode != 0
        where = private.get(job.folder)
        if where is None:
            where = os.path.join(folder, transfer.temp_name())
            try:
                if own:
                    os.makedirs(where, 0o700)
                else:
                    transfer.ensure_dir(where)
            except OSError as e:
                bad.append((i, transfer.error_message(e)))
                continue
            private[job.folder] = where
        todo.append((i, (job.src, job.item, where, os.path.basename(job.dst), own)))
    staged = []
    for (i, _), s in zip(todo, transfer.stage_files([t for _, t in todo]), strict=True):
        if isinstance(s, transfer.Staged):
            staged.append((i, s))
        else:
            bad.append((i, transfer.error_message(s)))
    return staged


def _commit(
    work: Copies,
    staged: list[tuple[int, transfer.Staged]],
    private: dict[int, str],
    bad: list[tuple[int, str]],
    unmade: list[tuple[int, str]],
) -> tuple[list[tuple[int, transfer.Staged]], list[tuple[int, int]]]:
    """Put the staged files under their real names: the new folders' by renaming each
    folder into place. The files and the folders (with their file system) done."""
    jobs = work.jobs
    alone = []
    members: dict[int, list[tuple[int, transfer.Staged]]] = {f: [] for f in private}
    for i, s in staged:
        folder = jobs[i].folder
        if folder >= 0:
            members[folder].append((i, s))
        else:
            alone.append((i, s))
    done = _commit_files(jobs, alone, bad)
    placed = []
    for f, where in private.items():
        mine = members[f]
        try:
            done.extend(_place_folder(jobs, work.folders[f], where, mine, bad))
        except (transfer.TransferError, OSError) as e:
            message = transfer.error_message(e)
            told = {i for i, _ in bad}  # its files whose source changed: reported already
            for i, s in mine:
                transfer.discard(s)
                if i not in told:
                    bad.append((i, message))
            unmade.append((f, message))
        else:
            placed.append((f, next((s.dev for _, s in mine), 0)))
        finally:
            transfer.drop_dir(where)  # renamed away, or emptied
    return done, placed


def _place_folder(
    jobs: Sequence[Job],
    folder: NewFolder,
    where: str,
    staged: list[tuple[int, transfer.Staged]],
    bad: list[tuple[int, str]],
) -> list[tuple[int, transfer.Staged]]:
    """Rename the private folder `where`, holding `staged`, to the new folder's place; the
    files placed. Its files whose source changed since they were staged are left out, as
    `commit_file` leaves them. Raises when the folder cannot be made at all."""
    keep = _sources_unchanged(jobs, staged, bad)
    # The owner keeps rwx, as transfer.make_dir does: the folder must stay movable.
    mode = stat.S_IMODE(folder.mode) | stat.S_IRWXU if folder.mode else 0
    if mode:
        os.chmod(where, mode)
    try:
        if transfer.place_new_dir(where, folder.dst):
            return keep
    except transfer.DestinationChanged:
        if not os.path.isdir(folder.dst) or os.path.islink(folder.dst):
            raise  # a file or a link took its place: it is left alone
    # A folder appeared there meanwhile, or no atomic rename of folders here: the folder
    # as transfer.make_dir makes one, then its files one by one (never replacing one).
    transfer.make_dirs(folder.dst)
    if mode:
        os.chmod(folder.dst, mode)
    return _commit_files(jobs, keep, bad)


def _sources_unchanged(
    jobs: Sequence[Job], staged: list[tuple[int, transfer.Staged]], bad: list[tuple[int, str]]
) -> list[tuple[int, transfer.Staged]]:
    """The staged files whose source still has the size and mtime they were staged with
    (SPEC 3.6: checked just before they are put in place, as `commit_file` does); the
    others are discarded and told in `bad`. Each is an fstatat in its source folder, held
    open: a new folder's files share one (1.2 µs a file less than a path's lstat)."""
    keep = []
    folders: dict[str, int] = {}
    try:
        for i, s in staged:
            job, it = jobs[i], jobs[i].item
            head, _, name = job.src.rpartition(os.sep)
            fd = folders.get(head)
            if fd is None:
                try:
                    fd = os.open(head, DIR_FLAGS)
                except OSError:
                    fd = -1  # told below, by the path
                folders[head] = fd
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False) if fd >= 0 else None
            except OSError:
                st = None
            if (
                st is not None
                and stat.S_ISREG(st.st_mode)
                and st.st_size == it.size
                and st.st_mtime_ns == it.mtime_ns
            ):
                keep.append((i, s))
                continue
            reason = transfer.mismatch(job.src, it._replace(inode=0))  # why, by its path
            if reason:
                transfer.discard(s)
                bad.append((i, transfer.error_message(transfer.SourceChanged(job.src, reason))))
            else:
                keep.append((i, s))
    finally:
        for fd in folders.values():
            if fd >= 0:
                os.close(fd)
    return keep


def _commit_files(
    jobs: Sequence[Job], staged: list[tuple[int, transfer.Staged]], bad: list[tuple[int, str]]
) -> list[tuple[int, transfer.Staged]]:
    """Rename each staged file to its real name (`transfer.commit_file`); those done."""
    done = []
    for i, s in staged:
        job = jobs[i]
        try:
            transfer.commit_file(s, job.src, job.item, job.dst, None, job.remover)
        except (transfer.TransferError, OSError) as e:
            transfer.discard(s)
            bad.append((i, transfer.error_message(e)))
        else:
            done.append((i, s))
    return done


def _durable(
    work: Copies,
    unlanded: list[tuple[int, transfer.Staged]],
    placed: list[tuple[int, int]],
    synced: set[int],
    bad: list[tuple[int, str]],
    unmade: list[tuple[int, str]],
) -> tuple[list[Landed], list[int]]:
    """The renamed copies and the new folders placed, once their renames are durable (see
    executor._land_unlanded)."""
    if not unlanded and not placed:
        return [], []
    jobs, folders = work.jobs, work.folders
    loose = {os.path.dirname(jobs[i].dst) for i, s in unlanded if not s.dev or s.dev not in synced}
    for f, dev in placed:
        if not dev or dev not in synced:
            # The folder too: renaming it rewrote its own `..` entry.
            loose.update((os.path.dirname(folders[f].dst), folders[f].dst))
    try:
        transfer.sync_dirs(loose)
    except OSError as e:
        message = transfer.error_message(e)
        bad.extend((i, message) for i, _ in unlanded)
        unmade.extend((f, message) for f, _ in placed)
        return [], []
    return [(i, s.inode, s.mode, s.hash) for i, s in unlanded], [f for f, _ in placed]
