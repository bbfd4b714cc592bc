"""Icons from resources/: the app icon and the tray's state icons (light and dark)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QGuiApplication, QIcon, QPalette

TRAY_STATES = ("idle", "syncing", "paused", "error", "conflicts")


def resources_dir() -> Path:
    """resources/ of a source checkout, or of a PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def panel_is_dark() -> bool:
    """Guess the tray panel's shade from the app palette (Qt offers nothing better)."""
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


@cache
def _icon(name: str) -> QIcon:
    return QIcon(str(resources_dir() / name))


def app_icon() -> QIcon:
    return _icon("spacesync.svg")


def tray_icon_path(state: str, dark: bool) -> Path:
    if state not in TRAY_STATES:
        raise ValueError(f"unknown tray state {state!r}")
    return resources_dir() / f"tray-{state}-{'dark' if dark else 'light'}.svg"


def tray_icon(state: str, dark: bool | None = None) -> QIcon:
    dark = panel_is_dark() if dark is None else dark
    return _icon(tray_icon_path(state, dark).name)
