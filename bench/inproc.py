"""Measurements taken inside one Python process, run by `bench/run.py` as a fresh child.

    python bench/inproc.py walk ROOT
        the baseline: a bare os.scandir + lstat walk of ROOT
    python bench/inproc.py index --data-dir D ROOT
        import the engine, add ROOT as a location, first scan, then a no-op rescan
    python bench/inproc.py mirror --data-dir D SRC DST
        import the engine, add a mirror conduit SRC -> DST (untimed), then time only
        `FileSyncService(lib).sync(conduit_id)`: the initial mirror without process
        start-up (it still indexes and hashes SRC, copies, fsyncs and verifies)
    python bench/inproc.py watch --data-dir D SRC DST [--changes 20]
        an instant mirror conduit SRC -> DST synced once, then an EngineRuntime with the
        watcher: the no-op sync with a trusted index (`sync_now`), and the time from a
        file change in SRC to its arrival in DST (SRC is modified: pass a copy)
    python bench/inproc.py runs --data-dir D SRC DST --mode mirror --runs 500
        a conduit SRC -> DST synced `--runs` times, each run after a small random change
        (bench/workload.py `mutate`) of one side; reports which runs did not succeed (both
        SRC and DST are modified: pass copies)

Prints one JSON object with the times measured in-process (start-up and imports are not
included; `import_s` says what the imports cost).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def walk(root: str) -> dict[str, object]:
    t0 = time.perf_counter()
    files = dirs = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)  # an lstat, like the indexer needs
                if e.is_dir(follow_symlinks=False):
                    dirs += 1
                    stack.append(e.path)
                else:
                    files += 1
                    _ = st.st_size
    return {"walk_s": time.perf_counter() - t0, "files": files, "dirs": dirs}


def index(root: str, data_dir: str) -> dict[str, object]:
    t0 = time.perf_counter()
    from pathlib import Path

    from sqlalchemy import func, select

    from spacesync_gui.engine import models
    from spacesync_gui.engine.db import open_library
    from spacesync_gui.engine.locations import add_location

    try:
        from spacesync_gui.engine.locations import scan as scan_fn
    except ImportError:  # pragma: no cover - older layouts
        from spacesync_gui.engine.indexer import (  # type: ignore[assignment]
            scan_location as scan_fn,
        )
    import spacesync_gui.engine.indexer  # noqa: F401  (fail here, not inside the timing)

    t1 = time.perf_counter()
    lib = open_library(Path(data_dir))
    loc = add_location(lib, root, watch=False)
    t2 = time.perf_counter()
    scan_fn(lib, loc.id)
    t3 = time.perf_counter()
    scan_fn(lib, loc.id)
    t4 = time.perf_counter()
    with lib.session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(models.Entry)
            .where(models.Entry.location_id == loc.id, models.Entry.kind == models.FILE)
        )
    lib.close()
    return {
        "import_s": t1 - t0,
        "add_s": t2 - t1,
        "first_s": t3 - t2,
        "noop_s": t4 - t3,
        "files": n,
    }


def mirror(src: str, dst: str, data_dir: str) -> dict[str, object]:
    t0 = time.perf_counter()
    from pathlib import Path

    from spacesync_gui.engine.conduits import add_conduit
    from spacesync_gui.engine.db import open_library
    from spacesync_gui.engine.service import FileSyncService

    t1 = time.perf_counter()
    lib = open_library(Path(data_dir))
    c = add_conduit(lib, src, dst, "mirror")
    svc = FileSyncService(lib)
    t2 = time.perf_counter()
    r = svc.sync(c.id)
    t3 = time.perf_counter()
    lib.close()
    return {
        "import_s": t1 - t0,
        "add_s": t2 - t1,
        "sync_s": t3 - t2,
        "status": r.status,
        "reason": r.reason,
        "copied": r.copied,
        "bytes": r.bytes_transferred,
        "verified": r.verified,
    }


def watch(src: str, dst: str, data_dir: str, changes: int, reps: int) -> dict[str, object]:
    import statistics
    from pathlib import Path

    from spacesync_gui.engine.conduits import add_conduit
    from spacesync_gui.engine.db import open_library
    from spacesync_gui.engine.events import ignore_events
    from spacesync_gui.engine.runtime import EngineRuntime
    from spacesync_gui.engine.service import FileSyncService

    lib = open_library(Path(data_dir))
    c = add_conduit(lib, src, dst, "mirror", schedule="instant")
    t0 = time.perf_counter()
    first = FileSyncService(lib).sync(c.id)
    initial_s = time.perf_counter() - t0
    if first.status != "completed":
        raise SystemExit(f"initial sync {first.status}: {first.reason}")
    rt = EngineRuntime(lib, ignore_events)
    rt.start()
    try:
        assert rt.watcher is not None
        deadline = time.monotonic() + 600
        locs = (c.source_location_id, c.target_location_id)
        while not (all(rt.watcher.is_trusted(i) for i in locs) and rt.idle.is_set()):
            if time.monotonic() > deadline:
                raise SystemExit("the watcher never trusted the index")
            time.sleep(0.05)
        time.sleep(3.0)  # let the instant conduit's first (due) run come and go
        while not rt.idle.is_set():
            time.sleep(0.05)
        noop: list[float] = []
        for _ in range(reps):
            t = time.perf_counter()
            r = rt.sync_now(c.id).result(600)
            noop.append(time.perf_counter() - t)
            if r.status != "completed" or r.copied or r.deleted or not r.verified:
                raise SystemExit(f"trusted no-op did something: {r.to_json()}")
        folder = next(
            p for p in sorted(Path(src).iterdir()) if p.is_dir() and p.name != ".spacesync"
        )
        lat: list[float] = []
        for i in range(changes):
            rel = f"{folder.name}/bench-latency-{i:03d}.txt"
            body = f"change {i} {time.time()}\n".encode() * (i + 1)
            t = time.perf_counter()
            (Path(src) / rel).write_bytes(body)
            out = Path(dst) / rel
            while True:
                try:
                    if out.stat().st_size == len(body):
                        break
                except FileNotFoundError:
                    pass
                if time.perf_counter() - t > 120:
                    raise SystemExit(f"{rel} never arrived")
                time.sleep(0.005)
            lat.append(time.perf_counter() - t)
            while not rt.idle.is_set():
                time.sleep(0.01)
            time.sleep(0.2)
    finally:
        rt.stop(timeout=10)
        lib.close()
    lat_sorted = sorted(lat)
    return {
        "initial_s": initial_s,
        "trusted_noop_s": statistics.median(noop),
        "trusted_noop_all": noop,
        "latency_median_s": statistics.median(lat),
        "latency_p95_s": lat_sorted[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))],
        "latency_all": lat,
    }


def _contents(root: str) -> dict[str, tuple[int, int, str] | None]:
    """Everything under `root` but `.spacesync/`: a file's path -> (size, mtime_ns,
    xxh3-128), a folder's -> None."""
    import xxhash

    out: dict[str, tuple[int, int, str] | None] = {}
    for folder, dirs, files in os.walk(root):
        if folder == root and ".spacesync" in dirs:
            dirs.remove(".spacesync")
        for name in dirs:
            out[os.path.relpath(os.path.join(folder, name), root) + "/"] = None
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            with open(path, "rb") as f:
                digest = xxhash.xxh3_128_hexdigest(f.read())
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, digest)
    return out


