"""Running the real `spacesync` CLI from tests, in-process or as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spacesync_gui.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """`cli("location", "list")` runs `spacesync --data-dir D --json location list`."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self.capsys = capsys

    def __call__(self, *args: str, as_json: bool = True) -> Result:
        argv = ["--data-dir", str(self.data_dir), *(["--json"] if as_json else []), *args]
        self.capsys.readouterr()
        code = main(argv)
        cap = self.capsys.readouterr()
        return Result(code, cap.out, cap.err)


def run_subprocess(*args: str, data_dir: Path | None = None, timeout: float = 120) -> Result:
    argv = [sys.executable, "-m", "spacesync_gui.cli"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    p = subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return Result(p.returncode, p.stdout, p.stderr)
