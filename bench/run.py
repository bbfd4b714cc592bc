"""SpaceSync benchmark runner (SPEC section 7; read /work/shared/BENCHMARKING.md first).

    .venv/bin/python bench/run.py            # full suite on W1 (100k files), 5 repetitions
    .venv/bin/python bench/run.py --quick    # W1-quick (10k files), 3 repetitions, minutes
    .venv/bin/python bench/run.py --only index --reps 7

Every figure is compared with a baseline measured in the same invocation, interleaved
(the order of the cases rotates each repetition), after an untimed warm-up. SpaceSync runs
as the `spacesync` CLI in a fresh process per step, so start-up is included; the indexer is
also measured in-process. Results: a table on stdout and bench/results/latest.json.

Groups (all run by default, in this order; --quick uses the smaller tree in brackets):
    index    W1 [W1-quick]: first index and no-op rescan (CLI and in-process) vs a bare
             scandir+lstat walk and `cat` of every file
    scale    W1-shaped trees of 25k, 50k, 100k files [2.5k, 5k, 10k], 50 files per folder:
             in-process first index and no-op rescan, time per file; target: per-file time
             at the largest / at the smallest tree <= 1.3 (indexing scales linearly)
    sync     W1 [W1-quick]: initial and no-op mirror (CLI) vs `rsync -a`; peak RSS; and,
             beside it, vs `rsync -a && sync -f` (the copies durable, as SpaceSync's)
    w2       W2, 5,000 mixed files ~2.8 GB [W2-quick, 500 files ~260 MB]: the same as sync
    bigfile  one 1 GiB file [256 MiB]: mirror (CLI) vs `cp`, and `cp && sync FILE`
    w3       W3, two 1 GiB files [two 256 MiB]: initial mirror, CLI and in-process
             (FileSyncService.sync alone), vs `cp -a` + fsync of the copies; target: at
             least 85 % of cp's throughput (SPEC 7)
    bidir    W1 [W1-quick] on both sides, 1 % changed on each: bidirectional sync vs
             `unison -batch`
    runs     W1-2.5k: 500 [100] runs each of a mirror and a bidirectional conduit, each
             after 1 % of one side changed, and 100 [20] `spacesync sync` runs (every
             third one after a change); target (SPEC 7 floor): 99.9 % succeed
    watch    W1 [W1-quick] with the watcher running: trusted no-op sync, change latency
    idle     W1 [W1-quick] watched by an idle `spacesync daemon` (instant mirror conduit,
             synced, settled): CPU % of one core over a 60 s window [20 s] and RSS;
             targets (SPEC 7): <= 1 % of one core, <= 200 MB
    gui      W1 [W1-quick]: the desktop app's worst event-loop stall during a mirror

Measurement hygiene (BENCHMARKING.md): source trees are generated once and cached (never
deleted between runs); every repetition writes into a fresh folder; nothing is deleted
while measuring; the run's garbage is deleted at the end in the background, and the next
run waits until 65 s after that delete before it times any file creation (ext4 delays
inode reuse after big deletes).

Exit status: 0 when every target passes or is not available yet, 1 when one fails or a
SpaceSync step errors (the table and the JSON are written first), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inproc  # noqa: E402
import workload  # noqa: E402
from measure import (  # noqa: E402
    NOT_THERE_YET,
    Case,
    Proc,
    Sample,
    Stat,
    StepFailed,
    drop_caches,
    failed,
    inotify_watches,
    interleave,
    machine_busy,
    proc_cpu_s,
    proc_status_kb,
    proc_tree,
    run_proc,
    summarize,
    tree_sum,
)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
INPROC = BENCH / "inproc.py"
# ext4 passes over an inode deleted in the last 60 s, or 360 s while its inode-table block
# is dirty (RECENTCY_MIN, RECENTCY_DIRTY in fs/ext4/ialloc.c), reading the table to find out.
INODE_REUSE_WAIT_S = 370
# A ratio whose samples spread wider than this (max / min) is flagged NOISY in the report.
SPREAD_WARN = 2.0
# The creation canary (Ctx.canary): empty files made in fresh folders
# before each timed step. ~15 µs a file on this VM normally, 250-700 µs while ext4 skips
# the inodes of a big delete (BENCHMARKING.md); over the bar, the step waits.
CANARY_FOLDERS, CANARY_FILES = 200, 5
CANARY_BAR_US = 100.0
CANARY_GIVE_UP_S = 600
# The quiet check (Ctx.quiet): before each timed step the machine's CPU is
# sampled (measure.machine_busy); while others' work keeps over a quarter of it busy (half
# a core of two: a test suite, a build, a background delete), the step waits. Other VMs'
# use of the host (steal) is not seen and not waited for.
BUSY_BAR = 0.25
BUSY_GIVE_UP_S = 300
MB = 1024 * 1024
# SPEC 7's floor (the seed's own bar): local copies at 100 MB/s or more where the disk allows.
FLOOR_BYTES_PER_S = 100e6


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- context


@dataclass
class Target:
    """A pass/fail bar: `num / den <= limit` (ratio) or `metric <= limit` (absolute)."""

    name: str
    num: str
    limit: float
    den: str | None = None
    field: str = "median"  # median | mean | max (absolute bars only) | rss_mb
    unit: str = "x"
    spec: str = ""
    caveat: str = ""  # why the ratio is not to be trusted, found by the group (detail)


@dataclass
class GroupResult:
    stats: list[Stat] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Waiter:
    """Something the suite waits out before each timed step: while `probe()` reads over
    `bar`, it waits (`pause_s` at a time, at most `give_up_s`; then it times anyway, from
    then on). `what` says what was read (formats the value), `until` what it waited for."""

    probe: Callable[[], float]
    bar: float
    give_up_s: float
    pause_s: float
    what: str
    until: str
    waits: list[float] = field(default_factory=list)  # seconds waited, per step that waited
    given_up: bool = False

    def wait(self) -> None:
        if self.given_up:
            return
        start = time.time()
        while (value := self.probe()) > self.bar:
            if time.time() - start > self.give_up_s:
                log(f"  {self.what.format(value)}: timing anyway, from now on")
                self.given_up = True
                break
            log(f"  {self.what.format(value)}: waiting")
            time.sleep(self.pause_s)
        if time.time() - start > 1:
            self.waits.append(round(time.time() - start, 1))

    def notes(self) -> list[str]:
        out = []
        if self.waits:
            out.append(
                f"waited {sum(self.waits):.0f} s in all, before {len(self.waits)} timed "
                f"step(s), for {self.until}"
            )
        if self.given_up:
            out.append(f"gave up waiting for {self.until}: some steps were timed anyway")
        return out


class Ctx:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.quick: bool = a.quick
        self.reps: int = a.reps or (3 if a.quick else 5)
        self.work: Path = a.workdir.resolve()
        self.cache = self.work / "src"
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_dir = self.work / f"run-{stamp}-{os.getpid()}"
        self.spacesync = str(a.spacesync)
        self.python = a.python
        self.env = {k: v for k, v in os.environ.items() if k != "SPACESYNC_DATA_DIR"}
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self._n = 0
        self._trees: dict[str, tuple[Path, workload.TreeStats]] = {}
        self._probes: dict[tuple[str, ...], str | None] = {}
        self._sigs: dict[str, dict[str, tuple[int, int]]] = {}
        self.apt_updated = False
        # Time nothing while file creation is slowed down (ext4 for minutes after a big
        # delete, whoever made it: `rsync -a` once measured 41-48 s instead of 4 s so).
        self.canary = Waiter(
            self.creation_canary_us,
            CANARY_BAR_US,
            CANARY_GIVE_UP_S,
            15,
            "creating a file takes {:.0f} µs (ext4 after a big delete?)",
            "file creation to be fast again (the creation canary)",
        )
        # Time nothing while other work keeps the CPUs busy: the full suite of 22:58 on
        # 2026-11-27 had three targets flip to FAIL while a developer timed other things.
        self.quiet = Waiter(
            machine_busy,
            BUSY_BAR,
            BUSY_GIVE_UP_S,
            5,
            "the CPUs are busy with other work ({:.0%})",
            "other work on the CPUs to end (the quiet check)",
        )

    def fresh_dir(self, kind: str) -> Path:
        self._n += 1
        d = self.run_dir / f"{kind}-{self._n:03d}"
        d.mkdir(parents=True)
        return d

    def tree(self, name: str) -> tuple[Path, workload.TreeStats]:
        if name not in self._trees:
            self._trees[name] = workload.cached_tree(workload.WORKLOADS[name], self.cache, log)
        return self._trees[name]

    def signature(self, name: str) -> dict[str, tuple[int, int]]:
        if name not in self._sigs:
            self._sigs[name] = workload.tree_signature(self.tree(name)[0])
        return self._sigs[name]

    # -- SpaceSync CLI

    def ss(self, data_dir: Path, *args: str) -> Proc:
        return run_proc(
            [self.spacesync, "--data-dir", str(data_dir), "--json", *args], env=self.env
        )

    def ss_missing(self, *sub: str) -> str | None:
        """None when `spacesync SUB --help` works, else why the command is not available."""
        if sub not in self._probes:
            if not Path(self.spacesync).exists():
                why: str | None = f"{self.spacesync} not installed"
            else:
                p = run_proc([self.spacesync, *sub, "--help"], env=self.env)
                why = None if p.rc == 0 else f"`spacesync {' '.join(sub)}` not there yet"
            self._probes[sub] = why
        return self._probes[sub]

    def engine_missing(self, module: str) -> str | None:
        p = run_proc([self.python, "-c", f"import {module}"], env=self.env, cwd=str(REPO))
        return None if p.rc == 0 else f"{module} not importable ({p.tail(1)})"

    def before_each(self) -> None:
        os.sync()  # the previous step's dirty pages are not this step's cost
        if self.a.cold:
            drop_caches()
        self.quiet.wait()
        self.canary.wait()

    def creation_canary_us(self) -> float:
        """Microseconds per file to create empty files in new folders, as a copy does. The
        folders are spread over the disk as a copy's are; they go with the run's folders."""
        root = self.fresh_dir("canary")
        t = time.perf_counter()
        for i in range(CANARY_FOLDERS):
            folder = root / str(i)
            folder.mkdir()
            for j in range(CANARY_FILES):
                os.close(os.open(folder / str(j), os.O_CREAT | os.O_WRONLY, 0o644))
        return (time.perf_counter() - t) * 1e6 / (CANARY_FOLDERS * (CANARY_FILES + 1))


def json_out(p: Proc, what: str) -> dict:
    text = p.stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        for line in reversed(text.splitlines()):
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    break
    raise StepFailed(f"{what}: no JSON on stdout (rc {p.rc}): {p.tail()}")


def need_ok(p: Proc, what: str, ok_codes: tuple[int, ...] = (0,)) -> None:
    if p.rc not in ok_codes:
        raise StepFailed(f"{what} exited {p.rc}: {p.tail()}")


def find_id(obj: dict, *keys: str) -> int:
    if isinstance(obj.get("id"), int):
        return obj["id"]
    for k in keys:
        sub = obj.get(k)
        if isinstance(sub, dict) and isinstance(sub.get("id"), int):
            return sub["id"]
    raise StepFailed(f"no id in {json.dumps(obj)[:200]}")


def indexed_files(data_dir: Path, location_id: int) -> int:
    con = sqlite3.connect(data_dir / "library.sqlite", timeout=30)
    try:
        return con.execute(
            "SELECT count(*) FROM entries WHERE location_id=? AND kind='file'", (location_id,)
        ).fetchone()[0]
    finally:
        con.close()


def compare_trees(want: dict[str, tuple[int, int]], target: Path) -> str | None:
    have = workload.tree_signature(target)
    missing = len(want.keys() - have.keys())
    extra = len(have.keys() - want.keys())
    size = sum(1 for k in want.keys() & have.keys() if want[k][0] != have[k][0])
    mtime = sum(1 for k in want.keys() & have.keys() if want[k][1] != have[k][1])
    if missing or extra or size:
        return f"target differs: {missing} missing, {extra} extra, {size} wrong size"
    if mtime:
        return f"target has {mtime} files with a different mtime"
    return None


# --------------------------------------------------------------------------- system tools


def ensure_tool(ctx: Ctx, binary: str, package: str) -> str | None:
    """The tool's path, installing its Debian package first if it is missing and we can."""
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"  {binary} missing: apt-get install {package}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not ctx.apt_updated:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL)
            ctx.apt_updated = True
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
            env=env,
            stdin=subprocess.DEVNULL,
        )
    return shutil.which(binary)


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0][:120]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unavailable"


