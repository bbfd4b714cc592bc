"""Developer tool: time one in-process mirror sync (initial, then no-op) phase by phase.

    .venv/bin/python bench/prof_sync.py SRC WORKDIR [--profile out.prof]
    .venv/bin/python bench/prof_sync.py SRC WORKDIR --mode bidirectional --mutate 0.01

WORKDIR must not exist (a fresh target and data dir are made in it). Not part of the
suite: use it to see where a sync spends its time; compare only runs made back to back.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from spacesync_gui.engine import service as service_mod
from spacesync_gui.engine.conduits import add_conduit
from spacesync_gui.engine.db import open_library

# _refresh counts the rescans of _verify too (it calls _refresh).
PHASES = ("_preflight", "_refresh", "_plan", "_execute", "_verify")


def idle_cpu_s() -> float:
    """Idle + iowait time of all cores so far (Linux /proc/stat), in CPU-seconds."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return 0.0
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def instrument(times: dict[str, float]) -> None:
    cls = service_mod.FileSyncService
    for name in PHASES:
        fn = getattr(cls, name)

        def wrap(*a, __fn=fn, __name=name, **k):
            t, c, i = time.perf_counter(), time.process_time(), idle_cpu_s()
            try:
                return __fn(*a, **k)
            finally:
                times[__name] = times.get(__name, 0.0) + time.perf_counter() - t
                cpu = f"{__name}_cpu"  # this process's CPU (forked scans and copies not included)
                times[cpu] = times.get(cpu, 0.0) + time.process_time() - c
                # Cores left idle (whole machine): what more parallel work could still use.
                idle = f"{__name}_idle"
                times[idle] = times.get(idle, 0.0) + idle_cpu_s() - i

        setattr(cls, name, wrap)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("work")
    ap.add_argument("--profile")
    ap.add_argument("--mode", default="mirror")
    ap.add_argument("--transfers", type=int, default=4)
    ap.add_argument(
        "--threads",
        action="store_true",
        help="no forked scans or copy workers (as the desktop app's engine), not the CLI's way",
    )
    ap.add_argument("--chunk", type=int, default=0, help="forked_copies.CHUNK_FILES")
    ap.add_argument(
        "--mutate",
        type=float,
        default=0.0,
        help="after the initial sync, change this share of files on each side "
        "(workload.mutate, seeds 11/12, as the bidir group) on a private copy of SRC",
    )
    a = ap.parse_args()
    if a.chunk:
        from spacesync_gui.engine import forked_copies

        forked_copies.CHUNK_FILES = a.chunk
    work = Path(a.work)
    (work / "dst").mkdir(parents=True)
    src = Path(a.src)
    if a.mutate:  # the source tree is mutated: work on a copy
        subprocess.run(["cp", "-a", str(src), str(work / "src")], check=True)
        src = work / "src"
    lib = open_library(work / "data")
    c = add_conduit(lib, src, work / "dst", a.mode, transfers=a.transfers)
    out = {}
    for step in ("initial", "changed" if a.mutate else "noop"):
        if step == "changed":
            sys.path.insert(0, str(Path(__file__).parent))
            import workload

            workload.mutate(src, a.mutate, 11, tag="a")
            workload.mutate(work / "dst", a.mutate, 12, tag="b")
        times: dict[str, float] = {}
        instrument(times)
        svc = service_mod.FileSyncService(lib, fork_workers=not a.threads)
        prof = cProfile.Profile() if a.profile else None
        t0 = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if prof:
            prof.enable()
        r = svc.sync(c.id)
        if prof:
            prof.disable()
            prof.dump_stats(f"{a.profile}.{step}")
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out[step] = {
            "total": round(time.perf_counter() - t0, 3),
            "status": r.status,
            "user": round(ru1.ru_utime - ru0.ru_utime, 3),
            "sys": round(ru1.ru_stime - ru0.ru_stime, 3),
            # forked scans and copy workers (user + sys)
            "children_cpu": round(ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime, 3),
            "copied": r.copied,
            "verified": r.verified,
            **{k: round(v, 3) for k, v in times.items()},
        }
        # undo wrapping
        import importlib

        importlib.reload(service_mod)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
