"""Running and timing things: one child process per measured step, interleaved repetitions.

Wall time is `time.perf_counter()` around the child. Peak RSS comes from GNU
`/usr/bin/time -f %M`, which reports the biggest of the child and the grandchildren it
waited for (so `bash -c 'find | xargs cat'` reports its biggest process). `os.wait4` on a
child of this (big) Python process is not usable for that: Linux carries the RSS high-water
mark of the forked parent image across `exec`, so every child would look >= 50 MB.
Without /usr/bin/time (Debian package `time`), RSS is that upper bound and says so.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

GNU_TIME = "/usr/bin/time"
# A SpaceSync step failing like this is a feature not written yet, not a regression.
NOT_THERE_YET = ("ModuleNotFoundError", "ImportError", "NotImplementedError", "not implemented")


@dataclass
class Proc:
    cmd: list[str]
    rc: int
    wall: float
    rss_kb: int
    stdout: str
    stderr: str

    def tail(self, n: int = 3) -> str:
        lines = [ln for ln in (self.stderr or self.stdout).strip().splitlines() if ln.strip()]
        return " | ".join(lines[-n:])[-300:]


def run_proc(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None
) -> Proc:
    """Run `cmd` to completion with stdin closed; time it and read its peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", prefix="bench-rss-") as rss_file,
    ):
        argv = list(cmd)
        if os.access(GNU_TIME, os.X_OK):
            argv = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv]
        t0 = time.perf_counter()
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        rss_kb = int(ru.ru_maxrss)  # upper bound (see the module docstring)
        if argv[0] == GNU_TIME:
            try:
                rss_kb = int(rss_file.read().split()[-1])
            except (ValueError, IndexError):
                pass
        out.seek(0)
        err.seek(0)
        return Proc(
            list(cmd),
            p.returncode,
            wall,
            rss_kb,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


class StepFailed(Exception):
    """A measured step failed; the message says which and why."""


@dataclass
class Sample:
    """One measurement of one metric. `ok=False` samples are reported, never averaged."""

    wall: float | None  # seconds, unless `unit` says otherwise
    rss_kb: int = 0
    ok: bool = True
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    unit: str = "s"  # e.g. "µs" for a per-file time (the value is still in `wall`)


def failed(note: str) -> Sample:
    return Sample(None, ok=False, note=note)


@dataclass
class Case:
    """Something measured once per repetition; one run may yield several metrics.

    `run(rep)` returns {metric label: Sample}. Everything a case needs that is not part of
    the measurement (fresh folders, data dirs) is created by `run` outside the timed region.
    """

    name: str
    labels: list[str]  # the metrics `run` reports, in order
    run: Callable[[int], dict[str, Sample]]
    warmup: Callable[[], object] | None = None


def interleave(
    cases: list[Case],
    reps: int,
    *,
    before_each: Callable[[], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, list[Sample]]:
    """Warm every case up, then run rep 0 as A B C, rep 1 as B C A, ... (rotated order)."""
    results: dict[str, list[Sample]] = {}
    for c in cases:
        if c.warmup:
            log(f"    warm-up: {c.name}")
            try:
                c.warmup()
            except Exception as e:  # a failing warm-up shows up again in the real runs
                log(f"    warm-up of {c.name} failed: {e}")
    for rep in range(reps):
        k = rep % len(cases) if cases else 0
        for c in cases[k:] + cases[:k]:
            if before_each:
                before_each()
            try:
                got = c.run(rep)
            except StepFailed as e:
                msg = str(e)
                if any(m in msg for m in NOT_THERE_YET):
                    msg = f"not available: {msg}"
                got = {label: failed(msg) for label in c.labels}
            for label, s in got.items():
                results.setdefault(label, []).append(s)
            shown = ", ".join(
                f"{lbl} {s.wall:.3f}{s.unit}" if s.ok and s.wall is not None else f"{lbl} FAILED"
                for lbl, s in got.items()
            )
            bad = next((s.note for s in got.values() if not s.ok), "")
            if bad:
                shown += f" ({bad[:200]})"
            log(f"    rep {rep + 1}/{reps} {c.name}: {shown}")
    return results


@dataclass
class Stat:
    label: str
    n: int
    median: float | None
    min: float | None
    max: float | None
    rss_mb: float | None
    status: str  # ok | error | n/a
    note: str = ""
    samples: list[dict[str, object]] = field(default_factory=list)
    unit: str = "s"  # of median/min/max/mean
    mean: float | None = None


def summarize(label: str, samples: list[Sample]) -> Stat:
    good = [s.wall for s in samples if s.ok and s.wall is not None]
    bad = [s for s in samples if not s.ok]
    rss = max((s.rss_kb for s in samples if s.ok), default=0)
    notes = sorted({s.note for s in samples if s.note})
    status = "ok" if good and not bad else "error"
    if not good and bad and all(s.note.startswith("not available") for s in bad):
        status = "n/a"
    return Stat(
        label,
        len(good),
        statistics.median(good) if good else None,
        min(good) if good else None,
        max(good) if good else None,
        rss / 1024 if rss else None,
        status,
        "; ".join(notes)[:400],
        [
            {"wall": s.wall, "rss_kb": s.rss_kb, "ok": s.ok, "note": s.note, **s.extra}
            for s in samples
        ],
        unit=next((s.unit for s in samples if s.ok), "s"),
        mean=statistics.fmean(good) if good else None,
    )


# --- Sampling a running process (group `idle`) from /proc --------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_ticks() -> tuple[int, int]:
    """All cores' busy ticks (user, nice, system, irq, softirq) and their total with idle
    and iowait; steal (other VMs) and guest (already in user) left out (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    user, nice, system, idle, iowait, irq, softirq = fields
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def machine_busy(interval: float = 0.5) -> float:
    """The share of this machine's CPU time spent on work (any process's) over `interval`
    seconds: between the suite's steps, others' work that would be timed with the next."""
    b0, t0 = _cpu_ticks()
    time.sleep(interval)
    b1, t1 = _cpu_ticks()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def proc_cpu_s(pid: int) -> float:
    """CPU seconds used so far by `pid`: user + system time of all its threads (utime,
    stime), plus that of the children it has waited for (cutime, cstime); /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the name in (...) may hold spaces
    # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    """A kB line of /proc/PID/status, e.g. VmRSS (resident now) or VmHWM (peak resident)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise StepFailed(f"no {key} in /proc/{pid}/status (process exited?)")


def inotify_watches(pid: int) -> int:
    """How many inotify watches `pid` holds (the `inotify wd:` lines of its fdinfo)."""
    n = 0
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                n += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:  # closed meanwhile
            continue
    return n


def proc_tree(pid: int) -> list[int]:
    """`pid` and its live descendants (parent pids from every /proc/N/stat)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
            kids.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def tree_sum(pid: int, read: Callable[[int], float]) -> float:
    """`read(p)` summed over `pid` and its descendants (a child that exits meanwhile is
    skipped; once its parent waits for it, its CPU time is in the parent's cutime)."""
    total = read(pid)
    for p in proc_tree(pid)[1:]:
        try:
            total += read(p)
        except (OSError, StepFailed):
            pass
    return total


def drop_caches() -> None:
    """For cold figures (root only): flush dirty pages, drop the page cache."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