# --------------------------------------------------------------------------- garbage


def last_delete_file(ctx: Ctx) -> Path:
    return ctx.work / ".last-big-delete"


def _live(run_dir: Path) -> bool:
    """Is the run that owns `run_dir` (named run-DATE-TIME-PID) still going?"""
    try:
        pid = int(run_dir.name.rsplit("-", 1)[1])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def purge_leftovers(ctx: Ctx) -> None:
    """Delete garbage of earlier runs now (before anything is timed) and note when."""
    junk = list(ctx.work.glob("trash-*")) + [p for p in ctx.work.glob("run-*") if not _live(p)]
    junk += [p for p in ctx.cache.glob("*.stale-*")] + [p for p in ctx.cache.glob("*.partial-*")]
    if not junk:
        return
    log(f"  deleting {len(junk)} leftover folder(s) of earlier runs")
    for p in junk:
        shutil.rmtree(p, ignore_errors=True)
    last_delete_file(ctx).write_text(str(time.time()))


def wait_for_inode_reuse(ctx: Ctx) -> None:
    """Before timing file creation: let ext4 settle after a big delete (BENCHMARKING.md)."""
    try:
        when = float(last_delete_file(ctx).read_text())
    except (OSError, ValueError):
        return
    left = when + INODE_REUSE_WAIT_S - time.time()
    if left > 0:
        log(f"  waiting {left:.0f} s: a big delete happened recently (ext4 inode reuse delay)")
        time.sleep(left)


def dispose_run_dir(ctx: Ctx) -> None:
    """Deferred delete: move the run's folders aside and remove them in the background."""
    if not ctx.run_dir.exists():
        return
    if ctx.a.keep:
        log(f"kept {ctx.run_dir} (--keep); it is deleted at the start of the next run")
        return
    trash = ctx.work / f"trash-{ctx.run_dir.name}"
    ctx.run_dir.rename(trash)
    subprocess.Popen(
        ["sh", "-c", 'rm -rf "$1"; date +%s > "$2"', "rm", str(trash), str(last_delete_file(ctx))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log(f"deleting {trash.name} in the background")


# --------------------------------------------------------------------------- groups


def floor_stat(label: str, nbytes: int, baseline: Stat) -> Stat:
    """How long a copy of `nbytes` may take at SPEC 7's floor: at 100 MB/s, or as long as
    `baseline` took (the same copy by a plain tool, made durable) where the disk is slower."""
    at_floor = nbytes / FLOOR_BYTES_PER_S

    def t(x: float | None) -> float | None:
        return None if x is None else max(at_floor, x)

    note = f"{nbytes / 1e6:,.0f} MB at 100 MB/s: {at_floor:.2f} s, or the baseline's time if longer"
    return Stat(
        label,
        baseline.n,
        t(baseline.median),
        t(baseline.min),
        t(baseline.max),
        None,
        baseline.status,
        note if baseline.status == "ok" else baseline.note,
    )


def floor_target(name: str, num: str, floor: str) -> Target:
    return Target(
        f"{name} >= 100 MB/s where the disk allows (SPEC 7 floor)", num, 1.0, floor, spec="7"
    )


def not_available(labels: list[str], why: str) -> dict[str, Sample]:
    return {lbl: failed(f"not available: {why}") for lbl in labels}


def not_available_lists(labels: list[str], why: str) -> dict[str, list[Sample]]:
    return {lbl: [s] for lbl, s in not_available(labels, why).items()}


def check_disk(ctx: Ctx, need_bytes: float, what: str) -> None:
    """Refuse to start a group that would fill the disk (the group is reported as crashed)."""
    free = shutil.disk_usage(ctx.work).free
    if free < need_bytes:
        raise RuntimeError(
            f"{what} needs ~{need_bytes / 1e9:.1f} GB free under {ctx.work}, "
            f"only {free / 1e9:.1f} GB is free"
        )


def warm_page_cache(ctx: Ctx, root: Path) -> None:
    """Read every file of `root` once (untimed), so no case pays for the first read."""
    if ctx.a.cold:
        return
    script = 'find "$1" -type f -print0 | xargs -0 cat > /dev/null'
    need_ok(run_proc(["bash", "-c", script, "cat", str(root)]), "warming the page cache")


def discard_now(path: Path) -> None:
    """Delete a measured copy of a FEW LARGE files right away (untimed, between steps).

    Only for the large-file groups: deleting a handful of files frees their space without
    the ext4 inode-reuse slowdown that deleting 10k+ files causes (BENCHMARKING.md), and
    keeps the disk need of a full run at one copy instead of one per repetition. Trees of
    many files are never deleted while measuring.
    """
    shutil.rmtree(path, ignore_errors=True)


def _inproc_index(ctx: Ctx, root: Path) -> tuple[dict, int]:
    """`inproc.py index ROOT` with a fresh data dir: (its JSON object, peak RSS in KiB)."""
    d = ctx.fresh_dir("data")
    p = run_proc(
        [ctx.python, str(INPROC), "index", "--data-dir", str(d), str(root)],
        env=ctx.env,
        cwd=str(REPO),
    )
    need_ok(p, "in-process index")
    return json_out(p, "in-process index"), p.rss_kb


def group_index(ctx: Ctx) -> GroupResult:
    """W1: first index and no-op rescan vs a bare scandir+lstat walk and `cat` of every file."""
    wl = "W1-quick" if ctx.quick else "W1"
    src, stats = ctx.tree(wl)
    warm, _ = ctx.tree("WARM")
    L_WALK, L_WALK_IN = "bare walk: scandir+lstat (fresh process)", "bare walk (in-process)"
    L_CAT = "cat every file (find | xargs cat)"
    L_FIRST, L_NOOP = "spacesync first index (CLI)", "spacesync no-op rescan (CLI)"
    L_FIRST_IN = "spacesync first index (in-process)"
    L_NOOP_IN = "spacesync no-op rescan (in-process)"

    def walk(root: Path) -> dict[str, Sample]:
        p = run_proc([ctx.python, str(INPROC), "walk", str(root)], env=ctx.env)
        need_ok(p, "walk")
        d = json_out(p, "walk")
        return {
            L_WALK: Sample(p.wall, p.rss_kb, extra=d),
            L_WALK_IN: Sample(d["walk_s"], p.rss_kb),
        }

    def cat(root: Path) -> dict[str, Sample]:
        script = 'find "$1" -type f -print0 | xargs -0 cat > /dev/null'
        p = run_proc(["bash", "-c", script, "cat", str(root)])
        need_ok(p, "find | xargs cat")
        return {L_CAT: Sample(p.wall, p.rss_kb)}

    cli_missing = ctx.ss_missing("location", "add") or ctx.ss_missing("location", "scan")

    def cli(root: Path, expect: int | None) -> dict[str, Sample]:
        if cli_missing:
            return not_available([L_FIRST, L_NOOP], cli_missing)
        d = ctx.fresh_dir("data")
        p1 = ctx.ss(d, "location", "add", str(root), "--no-watch")
        need_ok(p1, "spacesync location add")
        lid = find_id(json_out(p1, "location add"), "location")
        add_indexes = indexed_files(d, lid) > 0
        first, rss, scan_s = p1.wall, p1.rss_kb, 0.0
        if not add_indexes:
            p2 = ctx.ss(d, "location", "scan", str(lid))
            need_ok(p2, "spacesync location scan (first)")
            first, rss, scan_s = first + p2.wall, max(rss, p2.rss_kb), p2.wall
        p3 = ctx.ss(d, "location", "scan", str(lid))
        need_ok(p3, "spacesync location scan (no-op)")
        n = indexed_files(d, lid)
        note = "" if expect is None or n == expect else f"indexed {n} of {expect} files"
        extra: dict[str, object] = {"add_s": p1.wall, "scan_s": scan_s, "files": n}
        extra["add_indexes"] = add_indexes
        return {
            L_FIRST: Sample(first, rss, ok=not note, note=note, extra=extra),
            L_NOOP: Sample(p3.wall, p3.rss_kb, ok=not note, note=note),
        }

    inproc_missing = ctx.engine_missing("spacesync_gui.engine.indexer")

    def inproc(root: Path, expect: int | None) -> dict[str, Sample]:
        if inproc_missing:
            return not_available([L_FIRST_IN, L_NOOP_IN], inproc_missing)
        r, rss = _inproc_index(ctx, root)
        note = "" if expect is None or r["files"] == expect else f"indexed {r['files']} files"
        return {
            L_FIRST_IN: Sample(r["first_s"], rss, ok=not note, note=note, extra=r),
            L_NOOP_IN: Sample(r["noop_s"], rss, ok=not note, note=note),
        }

    cases = [
        Case("walk", [L_WALK, L_WALK_IN], lambda rep: walk(src), lambda: walk(src)),
        Case("cat", [L_CAT], lambda rep: cat(src), lambda: cat(src)),
        Case(
            "spacesync CLI",
            [L_FIRST, L_NOOP],
            lambda rep: cli(src, stats.files),
            lambda: cli(warm, None),
        ),
        Case(
            "spacesync in-process",
            [L_FIRST_IN, L_NOOP_IN],
            lambda rep: inproc(src, stats.files),
            lambda: inproc(warm, None),
        ),
    ]
    res = interleave(cases, ctx.reps, before_each=ctx.before_each, log=log)
    order = [L_FIRST, L_NOOP, L_FIRST_IN, L_NOOP_IN, L_WALK, L_WALK_IN, L_CAT]
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in order if lbl in res],
        targets=[
            Target("no-op rescan / bare walk (CLI vs fresh process)", L_NOOP, 1.5, L_WALK),
            Target("no-op rescan / bare walk (in-process)", L_NOOP_IN, 1.5, L_WALK_IN),
            Target("first index / cat (CLI)", L_FIRST, 3.0, L_CAT),
            Target("first index / cat (in-process)", L_FIRST_IN, 3.0, L_CAT),
        ],
        notes=[f"{wl}: {stats.files} files, {stats.dirs} folders, {stats.bytes / MB:.0f} MiB"],
    )


