"""A first mirror's copy workers (first_mirror.py has the engine's side): each walks its
share of the source, reports what it will copy, waits for the go, then copies it the
forked_copies way, vouching for each new folder it placed (`_Vouch`).

SQLAlchemy-free, as what it imports: the CLI may start the workers before it imports the
engine (early_mirror.py), their walk then using the core its import leaves idle.
"""

from __future__ import annotations

import os
import signal
import stat
from dataclasses import dataclass
from typing import NamedTuple, cast

from . import forked_copies, transfer
from .constants import DIR, FILE
from .forking import fork_child
from .listing import Flat, digest_seed, flat_digest, list_flat
from .paths import key_for, tmp_dir
from .plan import Item
from .rules import IgnoreRules

_S_IFMT, _S_IFDIR, _S_IFREG = 0o170000, stat.S_IFDIR, stat.S_IFREG


class Ends(NamedTuple):
    """What the workers need of a first mirror's sides: the endpoints, and the target
    location's root (its temps live there)."""

    src: str
    dst: str
    dst_root: str


# A folder a worker walked: its key, its source item, the index of its NewFolder (made
# whole by its copies) or -1 (made before the copies: it holds folders), the digest of its
# listing when the walk could index all of it (listing.digest; else None), its files' jobs
# [lo, hi), and its parent's place among the worker's folders (-1: walked by no one here).
Folder = tuple[str, tuple[object, ...], int, "str | None", int, int, int]
# A folder whose own files alone a worker walked (`shares`): its key and its files' jobs.
Owned = tuple[str, int, int]
# The source's folders weighed: estimated items below each, and its subfolders listed.
Weights = tuple[dict[str, float], dict[str, list[str]]]
# What a worker walked: the source keys and items of its jobs, in job order, the bytes,
# its folders, parents first, the folders whose own files alone it walked, and the folders
# holding what it could not index (links, special files, names unlike their key, what
# could not be read or listed): the run's scan indexes those.
Walked = tuple[list[str], list[tuple[object, ...]], int, list[Folder], list[Owned], list[str]]
# A worker's word on new folders it placed: ("vouched", [(place in its `dirs`, the digest of
# the folder's listing on the target)]), see `_Vouch`.
Vouched = tuple[str, list[tuple[int, str]]]


@dataclass
class Started:
    """A first mirror's workers, walking: what they were started for, and the top folders
    to make before their copies (`shares`)."""

    conduit_id: int
    ends: Ends
    deletes: str  # the conduit's deletion handling (their Remover's)
    transfers: int  # the conduit's setting their number came from (`workers_for`)
    weighed: Weights
    workers: list[Worker]
    premade: list[str]

    def close(self) -> None:
        """Let them go; each not told to copy yet ends having copied nothing."""
        for w in self.workers:
            w.close()


def start(
    conduit_id: int, ends: Ends, weighed: Weights, transfers: int, deletes: str, stamp: str
) -> Started:
    """Fork the workers of a first mirror (`workers_for` its `transfers`), each walking its
    share (`shares`) of the source `weighed`. They copy once told to (`Worker.go`)."""
    dealt, premade = shares(weighed, forked_copies.workers_for(transfers))
    remover = transfer.Remover(ends.dst_root, deletes, stamp)
    started = Started(conduit_id, ends, deletes, transfers, weighed, [], premade)
    try:
        for share in dealt:  # each without the others' pipes: their ends must reach them
            started.workers.append(Worker.start(ends, share, remover, started.workers))
    except BaseException:
        started.close()
        raise
    return started


