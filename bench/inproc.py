"""Measurements taken inside one Python process, run by `bench/run.py` as a fresh child.

    python bench/inproc.py walk ROOT
        the baseline: a bare os.scandir + lstat walk of ROOT
    python bench/inproc.py index --data-dir D ROOT
        import the engine, add ROOT as a location, first scan, then a no-op rescan

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


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("walk")
    w.add_argument("root")
    i = sub.add_parser("index")
    i.add_argument("root")
    i.add_argument("--data-dir", required=True)
    a = ap.parse_args()
    out = walk(a.root) if a.cmd == "walk" else index(a.root, a.data_dir)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
