"""Packaging (SPEC 6): icons, desktop files, installer.nsi, and the frozen app itself.

The quick checks run everywhere. The frozen-app tests build the one-folder bundle with
PyInstaller (about 45 s on 2 cores) and then drive the frozen `spacesync` and
`spacesync-gui`; they need the `package` extra, so `make test` skips them and
`make package-test` (a step of .ci/run) installs it and runs them.
"""

from __future__ import annotations

import configparser
import filecmp
import importlib.util
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
IS_WINDOWS = sys.platform.startswith("win")


def _load(name: str):
    """A module from packaging/ (not a package: loaded by path, under a unique name)."""
    if str(PACKAGING) not in sys.path:
        sys.path.insert(0, str(PACKAGING))
    spec = importlib.util.spec_from_file_location(
        f"_spacesync_packaging_{name}", PACKAGING / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


appmeta = _load("appmeta")
META = appmeta.load()


# -- quick checks: metadata, icons, desktop integration, the installer script ------------


def test_metadata_comes_from_pyproject():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert META.version == data["project"]["version"]
    assert META.app_name == data["tool"]["spacesync"]["app_name"]
    assert META.publisher == data["tool"]["spacesync"]["publisher"]
    assert len(META.file_version) == 4
    assert META.setup_name == f"{META.app_name}-{META.version}-setup.exe"
    for script in ("launch_gui.py", "launch_cli.py", "spacesync.spec", "build.py"):
        assert (PACKAGING / script).is_file()


def test_the_icon_check_allows_a_cpus_rounding_but_not_another_picture(qapp) -> None:
    """Qt rounds a few edge pixels one level apart on other CPUs: not stale. A pixel
    drawn otherwise is."""
    from PySide6.QtGui import QColor, QImage

    icons = _load("render_icons")
    path = META.icon_png(32)
    committed = path.read_bytes()

    def with_pixel(shift: int) -> bytes:
        image = QImage()
        assert image.loadFromData(committed)
        image = image.convertToFormat(QImage.Format.Format_ARGB32)
        c = image.pixelColor(16, 16)
        image.setPixelColor(16, 16, QColor(abs(c.red() - shift), c.green(), c.blue(), c.alpha()))
        return icons.png_bytes(image)

    assert icons.same_image(path, committed, with_pixel(1))
    assert not icons.same_image(path, committed, with_pixel(40))
    ico = META.icon_ico.read_bytes()
    assert icons.same_image(META.icon_ico, ico, ico)
    assert not icons.same_image(META.icon_ico, ico, ico[:-300] + bytes(300))


def test_icons_are_committed_and_current():
    assert META.icon_svg.is_file()
    # In a child process: its QGuiApplication must not become the suite's qapp.
    check = subprocess.run(
        [sys.executable, str(PACKAGING / "render_icons.py"), "--check"],
        capture_output=True,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        timeout=120,
    )
    assert check.returncode == 0, f"run packaging/render_icons.py and commit:\n{check.stderr}"
    # The .ico holds every size asked for, largest 256 px.
    data = META.icon_ico.read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(META.icon_ico_sizes))
    sizes = sorted(struct.unpack_from("<B", data, 6 + 16 * i)[0] or 256 for i in range(count))
    assert sizes == sorted(META.icon_ico_sizes)
    for state in ("idle", "syncing", "paused", "error", "conflicts"):
        for shade in ("light", "dark"):
            assert (ROOT / "resources" / f"tray-{state}-{shade}.svg").is_file()