def _differences(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:  # type: ignore[type-arg]
    return sorted(p for p in a.keys() ^ b.keys() | {p for p in a.keys() & b.keys() if a[p] != b[p]})


def runs(
    src: str, dst: str, data_dir: str, mode: str, count: int, share: float
) -> dict[str, object]:
    """`count` runs of a `mode` conduit SRC -> DST, each after `share` of one side's files
    changed (edits, adds, deletes, renames): always the source in a mirror, the two sides
    in turn in a bidirectional conduit (so no conflict arises). A run succeeds when it
    completes, verified, without an error or conflict, and leaves both sides holding the
    same files and folders (path, size, mtime, content). The initial sync (the first run)
    counts too; a run that raises counts as failed."""
    import statistics
    from pathlib import Path

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import workload

    from spacesync_gui.engine.conduits import add_conduit
    from spacesync_gui.engine.db import open_library
    from spacesync_gui.engine.service import FileSyncService

    lib = open_library(Path(data_dir))
    c = add_conduit(lib, src, dst, mode)
    svc = FileSyncService(lib, fork_workers=True)  # as the CLI
    failures: list[dict[str, object]] = []
    times: list[float] = []
    changed = 0
    for i in range(count):
        side = "source"
        if i:  # run 0 is the initial sync
            side = "target" if mode == "bidirectional" and i % 2 == 0 else "source"
            m = workload.mutate(Path(src if side == "source" else dst), share, seed=i, tag="r")
            changed += sum(m.counts().values())
        t = time.perf_counter()
        try:
            r = svc.sync(c.id)
        except Exception as e:  # a run that raises failed: count it, go on
            failures.append({"run": i, "changed_side": side, "raised": repr(e)[:300]})
            continue
        times.append(time.perf_counter() - t)
        diff = _differences(_contents(src), _contents(dst))
        if r.status != "completed" or r.errors or not r.verified or r.conflicts or diff:
            failures.append(
                {
                    "run": i,
                    "changed_side": side,
                    "status": r.status,
                    "reason": r.reason,
                    "verified": r.verified,
                    "conflicts": r.conflicts,
                    "errors": r.errors[:3],
                    "differ": diff[:5],
                    "differ_count": len(diff),
                }
            )
    lib.close()
    return {
        "mode": mode,
        "runs": count,
        "failed": len(failures),
        "failures": failures,
        "files_changed": changed,
        "sync_median_s": statistics.median(times) if times else None,
        "sync_max_s": max(times, default=None),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("walk")
    w.add_argument("root")
    i = sub.add_parser("index")
    i.add_argument("root")
    i.add_argument("--data-dir", required=True)
    m = sub.add_parser("mirror")
    m.add_argument("src")
    m.add_argument("dst")
    m.add_argument("--data-dir", required=True)
    wt = sub.add_parser("watch")
    wt.add_argument("src")
    wt.add_argument("dst")
    wt.add_argument("--data-dir", required=True)
    wt.add_argument("--changes", type=int, default=20)
    wt.add_argument("--reps", type=int, default=5)
    rn = sub.add_parser("runs")
    rn.add_argument("src")
    rn.add_argument("dst")
    rn.add_argument("--data-dir", required=True)
    rn.add_argument("--mode", choices=("mirror", "bidirectional"), required=True)
    rn.add_argument("--runs", type=int, required=True)
    rn.add_argument("--share", type=float, default=0.01)
    a = ap.parse_args()
    if a.cmd == "runs":
        out = runs(a.src, a.dst, a.data_dir, a.mode, a.runs, a.share)
    elif a.cmd == "watch":
        out = watch(a.src, a.dst, a.data_dir, a.changes, a.reps)
    elif a.cmd == "mirror":
        out = mirror(a.src, a.dst, a.data_dir)
    else:
        out = walk(a.root) if a.cmd == "walk" else index(a.root, a.data_dir)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