# Group `scale`: W1-shaped trees (50 files per folder, W1's size bands), smallest first.
SCALE_WORKLOADS = {False: ("W1-25k", "W1-50k", "W1"), True: ("W1-2.5k", "W1-5k", "W1-quick")}
SCALE_LIMIT = 1.3  # time per file, largest tree / smallest tree


def group_scale(ctx: Ctx) -> GroupResult:
    """Indexing linearity: in-process index of 25k/50k/100k files (quick: 2.5k/5k/10k)."""
    names = SCALE_WORKLOADS[ctx.quick]
    trees = {wl: ctx.tree(wl) for wl in names}
    missing = ctx.engine_missing("spacesync_gui.engine.indexer")
    # Per tree: first index and no-op rescan in seconds, then the same per file in µs.
    labels: dict[str, list[str]] = {}
    for wl in names:
        k = f"scale {trees[wl][1].files:,} files"
        labels[wl] = [
            f"{k}: first index (in-process)",
            f"{k}: no-op rescan (in-process)",
            f"{k}: first index, µs per file",
            f"{k}: no-op rescan, µs per file",
        ]

    def run(wl: str) -> dict[str, Sample]:
        lf, ln, lpf, lpn = labels[wl]
        if missing:
            return not_available(labels[wl], missing)
        root, st = trees[wl]
        r, rss = _inproc_index(ctx, root)
        note = "" if r["files"] == st.files else f"indexed {r['files']} of {st.files} files"
        ok = not note
        return {
            lf: Sample(r["first_s"], rss, ok=ok, note=note, extra=r),
            ln: Sample(r["noop_s"], rss, ok=ok, note=note),
            lpf: Sample(r["first_s"] / st.files * 1e6, rss, ok=ok, note=note, unit="µs"),
            lpn: Sample(r["noop_s"] / st.files * 1e6, rss, ok=ok, note=note, unit="µs"),
        }

    # The warm-up indexes the measured tree itself (untimed): page cache and bytecode warm.
    def case(wl: str) -> Case:
        return Case(f"index {wl}", labels[wl], lambda rep: run(wl), lambda: run(wl))

    cases = [case(wl) for wl in names]
    res = interleave(cases, ctx.reps, before_each=ctx.before_each, log=log)
    order = [lb for wl in names for lb in labels[wl][:2]]
    order += [lb for wl in names for lb in labels[wl][2:]]
    small, large = names[0], names[-1]
    ns, nl = trees[small][1].files, trees[large][1].files
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in order if lbl in res],
        targets=[
            Target(
                f"indexing scales linearly: first index µs/file, {nl:,} / {ns:,} files",
                labels[large][2],
                SCALE_LIMIT,
                labels[small][2],
                spec="7",
            ),
            Target(
                f"indexing scales linearly: no-op rescan µs/file, {nl:,} / {ns:,} files",
                labels[large][3],
                SCALE_LIMIT,
                labels[small][3],
                spec="7",
            ),
        ],
        notes=[
            "scale: W1-shaped trees (50 files per folder, W1's size bands) "
            + ", ".join(
                f"{wl} {trees[wl][1].files:,} files / {trees[wl][1].bytes / MB:.0f} MiB"
                for wl in names
            )
            + "; in-process (`inproc.py index`), fresh data dir each time; the µs-per-file "
            "rows are the same runs divided by the file count"
        ],
    )


def _add_and_sync(
    ctx: Ctx, d: Path, src: Path, target: Path, *opts: str
) -> tuple[Proc, Proc, int, dict[str, Any]]:
    """`conduit add` (a mirror) and its first `sync`, each a new process; the sync must
    complete. Returns both processes, the conduit id and the sync's JSON."""
    p1 = ctx.ss(d, "conduit", "add", str(src), str(target), "--mode", "mirror", *opts)
    need_ok(p1, "spacesync conduit add")
    cid = find_id(json_out(p1, "conduit add"), "conduit")
    p2 = ctx.ss(d, "sync", str(cid))
    need_ok(p2, "spacesync sync (initial)")
    out = json_out(p2, "sync")
    if out.get("status") != "completed":
        raise StepFailed(f"initial sync status {out.get('status')}: {out.get('reason', '')}")
    return p1, p2, cid, out


def _spacesync_mirror(
    ctx: Ctx, src: Path, target: Path, want: dict[str, tuple[int, int]], noop: bool
) -> tuple[Sample, Sample | None]:
    """conduit add + sync (initial), then optionally a second sync (no-op), each a new process."""
    d = ctx.fresh_dir("data")
    p1, p2, cid, out = _add_and_sync(ctx, d, src, target)
    bad = compare_trees(want, target)
    extra = {
        "add_s": p1.wall,
        "sync_s": p2.wall,
        "copied": out.get("copied"),
        "bytes": out.get("bytes_transferred"),
    }
    first = Sample(
        p1.wall + p2.wall, max(p1.rss_kb, p2.rss_kb), ok=bad is None, note=bad or "", extra=extra
    )
    if not noop:
        return first, None
    p3 = ctx.ss(d, "sync", str(cid))
    need_ok(p3, "spacesync sync (no-op)")
    out3 = json_out(p3, "sync (no-op)")
    changed = [k for k in ("copied", "deleted", "moved") if out3.get(k)]
    note = f"no-op sync changed things: {changed}" if changed else ""
    return first, Sample(p3.wall, p3.rss_kb, ok=not note, note=note)


