"""The desktop app's own settings (a JSON file in the data dir) and start at login.

Library settings (locations, conduits) live in the database; these are only about the
app: start at login, start minimised, notifications, and defaults for new conduits.
"""

from __future__ import annotations

import json
import logging
import os
import plistlib
import shutil
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTINGS_FILE = "gui-settings.json"
APP_ID = "org.spacesync.SpaceSync"
APP_NAME = "SpaceSync"
WINDOWS_RUN_KEY = r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run"


@dataclass
class ConduitDefaults:
    mode: str = "bidirectional"
    schedule: str = "instant"
    conflict: str = "ask"
    deletes: str = "versioning"
    transfers: int = 4


@dataclass
class AppSettings:
    start_at_login: bool = False
    start_minimized: bool = False
    notifications: bool = True
    defaults: ConduitDefaults = field(default_factory=ConduitDefaults)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppSettings:
        """Unknown keys are ignored and wrong types fall back, so an old or hand-edited
        file never stops the app from starting."""
        plain = {f.name: f for f in fields(cls) if f.name != "defaults"}
        out = cls()
        for name in plain:
            if isinstance(data.get(name), bool):
                setattr(out, name, data[name])
        d = data.get("defaults")
        if isinstance(d, dict):
            base = ConduitDefaults()
            for f in fields(ConduitDefaults):
                value = d.get(f.name)
                if isinstance(value, type(getattr(base, f.name))) and not isinstance(value, bool):
                    setattr(base, f.name, value)
            out.defaults = base
        return out


def settings_path(data_dir: Path) -> Path:
    return data_dir / SETTINGS_FILE


def load_settings(data_dir: Path) -> AppSettings:
    path = settings_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AppSettings()
    except (OSError, ValueError) as e:
        # Keep the unreadable file for the user to inspect; start from defaults.
        log.warning("cannot read %s (%s); using defaults", path, e)
        try:
            shutil.copy2(path, path.with_suffix(".json.unreadable"))
        except OSError:
            pass
        return AppSettings()
    return AppSettings.from_json(data if isinstance(data, dict) else {})


def save_settings(data_dir: Path, settings: AppSettings) -> None:
    """Atomic write: a crash leaves the old file or the new one, never half of one."""
    path = settings_path(data_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# -- start at login ---------------------------------------------------------------------


def launch_command(explicit_data_dir: Path | None, minimized: bool) -> list[str]:
    """How to start this very installation again (frozen app or Python module)."""
    if getattr(sys, "frozen", False):
        cmd = [sys.executable]
    else:
        cmd = [sys.executable, "-m", "spacesync_gui"]
    if explicit_data_dir is not None:
        cmd += ["--data-dir", str(explicit_data_dir)]
    if minimized:
        cmd.append("--minimized")
    return cmd


def desktop_exec(cmd: list[str]) -> str:
    """Quote arguments as the Desktop Entry spec asks for the Exec key."""

    def quote(arg: str) -> str:
        if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%"):
            return arg
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return f'"{escaped.replace("%", "%%")}"'

    return " ".join(quote(a) for a in cmd)


def windows_command(cmd: list[str]) -> str:
    import subprocess

    return subprocess.list2cmdline(cmd)


class Autostart:
    """Start at login: an XDG autostart entry (Linux), the HKCU Run key (Windows), or a
    LaunchAgent (macOS). `platform` is injectable so each branch is testable anywhere."""

    def __init__(self, platform: str | None = None) -> None:
        self.platform = platform or sys.platform

    def _xdg_file(self) -> Path:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "autostart" / f"{APP_ID}.desktop"

    def _launch_agent(self) -> Path:
        return Path.home() / "Library" / "LaunchAgents" / f"{APP_ID}.plist"

    def location(self) -> str:
        if self.platform.startswith("win"):
            return WINDOWS_RUN_KEY
        if self.platform == "darwin":
            return str(self._launch_agent())
        return str(self._xdg_file())

    def is_enabled(self) -> bool:
        if self.platform.startswith("win"):
            return self._run_key().contains(APP_NAME)
        if self.platform == "darwin":
            return self._launch_agent().exists()
        return self._xdg_file().exists()

    def enable(self, cmd: list[str]) -> None:
        if self.platform.startswith("win"):
            self._run_key().setValue(APP_NAME, windows_command(cmd))
        elif self.platform == "darwin":
            path = self._launch_agent()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(
                plistlib.dumps({"Label": APP_ID, "ProgramArguments": cmd, "RunAtLoad": True})
            )
        else:
            path = self._xdg_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "[Desktop Entry]\n"
                "Type=Application\n"
                f"Name={APP_NAME}\n"
                "Comment=Keeps your folders in sync\n"
                f"Exec={desktop_exec(cmd)}\n"
                "Icon=spacesync\n"
                "Terminal=false\n"
                "X-GNOME-Autostart-enabled=true\n",
                encoding="utf-8",
            )

    def disable(self) -> None:
        if self.platform.startswith("win"):
            self._run_key().remove(APP_NAME)
            return
        path = self._launch_agent() if self.platform == "darwin" else self._xdg_file()
        path.unlink(missing_ok=True)

    def apply(self, enabled: bool, cmd: list[str]) -> None:
        if enabled:
            self.enable(cmd)
        elif self.is_enabled():
            self.disable()

    def _run_key(self) -> Any:
        from PySide6.QtCore import QSettings

        return QSettings(WINDOWS_RUN_KEY, QSettings.Format.NativeFormat)
