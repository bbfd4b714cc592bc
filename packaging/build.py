"""Build the frozen app for this platform and, where makensis exists, the Windows installer.

    .venv/bin/python packaging/build.py                 # what `make package` runs
    .venv/bin/python packaging/build.py --no-installer  # only the frozen folder
    .venv/bin/python packaging/build.py --installer-only --dist-dir dist

Name, version, publisher and icons come from pyproject.toml alone (packaging/appmeta.py)
and are handed to PyInstaller (packaging/spacesync.spec, after `--`) and to makensis
(`-DAPP_NAME=... -DAPP_VERSION=...`). Output, in --dist-dir (default dist/):

    SpaceSync/                      the one-folder app: spacesync-gui, spacesync, _internal/
                                    (on Linux also share/ with the .desktop file, icons and
                                    AppStream data, and install.sh for a per-user install)
    SpaceSync-<version>-setup.exe   the NSIS installer (wherever makensis is on the PATH;
                                    built from the Linux folder on Linux, which only proves
                                    installer.nsi compiles: a real one is built on Windows)
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appmeta import AppMeta, load  # noqa: E402

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(f"[package] {msg}", flush=True)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def check_icons(meta: AppMeta) -> None:
    wanted = [meta.icon_ico, *map(meta.icon_png, meta.icon_png_sizes)]
    missing = [p for p in wanted if not p.exists()]
    if missing:
        names = ", ".join(str(p.relative_to(meta.root)) for p in missing)
        raise SystemExit(f"missing icons ({names}): run packaging/render_icons.py and commit them")


def version_info_file(meta: AppMeta, path: Path) -> Path:
    """A VERSIONINFO resource for the Windows executables, in PyInstaller's text format."""
    v = meta.file_version
    strings = {
        "CompanyName": meta.publisher,
        "FileDescription": meta.app_name,
        "FileVersion": meta.version,
        "InternalName": meta.app_name,
        "LegalCopyright": meta.publisher,
        "ProductName": meta.app_name,
        "ProductVersion": meta.version,
    }
    entries = ",\n".join(f"          StringStruct({k!r}, {val!r})" for k, val in strings.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={v}, prodvers={v}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{entries}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
""",
        encoding="utf-8",
    )
    return path


def run_pyinstaller(meta: AppMeta, dist: Path, work: Path) -> Path:
    spec_args = [
        "--name", meta.app_name,
        "--gui-exe", meta.gui_executable,
        "--cli-exe", meta.cli_executable,
        "--icon", str(meta.icon_ico),
    ]  # fmt: skip
    if sys.platform.startswith("win"):
        spec_args += ["--version-file", str(version_info_file(meta, work / "version_info.txt"))]
    else:
        spec_args += ["--strip"]
    cmd = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", str(dist), "--workpath", str(work), str(HERE / "spacesync.spec"),
        "--", *spec_args,
    ]  # fmt: skip
    folder = dist / meta.app_name
    if folder.exists():
        shutil.rmtree(folder)
    log("PyInstaller: " + " ".join(cmd[2:]))
    subprocess.run(cmd, check=True, cwd=meta.root)
    return folder


def add_linux_integration(meta: AppMeta, folder: Path) -> None:
    """share/ (desktop entry, AppStream data with this version, hicolor icons) and
    install.sh, so the folder (or a tarball of it) installs per user without root."""
    share = folder / "share"
    apps = share / "applications"
    apps.mkdir(parents=True, exist_ok=True)
    shutil.copy2(meta.desktop_file, apps / meta.desktop_file.name)
    metainfo = meta.metainfo_file.read_text(encoding="utf-8")
    release = (
        f'  <releases>\n    <release version="{meta.version}" '
        f'date="{dt.date.today().isoformat()}"/>\n  </releases>\n'
    )
    metainfo = metainfo.replace("</component>", release + "</component>")
    (share / "metainfo").mkdir(exist_ok=True)
    (share / "metainfo" / meta.metainfo_file.name).write_text(metainfo, encoding="utf-8")
    hicolor = share / "icons" / "hicolor"
    for size in meta.icon_png_sizes:
        d = hicolor / f"{size}x{size}" / "apps"
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy2(meta.icon_png(size), d / "spacesync.png")
    scalable = hicolor / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copy2(meta.icon_svg, scalable / "spacesync.svg")
    shutil.copy2(HERE / "linux" / "install.sh", folder / "install.sh")


def makensis_command(
    meta: AppMeta, folder: Path, outfile: Path, compressor: str | None = None
) -> list[str]:
    makensis = shutil.which("makensis")
    if makensis is None:
        raise FileNotFoundError("makensis")
    defines = {
        "APP_NAME": meta.app_name,
        "APP_VERSION": meta.version,
        "VI_VERSION": meta.file_version_text,
        "PUBLISHER": meta.publisher,
        "DESCRIPTION": meta.description,
        "DIST_DIR": str(folder),
        "OUTFILE": str(outfile),
        "GUI_EXE": meta.exe_name(meta.gui_executable),
        "CLI_EXE": meta.exe_name(meta.cli_executable),
        "APP_ICON": str(meta.icon_ico),
    }
    if compressor:
        defines["COMPRESSOR"] = compressor
    # -WX: any warning fails the build. -V2: warnings and errors only. -INPUTCHARSET:
    # the defines may hold non-ASCII text.
    return [
        makensis, "-WX", "-V2", "-INPUTCHARSET", "UTF8",
        *(f"-D{k}={v}" for k, v in defines.items()),
        str(meta.root / "installer.nsi"),
    ]  # fmt: skip


def run_makensis(meta: AppMeta, folder: Path, outfile: Path, compressor: str | None) -> Path:
    cmd = makensis_command(meta, folder, outfile, compressor)
    outfile.unlink(missing_ok=True)
    log("makensis: " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, cwd=meta.root)
    return outfile


def report(folder: Path, top: int = 12) -> None:
    files = sorted(
        ((p.stat().st_size, p) for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
        key=lambda t: t[0],
        reverse=True,
    )
    log(f"bundle {folder}: {mib(folder_size(folder))} in {len(files)} files; biggest:")
    for size, path in files[:top]:
        log(f"  {mib(size):>10}  {path.relative_to(folder)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the frozen SpaceSync and its installer.")
    parser.add_argument("--dist-dir", type=Path, default=None, help="default: dist/")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: build/pyinstaller/")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-installer", action="store_true", help="skip makensis")
    group.add_argument(
        "--installer-only", action="store_true", help="only run makensis over an existing build"
    )
    parser.add_argument(
        "--require-installer", action="store_true", help="fail when makensis is not installed"
    )
    parser.add_argument(
        "--nsis-compressor",
        default=None,
        help='NSIS SetCompressor arguments (default "/SOLID lzma"; "zlib" is faster)',
    )
    args = parser.parse_args(argv)

    meta = load()
    dist = (args.dist_dir or meta.root / "dist").absolute()
    work = (args.work_dir or meta.root / "build" / "pyinstaller").absolute()
    log(f"{meta.app_name} {meta.version} by {meta.publisher} for {meta.platform_tag}")
    check_icons(meta)
    folder = dist / meta.app_name

    if args.installer_only:
        if not folder.is_dir():
            raise SystemExit(f"no frozen build in {folder}: run without --installer-only first")
    else:
        started = time.monotonic()
        folder = run_pyinstaller(meta, dist, work)
        if sys.platform.startswith("linux"):
            add_linux_integration(meta, folder)
        log(f"frozen app built in {time.monotonic() - started:.0f} s")
        report(folder)

    if not args.no_installer:
        if shutil.which("makensis") is None:
            if args.require_installer:
                raise SystemExit("makensis not found (Debian: apt-get install nsis)")
            log("makensis not found: no installer (Debian: apt-get install nsis)")
        else:
            started = time.monotonic()
            setup = run_makensis(meta, folder, dist / meta.setup_name, args.nsis_compressor)
            log(f"installer {setup} ({mib(setup.stat().st_size)}) built in "
                f"{time.monotonic() - started:.0f} s")  # fmt: skip
            if not sys.platform.startswith("win"):
                log("(an installer over the non-Windows build: it only proves installer.nsi "
                    "compiles; build on Windows for a real one)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