def _mirror_vs_rsync(ctx: Ctx, wl: str, *, tag: str = "", spec: str = "") -> GroupResult:
    """Initial mirror into a fresh target and no-op mirror of `wl`, vs `rsync -a`.

    Shared by groups `sync` (W1) and `w2`. `tag` prefixes the labels and target names so
    that the groups' rows stay distinct (the W1 rows keep their original, untagged names).
    """
    src, stats = ctx.tree(wl)
    warm, _ = ctx.tree("WARM")
    want, want_warm = ctx.signature(wl), ctx.signature("WARM")
    pre = f"{tag}: " if tag else ""
    L_RS_INIT, L_RS_NOOP = f"{pre}rsync -a initial mirror", f"{pre}rsync -a no-op mirror"
    L_SS_INIT = f"{pre}spacesync initial mirror (CLI)"
    L_SS_NOOP = f"{pre}spacesync no-op mirror (CLI)"
    # SpaceSync's copies are durable when it says "done" (SPEC 3.6); rsync's sit in the page
    # cache until written back later. Shown beside the SPEC's bar, which stays `rsync -a`.
    L_RS_DURABLE = f"{pre}rsync -a && sync -f (copies durable, as SpaceSync's)"
    L_FLOOR = f"{pre}initial mirror at 100 MB/s (or rsync -a && sync -f, if slower)"
    rsync = ensure_tool(ctx, "rsync", "rsync")

    def rs(root: Path) -> dict[str, Sample]:
        if not rsync:
            return not_available([L_RS_INIT, L_RS_NOOP], "rsync not installed")
        t = ctx.fresh_dir("rsync-target")
        cmd = [rsync, "-a", "--exclude=/.spacesync/", f"{root}/", f"{t}/"]
        p1 = run_proc(cmd)
        need_ok(p1, "rsync (initial)")
        p2 = run_proc(cmd)
        need_ok(p2, "rsync (no-op)")
        return {L_RS_INIT: Sample(p1.wall, p1.rss_kb), L_RS_NOOP: Sample(p2.wall, p2.rss_kb)}

    def rs_durable(root: Path) -> dict[str, Sample]:
        if not rsync:
            return not_available([L_RS_DURABLE], "rsync not installed")
        t = ctx.fresh_dir("rsync-target")
        script = '"$1" -a --exclude=/.spacesync/ "$2/" "$3/" && sync -f "$3"'
        p = run_proc(["sh", "-c", script, "rs", rsync, str(root), str(t)])
        need_ok(p, "rsync && sync")
        return {L_RS_DURABLE: Sample(p.wall, p.rss_kb)}

    missing = ctx.ss_missing("conduit", "add") or ctx.ss_missing("sync")

    def ss(root: Path, sig: dict[str, tuple[int, int]]) -> dict[str, Sample]:
        if missing:
            return not_available([L_SS_INIT, L_SS_NOOP], missing)
        first, again = _spacesync_mirror(ctx, root, ctx.fresh_dir("ss-target"), sig, True)
        assert again is not None
        return {L_SS_INIT: first, L_SS_NOOP: again}

    if not (missing and not rsync):
        # Every repetition keeps three full copies until the run's deferred delete.
        check_disk(ctx, stats.bytes * 3.3 * ctx.reps + 1e9, f"{wl} mirror ({ctx.reps} reps)")
        warm_page_cache(ctx, src)
        wait_for_inode_reuse(ctx)
    cases = [
        Case("rsync", [L_RS_INIT, L_RS_NOOP], lambda rep: rs(src), lambda: rs(warm)),
        Case(
            "rsync && sync", [L_RS_DURABLE], lambda rep: rs_durable(src), lambda: rs_durable(warm)
        ),
        Case(
            "spacesync CLI",
            [L_SS_INIT, L_SS_NOOP],
            lambda rep: ss(src, want),
            lambda: ss(warm, want_warm),
        ),
    ]
    res = interleave(cases, ctx.reps, before_each=ctx.before_each, log=log)
    order = [L_SS_INIT, L_SS_NOOP, L_RS_INIT, L_RS_NOOP, L_RS_DURABLE]
    name = f"{tag} " if tag else ""
    got = [summarize(lbl, res[lbl]) for lbl in order if lbl in res]
    durable = next(st for st in got if st.label == L_RS_DURABLE)
    plain = next(st for st in got if st.label == L_RS_INIT)
    caveat = ""
    if plain.median and durable.median and plain.median > durable.median * 1.1:
        # The same copy plus a flush cannot take less: the machine changed between them.
        caveat = (
            f"`rsync -a` ({plain.median:.2f} s) took longer than `rsync -a && sync -f` "
            f"({durable.median:.2f} s) in this run"
        )
    return GroupResult(
        stats=[*got, floor_stat(L_FLOOR, stats.bytes, durable)],
        targets=[
            floor_target(f"{name}initial mirror rate", L_SS_INIT, L_FLOOR),
            Target(
                f"{name}initial mirror / rsync -a",
                L_SS_INIT,
                1.0,
                L_RS_INIT,
                spec=spec,
                caveat=caveat,
            ),
            Target(
                f"{name}initial mirror / rsync -a && sync -f (like for like, not the SPEC's)",
                L_SS_INIT,
                1.0,
                L_RS_DURABLE,
            ),
            Target(
                f"{name}no-op mirror (fresh process) / rsync -a",
                L_SS_NOOP,
                1.0,
                L_RS_NOOP,
                spec=spec,
            ),
        ],
        notes=[
            f"{tag or 'sync'} source {wl}: {stats.files:,} files in {stats.dirs:,} folders, "
            f"{stats.bytes / MB:.0f} MiB"
        ],
    )


def group_sync(ctx: Ctx) -> GroupResult:
    """W1: initial mirror into a fresh target and no-op mirror, vs `rsync -a`."""
    wl = "W1-quick" if ctx.quick else "W1"
    r = _mirror_vs_rsync(ctx, wl, spec="7")
    r.targets.append(
        Target(
            "peak RSS of a mirror sync",
            "spacesync initial mirror (CLI)",
            300.0,
            field="rss_mb",
            unit=" MB",
            spec="7",
        )
    )
    return r


def group_w2(ctx: Ctx) -> GroupResult:
    """W2 (5,000 mixed files, ~2.8 GB; 500 with --quick): initial and no-op mirror vs rsync."""
    # SPEC 7 sets the rsync bar for W1; the same bar is applied to W2's bigger files.
    return _mirror_vs_rsync(ctx, "W2-quick" if ctx.quick else "W2", tag="W2")


def _inproc_mirror(ctx: Ctx, src: Path, target: Path, want: dict[str, tuple[int, int]]) -> Sample:
    """`inproc.py mirror`: only `FileSyncService.sync` is timed (no start-up, no add)."""
    d = ctx.fresh_dir("data")
    p = run_proc(
        [ctx.python, str(INPROC), "mirror", "--data-dir", str(d), str(src), str(target)],
        env=ctx.env,
        cwd=str(REPO),
    )
    need_ok(p, "in-process mirror")
    r = json_out(p, "in-process mirror")
    if r.get("status") != "completed":
        raise StepFailed(f"in-process mirror status {r.get('status')}: {r.get('reason') or ''}")
    bad = compare_trees(want, target)
    return Sample(r["sync_s"], p.rss_kb, ok=bad is None, note=bad or "", extra=r)


@dataclass(frozen=True)
class CopyLabels:
    """Metric labels of one `_copy_vs_cp` group (labels must be unique across groups)."""

    cp: str  # cp -a of the files (data left in the page cache)
    cp_sync: str  # cp -a, then fsync every copy: the fair baseline (SPEC 3.6 fsyncs)
    cli: str  # spacesync conduit add + sync, fresh processes
    inproc: str | None = None  # FileSyncService.sync alone, in-process; None: not measured


def _copy_vs_cp(ctx: Ctx, wl: str, lb: CopyLabels) -> tuple[dict[str, Stat], workload.TreeStats]:
    """A SpaceSync mirror of a few large files (`wl`) vs `cp -a` of them (groups bigfile, w3).

    Every repetition copies into a fresh folder, and the copy is deleted right after it is
    checked (`discard_now`: a few large files), so a full run needs room for one copy.
    """
    src, stats = ctx.tree(wl)
    warm, _ = ctx.tree("WARM")
    want, want_warm = ctx.signature(wl), ctx.signature("WARM")
    entries = sorted(str(p) for p in src.iterdir() if p.name not in workload.SKIP_NAMES)

    def cp(rep: int | None, fsync: bool) -> dict[str, Sample]:
        t = ctx.fresh_dir("cp-target")
        script = 'd=$1; shift; cp -a -- "$@" "$d"/'
        if fsync:  # `sync FILE...` fsyncs just those files (not the whole filesystem)
            script += ' && find "$d" -type f -exec sync -- {} +'
        try:
            p = run_proc(["sh", "-c", script, "cp", str(t), *entries])
            need_ok(p, "cp -a && sync" if fsync else "cp -a")
        finally:
            discard_now(t)
        return {lb.cp_sync if fsync else lb.cp: Sample(p.wall, p.rss_kb)}

    missing = ctx.ss_missing("conduit", "add") or ctx.ss_missing("sync")

    def cli(rep: int | None) -> dict[str, Sample]:
        if missing:
            return not_available([lb.cli], missing)
        root, sig = (src, want) if rep is not None else (warm, want_warm)  # warm-up: small
        t = ctx.fresh_dir("ss-target")
        try:
            first, _ = _spacesync_mirror(ctx, root, t, sig, False)
        finally:
            discard_now(t)
        return {lb.cli: first}

    inproc_missing = ctx.engine_missing("spacesync_gui.engine.service")

    def inproc(rep: int | None) -> dict[str, Sample]:
        assert lb.inproc is not None
        if inproc_missing:
            return not_available([lb.inproc], inproc_missing)
        root, sig = (src, want) if rep is not None else (warm, want_warm)
        t = ctx.fresh_dir("ss-target")
        try:
            sample = _inproc_mirror(ctx, root, t, sig)
        finally:
            discard_now(t)
        return {lb.inproc: sample}

    check_disk(ctx, stats.bytes * 1.2 + 1e9, f"{wl} copies")
    wait_for_inode_reuse(ctx)
    # The cp warm-ups copy the measured files (and so warm the page cache with them).
    cases = [
        Case("cp -a", [lb.cp], lambda rep: cp(rep, False), lambda: cp(None, False)),
        Case("cp -a && sync", [lb.cp_sync], lambda rep: cp(rep, True), lambda: cp(None, True)),
        Case("spacesync CLI", [lb.cli], cli, lambda: cli(None)),
    ]
    if lb.inproc:
        cases.append(Case("spacesync in-process", [lb.inproc], inproc, lambda: inproc(None)))
    res = interleave(cases, ctx.reps, before_each=ctx.before_each, log=log)
    return {lbl: summarize(lbl, got) for lbl, got in res.items()}, stats


def group_bigfile(ctx: Ctx) -> GroupResult:
    """One large file (1 GiB; 256 MiB with --quick): SpaceSync mirror vs `cp`."""
    wl = "BIG-quick" if ctx.quick else "BIG"
    lb = CopyLabels(
        cp="cp of one large file",
        cp_sync="cp + fsync of the copy (cp && sync FILE)",
        cli="spacesync mirror of one large file (CLI)",
    )
    res, stats = _copy_vs_cp(ctx, wl, lb)
    return GroupResult(
        stats=[res[lbl] for lbl in (lb.cli, lb.cp, lb.cp_sync) if lbl in res],
        targets=[
            # Throughput >= 85 % of cp  <=>  time <= cp time / 0.85. Against plain `cp`,
            # which leaves its copy in the page cache, no fsyncing copy could pass: shown
            # as a figure, not a bar (as in group w3).
            Target(
                "large-file mirror / cp && sync (SpaceSync fsyncs; not a SPEC target)",
                lb.cli,
                1 / 0.85,
                lb.cp_sync,
            ),
        ],
        notes=[
            f"{wl}: {stats.bytes / MB:.0f} MiB in one file; the SpaceSync time includes "
            "process start-up, indexing the source, the hashed copy, fsync and the "
            "verify rescan. `cp` (-a) leaves the data in the page cache (shown for "
            "reference, no bar); `cp && sync FILE` is the like-for-like baseline, since SPEC "
            "3.6 requires the fsync before the rename"
        ],
    )


