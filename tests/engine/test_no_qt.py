"""The engine must import and run without Qt (servers, the CLI, the daemon)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import spacesync_gui.engine as engine

BLOCK_QT = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6', 'qasync') or name.startswith(
                'spacesync_gui.ui'):
            raise ImportError(f'the engine imported {name}')
sys.meta_path.insert(0, Block())
import importlib
for mod in MODULES:
    importlib.import_module(mod)
import spacesync_gui.cli
print('ok')
"""


def test_every_engine_module_imports_with_qt_unavailable():
    modules = [f"spacesync_gui.engine.{m.name}" for m in pkgutil.iter_modules(engine.__path__)]
    assert len(modules) > 10
    code = f"MODULES = {modules!r}\n" + BLOCK_QT
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
