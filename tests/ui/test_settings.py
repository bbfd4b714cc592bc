import json
import sys

from spacesync_gui.ui.settings import (
    AppSettings,
    Autostart,
    desktop_exec,
    launch_command,
    load_settings,
    save_settings,
)


def test_settings_round_trip_and_bad_files(tmp_path):
    assert load_settings(tmp_path) == AppSettings()
    s = AppSettings(start_at_login=True, notifications=False)
    s.defaults.mode = "mirror"
    save_settings(tmp_path, s)
    assert load_settings(tmp_path) == s
    (tmp_path / "gui-settings.json").write_text("{not json")
    assert load_settings(tmp_path) == AppSettings()
    assert (tmp_path / "gui-settings.json.unreadable").exists()
    (tmp_path / "gui-settings.json").write_text(json.dumps({"notifications": "yes", "x": 1}))
    assert load_settings(tmp_path).notifications is True


def test_xdg_autostart_file_written_and_removed(_isolated_home, tmp_path):
    auto = Autostart("linux")
    cmd = launch_command(tmp_path / "my data", minimized=True)
    auto.apply(True, cmd)
    path = _isolated_home / ".config" / "autostart" / "org.spacesync.SpaceSync.desktop"
    assert auto.is_enabled() and path.exists()
    text = path.read_text()
    assert "[Desktop Entry]" in text and "Type=Application" in text
    exec_line = next(ln for ln in text.splitlines() if ln.startswith("Exec="))
    assert exec_line == "Exec=" + desktop_exec(cmd)
    assert f'"{tmp_path / "my data"}"' in exec_line and exec_line.endswith("--minimized")
    assert cmd[:3] == [sys.executable, "-m", "spacesync_gui"]
    auto.apply(False, cmd)
    assert not path.exists() and not auto.is_enabled()


def test_macos_launch_agent(_isolated_home):
    auto = Autostart("darwin")
    auto.enable(["/Applications/SpaceSync.app/Contents/MacOS/SpaceSync"])
    assert auto.is_enabled()
    auto.disable()
    assert not auto.is_enabled()


def test_desktop_exec_quoting():
    assert desktop_exec(["/usr/bin/python3", "-m", "x"]) == "/usr/bin/python3 -m x"
    assert desktop_exec(["/a b/py", 'q"$`\\']) == '"/a b/py" "q\\"\\$\\`\\\\"'


def test_settings_dialog_saves_and_applies_autostart(qtbot, make_app, _isolated_home):
    from spacesync_gui.ui.settings_dialog import SettingsDialog

    app = make_app()
    dialog = SettingsDialog(app.controller)
    qtbot.addWidget(dialog)
    dialog.start_at_login.setChecked(True)
    dialog.notifications.setChecked(False)
    dialog.schedule.setValue("interval:30m")
    with qtbot.waitSignal(app.controller.settingsChanged, timeout=5000):
        dialog._save()
    saved = load_settings(app.lib.data_dir)
    assert saved.start_at_login and not saved.notifications
    assert saved.defaults.schedule == "interval:30m"
    assert (_isolated_home / ".config/autostart/org.spacesync.SpaceSync.desktop").exists()


def test_windows_run_key_logic(_isolated_home, tmp_path, monkeypatch):
    # Off Windows, QSettings' native format is an INI file named like the key (relative to
    # the working directory), which is enough to check the enable / is_enabled / disable
    # logic used with the HKCU Run key.
    monkeypatch.chdir(tmp_path)
    auto = Autostart("win32")
    assert not auto.is_enabled()
    auto.enable(["C:\\Program Files\\SpaceSync\\SpaceSync.exe", "--minimized"])
    assert auto.is_enabled()
    assert auto._run_key().value("SpaceSync") == (
        '"C:\\Program Files\\SpaceSync\\SpaceSync.exe" --minimized'
    )
    auto.disable()
    assert not auto.is_enabled()


def test_window_layout_is_kept(qtbot, make_app):
    app = make_app()
    app.window.resize(700, 500)  # inside the 800x600 offscreen screen
    app.window.save_layout(app.layout_settings)
    app.window.resize(780, 580)
    app.window.restore_layout(app.layout_settings)
    assert (app.window.width(), app.window.height()) == (700, 500)