def group_w3(ctx: Ctx) -> GroupResult:
    """W3 (two 1 GiB files; 256 MiB with --quick): SpaceSync initial mirror vs `cp -a`."""
    wl = "W3-quick" if ctx.quick else "W3"
    L_IN = "W3: spacesync initial mirror (in-process sync)"
    lb = CopyLabels(
        cp="W3: cp -a of the folder",
        cp_sync="W3: cp -a + fsync of the copies (cp -a && sync FILES)",
        cli="W3: spacesync initial mirror (CLI)",
        inproc=L_IN,
    )
    L_FLOOR = "W3: copied at 100 MB/s (or cp -a && sync, if slower)"
    res, stats = _copy_vs_cp(ctx, wl, lb)
    short = {lb.cp_sync: "cp -a && sync", lb.cli: "CLI", L_IN: "in-process", lb.cp: "cp -a"}
    medians = {lbl: res[lbl].median for lbl in short if lbl in res}
    rates = [
        f"{name} {stats.bytes / MB / m:.0f}"
        for lbl, name in short.items()
        if (m := medians.get(lbl))
    ]
    return GroupResult(
        stats=[
            *(res[lbl] for lbl in (lb.cli, L_IN, lb.cp_sync, lb.cp) if lbl in res),
            floor_stat(L_FLOOR, stats.bytes, res[lb.cp_sync]),
        ],
        targets=[
            floor_target("W3 copy rate (CLI)", lb.cli, L_FLOOR),
            # SPEC 7: throughput >= 85 % of cp  <=>  time <= (cp -a && sync) time / 0.85.
            Target(
                "W3 copy throughput vs cp (CLI, >= 85 %)", lb.cli, 1 / 0.85, lb.cp_sync, spec="7"
            ),
            Target(
                "W3 copy throughput vs cp (in-process sync, >= 85 %)",
                L_IN,
                1 / 0.85,
                lb.cp_sync,
                spec="7",
            ),
        ],
        notes=[
            f"w3 {wl}: {stats.files} files, {stats.bytes / MB:.0f} MiB; baseline `cp -a` of the "
            "folder's files, then `sync FILE...` (SPEC 3.6 makes SpaceSync fsync before the "
            "rename; plain cp -a is shown for reference). The CLI row is `conduit add` + "
            "`sync` in fresh processes; the in-process row times only "
            "FileSyncService(lib).sync(id) (indexing the source, hashed copy, fsync, "
            "verify). Median throughput, MiB/s: " + ", ".join(rates)
        ],
    )


def _copy_tree(ctx: Ctx, src: Path, kind: str) -> Path:
    """An untimed copy of a cached tree (without its .spacesync folder) to modify freely."""
    dest = ctx.fresh_dir(kind)
    rsync = shutil.which("rsync")
    if rsync:
        p = run_proc([rsync, "-a", "--exclude=/.spacesync/", f"{src}/", f"{dest}/"])
    else:
        p = run_proc(["cp", "-a", f"{src}/.", str(dest)])
        shutil.rmtree(dest / ".spacesync", ignore_errors=True)
    need_ok(p, "copying a tree")
    return dest


def group_bidir(ctx: Ctx) -> GroupResult:
    """W1 on both sides, 1 % changed on each side: bidirectional sync vs `unison -batch`."""
    wl = "W1-quick" if ctx.quick else "W1"
    src, stats = ctx.tree(wl)
    warm, _ = ctx.tree("WARM")
    L_UN = "unison -batch after 1 % changes per side"
    L_SS = "spacesync bidir sync after 1 % changes per side (CLI)"
    L_UN0, L_SS0 = "unison -batch initial (untimed prep)", "spacesync bidir initial (untimed prep)"
    unison = ensure_tool(ctx, "unison", "unison")
    missing = ctx.ss_missing("conduit", "add") or ctx.ss_missing("sync")

    def prepare(root: Path, rep: int | None) -> tuple[Path, Path]:
        a, b = _copy_tree(ctx, root, "bidir-a"), _copy_tree(ctx, root, "bidir-b")
        return a, b

    def mutate_both(a: Path, b: Path) -> set[str]:
        ma = workload.mutate(a, 0.01, 11, tag="a")
        mb = workload.mutate(b, 0.01, 12, tag="b")

        def touched(m: workload.Mutation) -> set[str]:
            return set(m.edited) | set(m.added) | set(m.deleted) | {p for r in m.renamed for p in r}

        return touched(ma) & touched(mb)

    def check(a: Path, b: Path, both: set[str]) -> str:
        sa, sb = workload.tree_signature(a), workload.tree_signature(b)
        bad = [k for k in sa.keys() ^ sb.keys() if k not in both and ".unison" not in k]
        bad += [k for k in sa.keys() & sb.keys() if sa[k][0] != sb[k][0] and k not in both]
        return f"sides differ after sync: {len(bad)} paths, e.g. {sorted(bad)[:3]}" if bad else ""

    def un(root: Path, rep: int | None) -> dict[str, Sample]:
        if not unison:
            return not_available([L_UN, L_UN0], "unison not installed")
        a, b = prepare(root, rep)
        env = {**ctx.env, "UNISON": str(ctx.fresh_dir("unison-home"))}
        cmd = [
            unison,
            str(a),
            str(b),
            "-batch",
            "-times",
            "-ui",
            "text",
            "-ignore",
            "Path .spacesync",
            "-confirmbigdel=false",
        ]
        p0 = run_proc(cmd, env=env)
        need_ok(p0, "unison (initial)", (0, 1))
        both = mutate_both(a, b)
        ctx.before_each()
        p = run_proc(cmd, env=env)
        need_ok(p, "unison (after changes)", (0, 1, 2))
        note = check(a, b, both)
        return {
            L_UN: Sample(
                p.wall, p.rss_kb, ok=not note, note=note, extra={"conflicting": len(both)}
            ),
            L_UN0: Sample(p0.wall, p0.rss_kb),
        }

    def ss(root: Path, rep: int | None) -> dict[str, Sample]:
        if missing:
            return not_available([L_SS, L_SS0], missing)
        a, b = prepare(root, rep)
        d = ctx.fresh_dir("data")
        p1 = ctx.ss(d, "conduit", "add", str(a), str(b), "--mode", "bidirectional")
        need_ok(p1, "spacesync conduit add (bidirectional)")
        cid = find_id(json_out(p1, "conduit add"), "conduit")
        p2 = ctx.ss(d, "sync", str(cid))
        need_ok(p2, "spacesync sync (initial bidirectional)", (0, 4))
        both = mutate_both(a, b)
        ctx.before_each()
        p3 = ctx.ss(d, "sync", str(cid))
        need_ok(p3, "spacesync sync (after changes)", (0, 4))
        out = json_out(p3, "sync")
        note = check(a, b, both)
        extra = {k: out.get(k) for k in ("copied", "deleted", "moved", "conflicts")}
        return {
            L_SS: Sample(p3.wall, p3.rss_kb, ok=not note, note=note, extra=extra),
            L_SS0: Sample(p1.wall + p2.wall, max(p1.rss_kb, p2.rss_kb)),
        }

    # Both tools get two copies of the tree per repetition, kept until the deferred delete.
    check_disk(ctx, stats.bytes * 4.4 * ctx.reps + 1e9, f"bidir on {wl} ({ctx.reps} reps)")
    wait_for_inode_reuse(ctx)
    cases = [
        Case("unison", [L_UN, L_UN0], lambda rep: un(src, rep), lambda: un(warm, None)),
        Case("spacesync CLI", [L_SS, L_SS0], lambda rep: ss(src, rep), lambda: ss(warm, None)),
    ]
    res = interleave(cases, ctx.reps, before_each=lambda: None, log=log)
    order = [L_SS, L_UN, L_SS0, L_UN0]
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in order if lbl in res],
        targets=[
            Target("bidir sync after 1 % changes / unison -batch", L_SS, 1.0, L_UN, spec="7"),
            Target("peak RSS of a bidir sync", L_SS, 300.0, field="rss_mb", unit=" MB", spec="7"),
        ],
        notes=[
            f"bidir: {wl} ({stats.files:,} files) copied to both sides and synced once "
            "(untimed), then workload.mutate 1 % on each side (seeds 11 and 12; 40 % edits, "
            "20 % adds, 20 % deletes, 20 % renames); only the next sync is timed, fresh "
            "process each"
        ],
    )


def group_watch(ctx: Ctx) -> GroupResult:
    """Watcher running (index trusted): no-op sync, and change-to-arrival latency."""
    wl = "W1-quick" if ctx.quick else "W1"
    src, stats = ctx.tree(wl)
    L_NOOP = "spacesync no-op sync, index trusted (in-process sync_now)"
    L_LAT, L_P95 = "change -> arrival, instant conduit (median)", "change -> arrival (p95)"
    L_WALK = "bare walk of the source (in-process, reference)"
    missing = ctx.engine_missing("spacesync_gui.engine.runtime")

    def run(rep: int | None) -> dict[str, Sample]:
        if missing:
            return not_available([L_NOOP, L_LAT, L_P95], missing)
        root = src if rep is not None else ctx.tree("WARM")[0]
        a = _copy_tree(ctx, root, "watch-src")
        b = ctx.fresh_dir("watch-dst")
        d = ctx.fresh_dir("data")
        changes = "20" if rep is not None else "2"
        p = run_proc(
            [
                ctx.python,
                str(INPROC),
                "watch",
                "--data-dir",
                str(d),
                str(a),
                str(b),
                "--changes",
                changes,
                "--reps",
                "5",
            ],
            env=ctx.env,
            cwd=str(REPO),
        )
        need_ok(p, "in-process watch")
        r = json_out(p, "in-process watch")
        return {
            L_NOOP: Sample(r["trusted_noop_s"], p.rss_kb, extra=r),
            L_LAT: Sample(r["latency_median_s"], p.rss_kb),
            L_P95: Sample(r["latency_p95_s"], p.rss_kb),
        }

    def walk(rep: int | None) -> dict[str, Sample]:
        p = run_proc([ctx.python, str(INPROC), "walk", str(src)], env=ctx.env)
        need_ok(p, "walk")
        return {L_WALK: Sample(json_out(p, "walk")["walk_s"], p.rss_kb)}

    cases = [
        Case("watch", [L_NOOP, L_LAT, L_P95], run, lambda: run(None)),
        Case("walk", [L_WALK], walk, lambda: walk(None)),
    ]
    reps = max(1, min(ctx.reps, 2))
    res = interleave(cases, reps, before_each=ctx.before_each, log=log)
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in (L_NOOP, L_LAT, L_P95, L_WALK) if lbl in res],
        targets=[
            Target(
                "no-op sync with a trusted index", L_NOOP, 0.5, field="median", unit=" s", spec="7"
            ),
        ],
        notes=[
            f"watch: {wl}; EngineRuntime with the watcher (defaults: 1 s watcher quiet, 2 s "
            "instant-schedule quiet), 20 changes one after another; the latency is "
            "dominated by the debounce that SPEC 3.8 asks for"
        ],
    )