def shares(weighed: Weights, n: int) -> tuple[list[list[str]], list[str]]:
    """The endpoint's folders dealt to `n` workers by weight (`weigh`), heaviest first to
    the lightest share, and the top folders made before them. A unit is a folder's key
    (that folder and all below it), or a key ending in "/" for a folder's own files alone
    ("" for the endpoint's). A top folder too heavy to deal evenly (more than a quarter of
    a share) is dealt as its own files and its subfolders, and is made first
    (first_mirror `_premake`): a worker that has finished waits for no other's last big
    folder."""
    weight, kids = weighed
    total = weight.get("", 0.0)
    top = kids.get("", [])
    units = [(total - sum(weight[k] for k in top), "")]
    premade = []
    for rel in top:
        below = kids.get(rel, [])
        if below and weight[rel] > total / (4 * n):
            premade.append(rel)
            units.append((weight[rel] - sum(weight[k] for k in below), rel + "/"))
            units += [(weight[k], k) for k in below]
        else:
            units.append((weight[rel], rel))
    shares: list[list[str]] = [[] for _ in range(n)]
    load = [0.0] * n
    for w, key in sorted(units, key=lambda u: -u[0]):
        i = load.index(min(load))
        shares[i].append(key)
        load[i] += w
    return [s for s in shares if s], premade


def as_recorded(it: Item, st: Flat) -> bool:
    """Whether a listed item (`list_flat`) is the entry `it` the pass recorded."""
    _, st_mode, size, mtime_ns, ino = st
    if st_mode & _S_IFMT == _S_IFREG:
        same_kind = it.kind == FILE and it.hash is not None and it.size == size
    else:
        same_kind = it.kind == DIR and st_mode & _S_IFMT == _S_IFDIR
    return same_kind and it.mtime_ns == mtime_ns and it.inode == ino and it.mode == st_mode & 0o7777