def test_desktop_entry_and_metainfo():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(META.desktop_file, encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert META.desktop_file.name == f"{META.app_id}.desktop"
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == META.app_name
    assert desktop["Exec"].split()[0] == META.gui_executable
    assert desktop["Icon"] == "spacesync"
    meta_xml = META.metainfo_file.read_text(encoding="utf-8")
    assert f"<id>{META.app_id}</id>" in meta_xml
    assert f'<launchable type="desktop-id">{META.desktop_file.name}</launchable>' in meta_xml
    validate = shutil.which("desktop-file-validate")
    if validate:
        result = subprocess.run([validate, str(META.desktop_file)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("makensis") is None, reason="makensis (nsis) is not installed")
def test_installer_script_compiles_without_warnings(tmp_path):
    """installer.nsi over a stand-in folder, with -WX: any warning fails."""
    build = _load("build")
    folder = tmp_path / META.app_name
    (folder / "_internal").mkdir(parents=True)
    (folder / "_internal" / "base_library.zip").write_bytes(b"stand-in")
    for exe in (META.gui_executable, META.cli_executable):
        (folder / META.exe_name(exe)).write_bytes(b"stand-in")
    outfile = tmp_path / META.setup_name
    cmd = build.makensis_command(META, folder, outfile, compressor="zlib")
    assert "-WX" in cmd
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower()
    assert outfile.read_bytes()[:2] == b"MZ"


# -- the frozen app -------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **extra)
    # The suite's in-memory keyring lives in tests/, which is not frozen: use keyring's own
    # null backend, bundled and touching nothing.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.pop("SPACESYNC_DATA_DIR", None)
    return env


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip(
            "PyInstaller is not installed (the `package` extra): "
            "`make package-test` installs it and runs these tests"
        )
    out = tmp_path_factory.mktemp("package")
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            str(PACKAGING / "build.py"),
            "--no-installer",
            "--dist-dir",
            str(out / "dist"),
            "--work-dir",
            str(out / "build"),
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    print(f"frozen build took {time.monotonic() - started:.0f} s\n{result.stdout[-2000:]}")
    folder = out / "dist" / META.app_name
    assert folder.is_dir()
    return folder


def _exe(folder: Path, name: str) -> Path:
    path = folder / META.exe_name(name)
    assert path.is_file(), f"{path} is missing"
    return path


@pytest.mark.slow
def test_frozen_cli_version(frozen):
    result = subprocess.run(
        [str(_exe(frozen, META.cli_executable)), "--version"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"spacesync {META.version}"


@pytest.mark.slow
def test_frozen_cli_mirror_sync(frozen, tmp_path):
    src, dst, data = tmp_path / "src", tmp_path / "dst", tmp_path / "data"
    (src / "sub" / "deeper").mkdir(parents=True)
    dst.mkdir()
    files = {
        "a.txt": b"hello\n",
        "sub/b.bin": os.urandom(200_000),
        "sub/deeper/c.txt": "\u00e9t\u00e9\n".encode(),
    }
    for rel, content in files.items():
        (src / rel).write_bytes(content)
    cli = str(_exe(frozen, META.cli_executable))

    def run(*args: str) -> dict:
        result = subprocess.run(
            [cli, "--data-dir", str(data), "--json", *args],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
        )
        assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return json.loads(result.stdout)

    added = run("conduit", "add", str(src), str(dst), "--mode", "mirror")
    synced = run("sync", str(added["id"]))
    assert synced["status"] == "completed"
    assert synced["copied"] == len(files)
    assert synced["errors"] == []
    for rel in files:
        assert filecmp.cmp(src / rel, dst / rel, shallow=False), rel
    again = run("sync", str(added["id"]))
    assert again["status"] == "completed" and again["copied"] == 0


def _wait_for_log(log: Path, text: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = log.read_text(encoding="utf-8") if log.exists() else ""
        if text in content:
            return content
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {log} (exit {proc.poll()}):\n{content}")


@pytest.mark.slow
@pytest.mark.skipif(IS_WINDOWS, reason="stops the app with SIGTERM")
def test_frozen_gui_starts_offscreen_and_stops_cleanly(frozen, tmp_path):
    if not (ROOT / "spacesync_gui" / "__main__.py").exists():
        pytest.skip("spacesync_gui/__main__.py does not exist yet: no GUI to freeze")
    data = tmp_path / "data"
    log = data / "spacesync-gui.log"
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [str(_exe(frozen, META.gui_executable)), "--data-dir", str(data)],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            _wait_for_log(log, "Sync engine started", proc)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    content = log.read_text(encoding="utf-8")
    assert "SpaceSync stopped" in content
    errors = stderr.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in content + errors
    assert "Could not load the Qt platform plugin" not in errors
    assert "module named" not in content + errors  # a missing hidden import


@pytest.mark.slow
def test_frozen_bundle_contents(frozen):
    internal = frozen / "_internal"
    names = [p.relative_to(frozen).as_posix() for p in frozen.rglob("*")]
    lowered = [n.lower() for n in names]
    # Nothing unused: no QtWebEngine, QML/Quick, 3D, multimedia, test tools or tkinter.
    banned_names = ("webengine", "qt6quick", "qt6qml", "qt63d", "multimedia", "pytest",
                    "hypothesis", "tkinter", "tcl8", "libtk", "mypy", "/ruff")  # fmt: skip
    for banned in banned_names:
        assert not [n for n in lowered if banned in n], banned
    for module in ("QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtSvg"):
        assert [n for n in names if f"PySide6/{module}." in n], module
    # SVG icons render frozen: Qt's SVG image format and icon engine plugins are there.
    plugins = internal / "PySide6" / "Qt" / "plugins"
    if plugins.is_dir():  # the wheel layout on Linux and Windows
        assert list((plugins / "imageformats").glob("*qsvg*"))
        assert list((plugins / "iconengines").glob("*qsvgicon*"))
    # The app's resources where spacesync_gui.ui.icons looks for them.
    for name in ("spacesync.svg", "tray-idle-light.svg", "tray-conflicts-dark.svg"):
        assert (internal / "resources" / name).is_file(), name
    assert list(internal.glob("spacesync*-info")), "package metadata (copy_metadata)"
    assert list(internal.glob("keyring-*.dist-info")), "keyring's entry points"
    if sys.platform.startswith("linux"):
        # The copy accelerator the install built (setup.py; test_fastcopy.py asks for it).
        assert [n for n in names if "spacesync_gui/engine/_fastcopy" in n], "_fastcopy"
        assert (frozen / "share" / "applications" / META.desktop_file.name).is_file()
        assert (frozen / "share/icons/hicolor/256x256/apps/spacesync.png").is_file()
        assert (frozen / "install.sh").is_file()
    size = sum(p.stat().st_size for p in frozen.rglob("*") if p.is_file())
    assert size < 250 * 2**20, f"bundle grew to {size / 2**20:.0f} MiB"