# Group `idle` (SPEC 7: "Watching W1 while idle: under 1 % of one core and under 200 MB RSS").
IDLE_WINDOW_S = {False: 60, True: 20}  # the measured window, full / --quick
IDLE_SUB_S = 5  # the window is split into sub-windows of this length (median/min/max)
IDLE_SETTLE_S = 5.0  # settle check: CPU over this many seconds ...
IDLE_SETTLED_PCT = 2.0  # ... at most this % of one core, twice in a row, watches unchanged
IDLE_SETTLE_TIMEOUT_S = 300.0
IDLE_STOP_TIMEOUT_S = 30.0


def _start_daemon(ctx: Ctx, data_dir: Path) -> subprocess.Popen[bytes]:
    """`spacesync --data-dir D daemon` in its own session; output to files in D."""
    with (
        open(data_dir / "daemon.stdout", "wb") as out,
        open(data_dir / "daemon.stderr", "wb") as err,
    ):
        return subprocess.Popen(
            [ctx.spacesync, "--data-dir", str(data_dir), "daemon"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=ctx.env,
            start_new_session=True,  # its own process group: nothing can be left behind
        )


def _stop_daemon(proc: subprocess.Popen[bytes]) -> tuple[int | None, str]:
    """SIGTERM, wait; (exit status or None if it had to be killed, what went wrong)."""
    problem = ""
    rc = proc.poll()
    if rc is None:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=IDLE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            problem = f"daemon still running {IDLE_STOP_TIMEOUT_S:.0f} s after SIGTERM; killed"
    try:  # anything left in its process group (the daemon itself, if it hung)
        os.killpg(proc.pid, signal.SIGKILL)
        problem = problem or "the daemon left processes behind; killed"
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait()
        rc = None
    return rc, problem


def _daemon_alive(proc: subprocess.Popen[bytes], data_dir: Path, when: str) -> None:
    if proc.poll() is not None:
        err = (data_dir / "daemon.stderr").read_text(errors="replace").strip().splitlines()
        raise StepFailed(f"daemon exited {proc.returncode} {when}: {' | '.join(err[-3:])[-300:]}")


def _log_lines(data_dir: Path, *needles: str) -> list[str]:
    try:
        text = (data_dir / "spacesync.log").read_text(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if any(n in ln for n in needles)]


def _cpu_s(pid: int) -> float:
    """CPU seconds of the daemon and any child processes it runs (the engine may live in a
    child process, as the desktop app's does)."""
    return tree_sum(pid, proc_cpu_s)


def _rss_kb(pid: int, key: str = "VmRSS") -> int:
    return int(tree_sum(pid, lambda p: proc_status_kb(p, key)))


def _watches(pid: int) -> int:
    return int(tree_sum(pid, inotify_watches))


def _wait_settled(
    proc: subprocess.Popen[bytes], data_dir: Path
) -> tuple[float, list[float], int, bool]:
    """Wait until the daemon is idle: two IDLE_SETTLE_S windows in a row at most
    IDLE_SETTLED_PCT of one core with an unchanged number of inotify watches (the watchers
    are set up and the start-up scans or runs are over). (seconds waited, CPU % of each
    window, watches, settled before IDLE_SETTLE_TIMEOUT_S?)"""
    pid = proc.pid
    t0 = last_t = time.monotonic()
    last_cpu, last_w = _cpu_s(pid), _watches(pid)
    history: list[float] = []
    quiet = 0
    while True:
        time.sleep(IDLE_SETTLE_S)
        _daemon_alive(proc, data_dir, "while settling")
        now, cpu, w = time.monotonic(), _cpu_s(pid), _watches(pid)
        pct = (cpu - last_cpu) / (now - last_t) * 100
        history.append(round(pct, 2))
        quiet = quiet + 1 if pct <= IDLE_SETTLED_PCT and w == last_w else 0
        last_t, last_cpu, last_w = now, cpu, w
        if quiet >= 2:
            return now - t0, history, w, True
        if now - t0 >= IDLE_SETTLE_TIMEOUT_S:
            return now - t0, history, w, False


def _idle_daemon(
    ctx: Ctx, src: Path, want: dict[str, tuple[int, int]], window: int
) -> tuple[list[Sample], list[Sample], dict[str, object]]:
    """Private copy of `src` -> instant mirror conduit into a fresh target, initial sync,
    daemon, settle, measure.

    The daemon watches a private copy, not the cached tree: every file another process
    opens in a watched folder reaches the daemon as inotify events (open, close), and the
    cached trees are read by other groups and by other people's benchmark runs (seen:
    20-50 % of one core for over a minute while `gui_stall.py` read W1-quick, and its
    `location add` rewrote the root's marker).
    """
    log("    copying the tree (untimed)")
    a = _copy_tree(ctx, src, "idle-src")
    d, dst = ctx.fresh_dir("data"), ctx.fresh_dir("idle-dst")
    log("    instant mirror: conduit add and initial sync (untimed)")
    p1, p2, _, _ = _add_and_sync(ctx, d, a, dst, "--schedule", "instant")
    bad = compare_trees(want, dst)
    if bad:
        raise StepFailed(f"initial mirror wrong: {bad}")
    os.sync()
    info: dict[str, object] = {"initial_sync_s": round(p1.wall + p2.wall, 2)}
    runs_before = len(_log_lines(d, " finished: "))
    proc = _start_daemon(ctx, d)
    log(f"    daemon started (pid {proc.pid}); waiting until it is idle")
    try:
        settle_s, history, watches, settled = _wait_settled(proc, d)
        info.update(settle_s=round(settle_s, 1), settle_cpu_pct=history, settled=settled)
        info["inotify_watches"] = watches
        log(
            f"    {'settled' if settled else 'NOT settled'} after {settle_s:.0f} s (CPU % of "
            f"one core per {IDLE_SETTLE_S:.0f} s: {history}); {watches:,} inotify watches"
        )
        runs_start = len(_log_lines(d, " finished: "))
        log(f"    measuring {window} s")
        pid = proc.pid
        t0 = sub_t = time.monotonic()
        cpu0 = sub_cpu = _cpu_s(pid)
        procs = len(proc_tree(pid))
        cpu_pct: list[float] = []
        rss_kb: list[int] = []
        for i in range(1, window + 1):
            time.sleep(max(0.0, t0 + i - time.monotonic()))
            _daemon_alive(proc, d, "during the measurement")
            rss_kb.append(_rss_kb(pid))
            if i % IDLE_SUB_S == 0 or i == window:
                now, cpu = time.monotonic(), _cpu_s(pid)
                cpu_pct.append((cpu - sub_cpu) / (now - sub_t) * 100)
                sub_t, sub_cpu = now, cpu
        whole = (sub_cpu - cpu0) / (sub_t - t0) * 100
        hwm = _rss_kb(pid, "VmHWM")
        procs = max(procs, len(proc_tree(pid)))
        info.update(
            window_s=round(sub_t - t0, 2),
            cpu_s=round(sub_cpu - cpu0, 3),
            cpu_pct_window=round(whole, 3),
            vmhwm_mb=round(hwm / 1024, 1),
            inotify_watches_end=_watches(pid),
            processes=procs,
            runs_at_start=runs_start - runs_before,
            runs_in_window=len(_log_lines(d, " finished: ")) - runs_start,
        )
    finally:
        rc, problem = _stop_daemon(proc)
    if problem or rc != 0:
        raise StepFailed(problem or f"daemon exited {rc} after SIGTERM (want 0)")
    warnings = _log_lines(d, " WARNING ", " ERROR ", " CRITICAL ")
    info["log_warnings"] = len(warnings)
    notes = []
    if not info["settled"]:
        notes.append(f"not idle within {IDLE_SETTLE_TIMEOUT_S:.0f} s of start-up")
    if info["runs_in_window"]:
        notes.append(f"{info['runs_in_window']} sync run(s) during the window")
    if warnings:
        notes.append(f"daemon logged {len(warnings)} warning(s): {warnings[0][-150:]}")
    note = "; ".join(notes)
    cpu_samples = [Sample(v, hwm, note=note, extra=info, unit="%") for v in cpu_pct]
    rss_samples = [Sample(kb / 1024, hwm, note=note, unit="MB") for kb in rss_kb]
    log(
        f"    CPU {whole:.3f} % of one core over {sub_t - t0:.1f} s ({IDLE_SUB_S} s windows: "
        f"{', '.join(f'{v:.2f}' for v in cpu_pct)}); RSS {min(rss_kb) / 1024:.0f}-"
        f"{max(rss_kb) / 1024:.0f} MB, VmHWM {hwm / 1024:.0f} MB; daemon exited 0"
    )
    return cpu_samples, rss_samples, info


def group_idle(ctx: Ctx) -> GroupResult:
    """An idle `spacesync daemon` watching W1 (W1-quick): CPU % of one core and RSS."""
    wl = "W1-quick" if ctx.quick else "W1"
    src, stats = ctx.tree(wl)
    L_CPU, L_RSS = "idle watching W1: CPU % of one core", "idle watching W1: RSS MB"
    window = IDLE_WINDOW_S[ctx.quick]
    missing = ctx.ss_missing("conduit", "add") or ctx.ss_missing("sync") or ctx.ss_missing("daemon")
    res: dict[str, list[Sample]]
    info: dict[str, object] = {}
    if missing:
        res = not_available_lists([L_CPU, L_RSS], missing)
    else:
        check_disk(ctx, stats.bytes * 2.2 + 1e9, f"idle on {wl}")  # two copies
        try:
            cpu, rss, info = _idle_daemon(ctx, src, ctx.signature(wl), window)
            res = {L_CPU: cpu, L_RSS: rss}
        except StepFailed as e:
            msg = str(e)
            if any(m in msg for m in NOT_THERE_YET):
                msg = f"not available: {msg}"
            log(f"    idle: FAILED ({msg[:200]})")
            res = {L_CPU: [failed(msg)], L_RSS: [failed(msg)]}
    detail = ""
    if info.get("cpu_pct_window") is not None:
        detail = (
            f"; whole window {info['cpu_pct_window']} % of one core "
            f"({info['cpu_s']} CPU s in {info['window_s']} s), VmHWM {info['vmhwm_mb']} MB, "
            f"{info['inotify_watches']:,} inotify watches, {info['processes']} process(es), "
            f"settled after {info['settle_s']} s"
        )
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in (L_CPU, L_RSS)],
        targets=[
            Target(
                "idle watching W1: CPU (SPEC 7: 1 %)", L_CPU, 1.0, field="mean", unit=" %", spec="7"
            ),
            Target(
                "idle watching W1: RSS (SPEC 7: 200 MB)",
                L_RSS,
                200.0,
                field="max",
                unit=" MB",
                spec="7",
            ),
        ],
        notes=[
            f"idle: a private copy of {wl} ({stats.files:,} files, {stats.dirs:,} folders) "
            "mirrored (instant conduit, initial sync untimed) into a fresh folder; then "
            "`spacesync daemon` watching both "
            f"until idle, and a {window} s window: CPU = utime+stime of all its threads "
            "(/proc/PID/stat; plus any child processes) / wall time, rows are "
            f"{IDLE_SUB_S} s sub-windows, the target is their mean (= the whole window); "
            "RSS = VmRSS every second (target: its maximum), the RSS MB column is VmHWM "
            "(peak since start-up, scans included)" + detail
        ],
    )