class Worker:
    """A forked worker: walks its share of the source, reports it, waits for the go, then
    copies it the forked_copies way (`work_chunks`)."""

    def __init__(self, pid: int, fd: int, go_fd: int, stop_fd: int) -> None:
        self.pid, self.fd, self.go_fd, self.stop_fd = pid, fd, go_fd, stop_fd
        self.frames = forked_copies.Frames(fd)
        self.keys: list[str] = []
        self.items: list[tuple[object, ...]] = []
        self.dirs: list[Folder] = []
        self.owned: list[Owned] = []
        self.rescan: list[str] = []
        self.new_folders: dict[int, int] = {}  # NewFolder index -> its place in `dirs`
        self.landed = bytearray()  # 1: the job's copy is recorded
        self.made = bytearray()  # 1: the folder is made and recorded
        self.vouched: dict[int, str] = {}  # place in `dirs` -> its target listing's digest
        self.nbytes = -1
        self.ended = False
        self.reported = False  # it sent all it did ("done")

    @classmethod
    def start(
        cls,
        ends: Ends,
        share: list[str],
        remover: transfer.Remover,
        others: list[Worker],
    ) -> Worker:
        out_r, out_w = os.pipe()
        go_r, go_w = os.pipe()
        stop_r, stop_w = os.pipe()
        parent = os.getpid()

        def worker() -> None:
            forked_copies.die_with(parent)
            for fd in (out_r, go_w, stop_w, *(f for w in others for f in w.fds())):
                os.close(fd)
            _walk_and_copy(ends, share, remover, out_w, go_r, stop_r)

        pid = fork_child(worker)
        for fd in (out_w, go_r, stop_r):
            os.close(fd)
        return cls(pid, out_r, go_w, stop_w)

    def fds(self) -> list[int]:
        return [fd for fd in (self.fd, self.go_fd, self.stop_fd) if fd >= 0]

    def walked_bytes(self) -> int:
        """Wait for its walk; the bytes it will copy."""
        while self.nbytes < 0:
            for msg in self.frames.read():
                walked = cast(Walked, msg)
                self.keys, self.items, self.nbytes, self.dirs, self.owned, self.rescan = walked
                self.new_folders = {f: i for i, (_, _, f, *_) in enumerate(self.dirs) if f >= 0}
                self.landed, self.made = bytearray(len(self.keys)), bytearray(len(self.dirs))
            if self.nbytes < 0 and self.frames.eof:
                self.nbytes = 0  # it died: nothing of its share is copied here
        return self.nbytes

    def go(self) -> None:
        if self.go_fd >= 0:
            try:
                os.write(self.go_fd, b"g")
            except OSError:
                pass  # it died: its share is left to the run
            os.close(self.go_fd)
            self.go_fd = -1

    def stop(self) -> None:
        if self.stop_fd >= 0:
            os.close(self.stop_fd)
            self.stop_fd = -1

    def finish(self) -> None:
        os.close(self.fd)
        self.fd = -1
        os.waitpid(self.pid, 0)
        self.ended = True

    def close(self) -> None:
        """After an error or a refusal, or when the run does not take it: let it go. Not
        told to copy, it has only read: it is killed rather than waited for (its walk of
        a big tree may have far to go)."""
        if self.go_fd >= 0 and not self.ended:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for name in ("go_fd", "stop_fd", "fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        if not self.ended:
            os.waitpid(self.pid, 0)
            self.ended = True


def _walk_and_copy(
    ends: Ends,
    share: list[str],
    remover: transfer.Remover,
    out_fd: int,
    go_fd: int,
    stop_fd: int,
) -> None:
    jobs, folders, dirs, owned, rescan = _walk(ends, share, remover)
    items: list[tuple[object, ...]] = [tuple(j.item) for _, j in jobs]
    nbytes = sum(j.item.size for _, j in jobs)
    walked: Walked = ([k for k, _ in jobs], items, nbytes, dirs, owned, rescan)
    forked_copies.send_frame(out_fd, walked)
    if os.read(go_fd, 1) != b"g":
        return  # refused, or the engine is gone
    made = [(f"{ends.dst}/{key}", cast(int, item[5])) for key, item, f, *_ in dirs if f < 0]
    if not make_folders(made):
        return  # the target changed under us: all of it is left to the run
    forked_copies.send_frame(out_fd, "made")
    job_list = [j for _, j in jobs]
    chunks = forked_copies.job_chunks(
        job_list, forked_copies.CHUNK_FILES, forked_copies.CHUNK_BYTES
    )
    work = forked_copies.Copies(job_list, chunks, 1, folders)
    vouch = _Vouch(dirs, walked[0], items, ends.dst)
    forked_copies.work_chunks(work, list(work.chunks), out_fd, stop_fd, vouch)


def _walk(
    ends: Ends, share: list[str], remover: transfer.Remover
) -> tuple[
    list[tuple[str, forked_copies.Job]],
    list[forked_copies.NewFolder],
    list[Folder],
    list[Owned],
    list[str],
]:
    """The share's plain files as jobs (with their keys), the folders that hold no folder
    (each made whole by its copies), every folder, parents first (`Folder`), the folders
    whose own files alone were walked, and the folders holding anything else (links,
    special files, names unlike their key, what cannot be read), which is left to the run
    that follows. The share's units: see `shares`. Large files too go in chunks made
    durable by one syncfs (forked_copies.CHUNK_BYTES at most).

    A folder's entry and its digest are made from its parent's listing, as a scan makes
    them, so that the digest vouches for exactly the entries recorded (a share's top folder
    has no parent listing here: its own lstat)."""
    jobs: list[tuple[str, forked_copies.Job]] = []
    folders: list[forked_copies.NewFolder] = []
    dirs: list[Folder] = []
    owned: list[Owned] = []
    rescan: list[str] = []
    tmp_root = str(tmp_dir(ends.dst_root))
    src_end, dst_end = ends.src, ends.dst
    seed = digest_seed(IgnoreRules())  # no rules: see `eligible`
    # Depth first, in name order: (unit, its parent's place in `dirs`, its listed lstat).
    todo: list[tuple[str, int, Flat | None]] = [
        (unit, -1, None) for unit in sorted(share, reverse=True)
    ]
    while todo:
        unit, parent, listed_st = todo.pop()
        key = unit.rstrip("/")
        own = unit == key == "" or unit != key  # its own files alone: made by someone else
        path = f"{src_end}/{key}" if key else src_end
        listing, whole = list_flat(path)  # (the built-in ignored names left out)
        files: list[tuple[str, Flat]] = []
        subs: list[tuple[str, Flat]] = []
        for st in listing:
            name, fmt = st[0], st[1] & _S_IFMT
            if not (name.isascii() or key_for(name) == name):
                whole = False
                continue
            child = f"{key}/{name}" if key else name
            if fmt == _S_IFDIR:
                if not own:
                    subs.append((child, st))
            elif fmt == _S_IFREG:
                files.append((child, st))
            else:
                whole = False
        folder = -1
        lo = len(jobs)
        if not own:
            here = listed_st
            if here is None:
                try:
                    top = os.lstat(path)
                except OSError:
                    rescan.append(key)
                    continue
                here = (key, top.st_mode, top.st_size, top.st_mtime_ns, top.st_ino)
            mode = here[1] & 0o7777
            if not subs:
                folder = len(folders)
                folders.append(forked_copies.NewFolder(f"{dst_end}/{key}", mode))
            item = Item(DIR, 0, here[3], None, None, mode, here[4])
            digest = flat_digest(seed, listing) if whole else None
            hi = lo + len(files)
            dirs.append((key, tuple(item), folder, digest, lo, hi, parent))
        else:
            owned.append((key, lo, lo + len(files)))
        if not whole:
            rescan.append(key)
        for child, (_, st_mode, size, mtime_ns, ino) in files:
            item = Item(FILE, size, mtime_ns, None, None, st_mode & 0o7777, ino)
            job = forked_copies.Job(
                f"{src_end}/{child}", item, f"{dst_end}/{child}", tmp_root, remover, folder
            )
            jobs.append((child, job))
        me = len(dirs) - 1
        todo.extend((child, me, st) for child, st in sorted(subs, reverse=True))
    return jobs, folders, dirs, owned, rescan


class _Vouch:
    """In a worker, after each report that tells of new folders placed (forked_copies
    `work_chunks`): each folder listed on the target and vouched for (`Vouched`) when it
    holds exactly the folder's copies as this worker made and reported them. This listing
    is the copies' verify for that folder (SPEC 3.1 step 6), made once it is whole, while
    the other workers still copy, instead of in a scan of the whole target at the end."""

    def __init__(
        self, dirs: list[Folder], keys: list[str], items: list[tuple[object, ...]], dst: str
    ) -> None:
        self.dirs, self.keys, self.items, self.dst = dirs, keys, items, dst
        self.places = {f: i for i, (_, _, f, *_) in enumerate(dirs) if f >= 0}
        self.seed = digest_seed(IgnoreRules())  # no rules: see `eligible`

    def __call__(self, landed: list[forked_copies.Landed], made: list[int]) -> Vouched | None:
        copies = {i: (inode, mode, digest) for i, inode, mode, digest in landed}
        out = []
        for f in made:
            i = self.places[f]
            digest = self._digest(self.dirs[i], copies)
            if digest is not None:
                out.append((i, digest))
        return ("vouched", out) if out else None

    def _digest(self, folder: Folder, copies: dict[int, tuple[int, int, str]]) -> str | None:
        key, lo, hi = folder[0], folder[4], folder[5]
        if any(j not in copies for j in range(lo, hi)):
            return None  # one failed (the run copies it again)
        listing, whole = list_flat(f"{self.dst}/{key}")
        if not whole or len(listing) != hi - lo:
            return None
        names = {self.keys[j].rpartition("/")[2]: j for j in range(lo, hi)}
        for st in listing:
            j = names.get(st[0], -1)
            if j < 0:
                return None
            inode, mode, digest = copies[j]
            size, mtime_ns = cast(int, self.items[j][1]), cast(int, self.items[j][2])
            if not as_recorded(Item(FILE, size, mtime_ns, digest, None, mode, inode), st):
                return None
        return flat_digest(self.seed, listing)


def make_folders(made: list[tuple[str, int]]) -> bool:
    """Make these folders (parents first; the owner keeps rwx, as transfer.make_dir does)
    and their parents durable; False when one cannot be made (something appeared there)."""
    try:
        for path, mode in made:
            os.mkdir(path)
            if mode:
                os.chmod(path, stat.S_IMODE(mode) | stat.S_IRWXU)
        transfer.sync_dirs({os.path.dirname(p) for p, _ in made})
    except OSError:
        return False
    return True
