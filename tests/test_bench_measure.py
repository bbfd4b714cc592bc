"""The benchmark suite's quiet check (bench/measure.py `machine_busy`): work on the CPUs
between its steps is seen, so that a step is not timed beside it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

MEASURE = Path(__file__).resolve().parent.parent / "bench" / "measure.py"


def _measure():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("_spacesync_bench_measure", MEASURE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux /proc/stat")
def test_other_work_on_every_core_reads_as_a_busy_machine() -> None:
    measure = _measure()
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        busy = measure.machine_busy(0.5)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert 0.5 < busy <= 1.0  # every core spinning: well over the suite's bar (a quarter)