RUNS_PER_MODE = {False: 500, True: 100}  # in-process runs per mode, full / --quick
RUNS_CLI = {False: 100, True: 20}  # runs through the CLI, fresh processes
RUNS_TREE = "W1-2.5k"
RUNS_SHARE = 0.01  # of one side's files changed before each run
RUNS_FAIL_PCT = 0.1  # SPEC 7's floor: 99.9 % of runs succeed


def _runs_inproc(ctx: Ctx, src: Path, mode: str, count: int) -> dict:
    """`inproc.py runs`: `count` in-process runs of a `mode` conduit (its JSON object)."""
    a, b, d = _copy_tree(ctx, src, "runs-a"), ctx.fresh_dir("runs-b"), ctx.fresh_dir("data")
    cmd = [ctx.python, str(INPROC), "runs", "--data-dir", str(d), str(a), str(b)]
    cmd += ["--mode", mode, "--runs", str(count), "--share", str(RUNS_SHARE)]
    p = run_proc(cmd, env=ctx.env, cwd=str(REPO))
    need_ok(p, f"{count} {mode} runs")
    return json_out(p, f"{mode} runs")


def _runs_cli(ctx: Ctx, src: Path, count: int) -> dict:
    """`count` runs of `spacesync sync ID` (a mirror conduit), each a fresh process: every
    third one after a 1 % change of the source, the two after it with nothing to do (as a
    rule the quick no-op's path, which in-process runs never take: the run with the change
    restored the digests of the folders it wrote in, engine/digest_rescan.py). Judged as
    `inproc.py runs` judges."""
    import statistics

    a, b, d = _copy_tree(ctx, src, "runs-cli-a"), ctx.fresh_dir("runs-cli-b"), ctx.fresh_dir("data")
    p = ctx.ss(d, "conduit", "add", str(a), str(b), "--mode", "mirror")
    need_ok(p, "spacesync conduit add (runs)")
    cid = find_id(json_out(p, "conduit add"), "conduit")
    failures: list[dict] = []
    times: list[float] = []
    for i in range(count):
        if i % 3 == 1:
            workload.mutate(a, RUNS_SHARE, seed=10_000 + i, tag="c")
        p = ctx.ss(d, "sync", str(cid))
        times.append(p.wall)
        try:
            r = json.loads(p.stdout)
        except ValueError:
            r = {}
        diff = inproc._differences(inproc._contents(str(a)), inproc._contents(str(b)))
        bad = p.rc != 0 or r.get("status") != "completed" or not r.get("verified")
        if bad or r.get("errors") or r.get("conflicts") or diff:
            failures.append(
                {
                    "run": i,
                    "exit": p.rc,
                    "report": {k: r.get(k) for k in ("status", "reason", "errors")},
                    "stderr": p.tail(3),
                    "differ": diff[:5],
                    "differ_count": len(diff),
                }
            )
    return {
        "mode": "mirror (CLI)",
        "runs": count,
        "failed": len(failures),
        "failures": failures,
        "sync_median_s": statistics.median(times) if times else None,
        "sync_s": [round(t, 3) for t in times],
    }


def group_runs(ctx: Ctx) -> GroupResult:
    """Runs that succeed (SPEC 7 floor, 99.9 %): many syncs, each after a small change."""
    src, stats = ctx.tree(RUNS_TREE)
    count, cli_count = RUNS_PER_MODE[ctx.quick], RUNS_CLI[ctx.quick]
    L_FAILED = "runs that did not succeed, % (mirror, bidirectional, CLI)"
    L_RUN = "one run after a 1 % change, in-process (median)"
    L_CLI = "one `spacesync sync` run, fresh process (median)"
    missing = ctx.engine_missing("spacesync_gui.engine.service") or ctx.ss_missing("sync")
    outs: list[dict] = []
    broken: list[Sample] = []
    if missing:
        res = not_available_lists([L_FAILED, L_RUN, L_CLI], missing)
    else:
        check_disk(ctx, stats.bytes * 12 + 1e9, f"{RUNS_TREE} runs")
        steps: list[tuple[str, Callable[[], dict]]] = [
            (mode, lambda mode=mode: _runs_inproc(ctx, src, mode, count))
            for mode in ("mirror", "bidirectional")
        ]
        steps.append(("CLI", lambda: _runs_cli(ctx, src, cli_count)))
        for name, step in steps:
            try:
                o = step()
            except StepFailed as e:
                broken.append(failed(f"{name}: {e}"))
                continue
            outs.append(o)
            log(f"    {o['mode']}: {o['runs'] - o['failed']}/{o['runs']} runs succeeded")
            for f in o["failures"][:5]:
                log(f"      run {f['run']}: {json.dumps(f)[:300]}")
        total = sum(o["runs"] for o in outs)
        bad = sum(o["failed"] for o in outs)
        info = {"runs": total, "failed": bad, "by_mode": outs}
        medians = {o["mode"]: o["sync_median_s"] for o in outs if o["sync_median_s"] is not None}
        res = {
            L_FAILED: broken
            or [Sample(100 * bad / total, unit="%", extra=info) if total else failed("no runs")],
            L_RUN: broken
            or [Sample(t, extra={"mode": m}) for m, t in medians.items() if "CLI" not in m],
            L_CLI: broken or [Sample(t) for m, t in medians.items() if "CLI" in m],
        }
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in (L_FAILED, L_RUN, L_CLI)],
        targets=[
            Target(
                "runs that succeed >= 99.9 % (SPEC 7 floor): failed share",
                L_FAILED,
                RUNS_FAIL_PCT,
                unit=" %",
                spec="7",
            )
        ],
        notes=[
            f"runs: private copies of {RUNS_TREE} ({stats.files:,} files); {count} runs each "
            "of a mirror and a bidirectional conduit (in-process, forked scans as the CLI), "
            f"each after {RUNS_SHARE:.0%} of one side's files were edited, added, deleted or "
            "renamed (workload.mutate; the bidirectional conduit's sides in turn, so no "
            f"conflicts); and {cli_count} runs of `spacesync sync` (mirror, fresh processes), "
            "every third one after such a change of the source, the two after it with "
            "nothing to do (as a rule the quick no-op's path). A run succeeds when "
            "it completes (CLI: exit 0), verified, without an error, and both sides then hold "
            "the same files and folders "
            "(path, size, mtime, content). Changes made while a run runs are not part of "
            "this (such a run reports them, and the next run takes them)."
        ],
    )


