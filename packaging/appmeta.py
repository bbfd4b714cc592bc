"""The app's packaging metadata, read from pyproject.toml alone (SPEC 6: one place).

Used by build.py, render_icons.py and the PyInstaller spec. Standard library only, so
it runs before anything is installed.
"""

from __future__ import annotations

import platform
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


@dataclass(frozen=True)
class AppMeta:
    root: Path
    dist_name: str  # the Python distribution ("spacesync"), for copy_metadata
    app_name: str  # the product name ("SpaceSync")
    app_id: str  # reverse-DNS id for desktop files and AppStream
    version: str
    publisher: str
    description: str
    license: str
    gui_executable: str
    cli_executable: str
    icon_svg: Path
    icon_ico: Path
    icon_png_dir: Path
    icon_png_sizes: tuple[int, ...]
    icon_ico_sizes: tuple[int, ...]
    desktop_file: Path
    metainfo_file: Path

    def icon_png(self, size: int) -> Path:
        return self.icon_png_dir / f"spacesync-{size}.png"

    @property
    def file_version(self) -> tuple[int, int, int, int]:
        """Four numbers for Windows version resources (NSIS VIProductVersion, the EXE's
        VERSIONINFO): the leading numbers of the version, padded with zeros."""
        nums = [int(n) for n in re.findall(r"\d+", self.version.split("+")[0])[:4]]
        nums += [0] * (4 - len(nums))
        return (nums[0], nums[1], nums[2], nums[3])

    @property
    def file_version_text(self) -> str:
        return ".".join(str(n) for n in self.file_version)

    def exe_name(self, base: str) -> str:
        return f"{base}.exe" if sys.platform.startswith("win") else base

    @property
    def platform_tag(self) -> str:
        system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
        machine = platform.machine().lower().replace("amd64", "x86_64")
        return f"{system}-{machine}"

    @property
    def setup_name(self) -> str:
        return f"{self.app_name}-{self.version}-setup.exe"


def load(pyproject: Path = PYPROJECT) -> AppMeta:
    with pyproject.open("rb") as f:
        data = tomllib.load(f)
    project = data["project"]
    tool = data["tool"]["spacesync"]
    root = pyproject.parent
    lic = project.get("license", {})
    return AppMeta(
        root=root,
        dist_name=project["name"],
        app_name=tool["app_name"],
        app_id=tool["app_id"],
        version=project["version"],
        publisher=tool["publisher"],
        description=project.get("description", ""),
        license=lic.get("text", "") if isinstance(lic, dict) else str(lic),
        gui_executable=tool["gui_executable"],
        cli_executable=tool["cli_executable"],
        icon_svg=root / tool["icon_svg"],
        icon_ico=root / tool["icon_ico"],
        icon_png_dir=root / tool["icon_png_dir"],
        icon_png_sizes=tuple(tool["icon_png_sizes"]),
        icon_ico_sizes=tuple(tool["icon_ico_sizes"]),
        desktop_file=root / tool["desktop_file"],
        metainfo_file=root / tool["metainfo_file"],
    )
