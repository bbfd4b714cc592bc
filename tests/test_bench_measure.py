"""The benchmark suite's quiet check (bench/measure.py `machine_busy`): work on the CPUs
between its steps is seen, so that a step is not timed beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_modules import load


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux /proc/stat")
def test_other_work_on_every_core_reads_as_a_busy_machine() -> None:
    measure = load("measure")
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