def group_gui(ctx: Ctx) -> GroupResult:
    """GUI event loop: the worst stall of the real app (offscreen) during a W1 sync."""
    wl = "W1-quick" if ctx.quick else "W1"
    src, _stats = ctx.tree(wl)
    L_STALL, L_P99 = "GUI worst event-loop stall during a sync", "GUI p99 stall"
    # Not a SPEC target: how long the app takes, which the CLI's figures do not show.
    L_SECONDS = f"desktop app: sync now -> run finished ({wl} mirror, new conduit)"
    L_SCANS = f"desktop app: start -> start-up scans done ({wl} and an empty folder)"
    labels = [L_STALL, L_P99, L_SECONDS, L_SCANS]
    missing = ctx.engine_missing("spacesync_gui.ui.app")

    def run(rep: int | None) -> dict[str, Sample]:
        if missing:
            return not_available(labels, missing)
        root = src if rep is not None else ctx.tree("WARM")[0]
        env = dict(ctx.env, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
        p = run_proc(
            [ctx.python, str(BENCH / "gui_stall.py"), str(root), str(ctx.fresh_dir("gui"))],
            env=env,
            cwd=str(REPO),
        )
        need_ok(p, "gui stall")
        r = json_out(p, "gui stall")
        return {
            L_STALL: Sample(r["worst_stall_ms"] / 1000, p.rss_kb, extra=r),
            L_P99: Sample(r["p99_stall_ms"] / 1000, p.rss_kb),
            L_SECONDS: Sample(r["seconds"], p.rss_kb),
            L_SCANS: Sample(r["start_up_scans_s"], p.rss_kb),
        }

    res = interleave(
        [Case("gui", labels, run, lambda: run(None))],
        max(1, min(ctx.reps, 3)),
        before_each=ctx.before_each,
        log=log,
    )
    return GroupResult(
        stats=[summarize(lbl, res[lbl]) for lbl in labels if lbl in res],
        targets=[
            Target(
                "GUI worst event-loop stall (SPEC 7: 50 ms)",
                L_STALL,
                0.05,
                field="median",
                unit=" s",
                spec="7",
            )
        ],
        notes=[
            f"gui: the whole app offscreen (window, bridge, engine process) mirrors {wl} "
            "into a fresh folder; a 5 ms QTimer measures how late the event loop runs while "
            "it syncs. The conduit is added before the app starts: the app scans both new "
            "folders at start-up (a mirror's source without reading its files, see "
            'deferred.py), and "sync now" is clicked once those scans ended, so the sync '
            "row is the run alone (the CLI's rows include their own scans)"
        ],
    )


# Adding a benchmark: write a group function returning a GroupResult and list it here.
# The default run (no --only) runs every group, in this order.
GROUPS: dict[str, Callable[[Ctx], GroupResult]] = {
    "index": group_index,
    "scale": group_scale,
    "sync": group_sync,
    "w2": group_w2,
    "bigfile": group_bigfile,
    "w3": group_w3,
    "bidir": group_bidir,
    "runs": group_runs,
    "watch": group_watch,
    "idle": group_idle,
    "gui": group_gui,
}


# --------------------------------------------------------------------------- report


def evaluate(t: Target, stats: dict[str, Stat]) -> dict[str, object]:
    num = stats.get(t.num)
    den = stats.get(t.den) if t.den else None
    row: dict[str, object] = {**asdict(t), "value": None, "result": "N/A", "detail": ""}
    parts = [num] + ([den] if t.den else [])
    if any(s is None or s.status == "n/a" for s in parts):
        row["detail"] = "not available yet"
        return row
    if any(s.status == "error" for s in parts if s):
        row["result"] = "ERROR"
        row["detail"] = "; ".join(s.note for s in parts if s and s.status == "error")[:300]
        return row
    assert num is not None
    if t.field == "rss_mb":
        value = num.rss_mb
    elif t.den is None:  # an absolute bar on a statistic of the samples (median by default)
        value = getattr(num, t.field)
    else:
        assert den is not None and num.median is not None and den.median
        value = num.median / den.median
    if value is None:
        row["detail"] = "no value"
        return row
    row["value"] = round(value, 3)
    row["result"] = "PASS" if value <= t.limit else "FAIL"
    noisy = [
        f"{s.label} {s.min:.2f}-{s.max:.2f} s"
        for s in parts
        if s is not None and s.unit == "s" and s.min and s.max and s.max > SPREAD_WARN * s.min
    ]
    why = [t.caveat] if t.caveat else []
    if t.den:
        why += noisy
    if why:
        row["detail"] = f"NOISY, do not trust this ratio: {'; '.join(why)}"
    return row


def verdict(targets: list[dict]) -> list[str]:
    """The run's summary: the SPEC 7 targets (what `make bench` exits 1 for), the suite's
    own bars (like-for-like baselines, diagnostics: a FAIL there is reported, not fatal),
    and what was measured in error (a group that crashed: fatal), when anything was."""
    out = []
    for label, rows in (
        ("SPEC 7 targets", [t for t in targets if t["spec"]]),
        ("other bars (ours, a FAIL not fatal)", [t for t in targets if not t["spec"]]),
    ):
        passed = sum(t["result"] == "PASS" for t in rows)
        bad = [f"{t['name']}: FAIL" for t in rows if t["result"] == "FAIL"]
        line = f"{label}: {passed} of {len(rows)} pass"
        out.append(line + (f"; {'; '.join(bad)}" if bad else ""))
    errors = [str(t["name"]) for t in targets if t["result"] == "ERROR"]
    if errors:
        out.append(f"measured in error (the run fails): {'; '.join(errors)}")
    return out


def exit_status(targets: list[dict], quick: bool = False) -> int:
    """1 when a SPEC 7 target fails or anything measured in error (a crashed group), else 0.
    In quick mode only an error counts: SPEC 7 defines its targets on the full workloads,
    and a tenth of W1 is mostly the fixed costs of the tools' start (indicative only)."""
    for t in targets:
        if t["result"] == "ERROR" or (t["spec"] and t["result"] == "FAIL" and not quick):
            return 1
    return 0


def fmt(x: float | None, nd: int = 3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def print_report(meta: dict, stats: list[Stat], targets: list[dict], notes: list[str]) -> None:
    w = max([len(s.label) for s in stats] + [40])
    log("")
    log(
        f"== SpaceSync benchmarks: {meta['mode']}, {meta['reps']} repetitions, "
        f"{'cold' if meta['cold'] else 'warm'} cache, {meta['started']} =="
    )
    for n in notes:
        log(f"   {n}")
    log("")
    head = f"{'median s':>9} {'min s':>8} {'max s':>8} {'RSS MB':>7} {'n':>2}  status"
    log(f"{'metric':<{w}}  {head}")
    for s in stats:
        status = s.status if s.status != "ok" else ""
        if s.note:
            status = f"{status} {s.note}".strip()
        log(
            f"{s.label:<{w}}  {fmt(s.median):>9} {fmt(s.min):>8} {fmt(s.max):>8} "
            f"{fmt(s.rss_mb, 0):>7} {s.n:>2}  {status}"[:220]
        )
    log("")
    tw = max([len(str(t["name"])) for t in targets] + [30])
    log(f"{'target':<{tw}}  {'bar':>6}  {'value':>8}  {'limit':>8}  result")
    for t in targets:
        unit = t["unit"]
        value = "-" if t["value"] is None else f"{t['value']:.2f}{unit}"
        limit = f"<= {t['limit']:.2f}{unit}"
        detail = f"  ({t['detail']})" if t["detail"] else ""
        bar = "SPEC 7" if t["spec"] else "ours"
        log(f"{t['name']:<{tw}}  {bar:>6}  {value:>8}  {limit:>8}  {t['result']}{detail}"[:270])
    log("")
    for line in verdict(targets):
        log(line)
    if meta["mode"] == "quick":
        log(
            "\n(quick mode: targets are defined for full W1; these results are indicative,"
            " and only a group that crashed makes the run exit 1)"
        )


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="SpaceSync benchmarks (see bench/README.md)")
    ap.add_argument(
        "--quick", action="store_true", help="smaller trees (W1-quick: 10k files), 3 reps"
    )
    ap.add_argument("--reps", type=int, default=0, help="repetitions (default 5, quick 3)")
    ap.add_argument("--only", default="", help=f"comma-separated groups: {','.join(GROUPS)}")
    ap.add_argument("--cold", action="store_true", help="drop the page cache before each step")
    ap.add_argument("--keep", action="store_true", help="keep this run's folders")
    ap.add_argument("--workdir", type=Path, default=BENCH / "work")
    ap.add_argument("--results", type=Path, default=BENCH / "results")
    ap.add_argument("--spacesync", type=Path, default=REPO / ".venv" / "bin" / "spacesync")
    ap.add_argument("--python", default=sys.executable, help="interpreter with the engine")
    a = ap.parse_args(argv)
    groups = [g for g in a.only.split(",") if g] or list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {unknown}; choose from {list(GROUPS)}")
    if a.cold and os.geteuid() != 0:
        ap.error("--cold needs root (it writes /proc/sys/vm/drop_caches)")

    ctx = Ctx(a)
    ctx.work.mkdir(parents=True, exist_ok=True)
    ctx.cache.mkdir(parents=True, exist_ok=True)
    meta = {
        "mode": "quick" if a.quick else "full",
        "reps": ctx.reps,
        "cold": a.cold,
        "groups": groups,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "git": git_rev(),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "rsync": tool_version(["rsync", "--version"]),
        "cp": tool_version(["cp", "--version"]),
        "spacesync": tool_version([ctx.spacesync, "--version"]),
        "workdir": str(ctx.work),
    }
    log(f"SpaceSync benchmarks ({meta['mode']}): groups {', '.join(groups)}; work in {ctx.work}")
    if not ensure_tool(ctx, "time", "time"):
        log("  /usr/bin/time missing and not installable: RSS figures are upper bounds")
    meta["rss_source"] = "GNU time %M" if os.access("/usr/bin/time", os.X_OK) else "wait4"
    purge_leftovers(ctx)
    # Bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set (it is on
    # some machines) every `spacesync` process would otherwise compile the package again.
    package = Path(__file__).resolve().parent.parent / "spacesync_gui"
    compileall = [sys.executable, "-m", "compileall", "-q", str(package)]
    subprocess.run(compileall, check=False, stdout=subprocess.DEVNULL)
    t0 = time.time()
    all_stats: list[Stat] = []
    all_targets: list[Target] = []
    notes: list[str] = []
    try:
        for g in groups:
            log(f"\n-- {g}: {(GROUPS[g].__doc__ or '').strip().splitlines()[0]}")
            try:
                r = GROUPS[g](ctx)
            except Exception as e:  # one broken group must not hide the others' numbers
                log(f"  group {g} crashed: {type(e).__name__}: {e}")
                notes.append(f"group {g} crashed: {type(e).__name__}: {e}")
                all_targets.append(Target(f"group {g} ran", f"__crash_{g}__", 0))
                all_stats.append(
                    Stat(
                        f"__crash_{g}__",
                        0,
                        None,
                        None,
                        None,
                        None,
                        "error",
                        f"{type(e).__name__}: {e}",
                    )
                )
                continue
            all_stats += r.stats
            all_targets += r.targets
            notes += r.notes
    finally:
        dispose_run_dir(ctx)
    by_label = {s.label: s for s in all_stats}
    targets = [evaluate(t, by_label) for t in all_targets]
    meta["seconds"] = round(time.time() - t0, 1)
    meta["creation_waits_s"] = ctx.canary.waits
    meta["busy_waits_s"] = ctx.quiet.waits
    notes += ctx.canary.notes() + ctx.quiet.notes()
    shown = [s for s in all_stats if not s.label.startswith("__crash_")]
    print_report(meta, shown, targets, notes)

    a.results.mkdir(parents=True, exist_ok=True)
    doc = {
        "meta": meta,
        "notes": notes,
        "metrics": [asdict(s) for s in all_stats],
        "targets": targets,
    }
    text = json.dumps(doc, indent=1)
    (a.results / "latest.json").write_text(text)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (a.results / f"{stamp}-{meta['mode']}.json").write_text(text)
    log(f"\nwrote {a.results / 'latest.json'} ({meta['seconds']} s)")
    return exit_status(targets, quick=meta["mode"] == "quick")


if __name__ == "__main__":
    sys.exit(main())
