"""Opening files and folders in the user's own applications."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


def open_path(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def reveal(path: str) -> bool:
    """Show `path` selected in the file manager where the platform can, else its folder."""
    if sys.platform.startswith("win") and os.path.exists(path):
        subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
        return True
    if sys.platform == "darwin" and os.path.exists(path):
        subprocess.Popen(["open", "-R", path])
        return True
    return open_path(str(Path(path).parent))
