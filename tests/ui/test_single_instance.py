from spacesync_gui.ui.single_instance import SingleInstance, server_name


def test_second_instance_raises_the_first(qtbot, tmp_path):
    first = SingleInstance(tmp_path)
    assert first.claim()
    second = SingleInstance(tmp_path)
    with qtbot.waitSignal(first.showRequested, timeout=5000):
        assert not second.claim()  # it told the first one to show itself
    first.close()
    # Once the first is gone, the next launch becomes the instance.
    third = SingleInstance(tmp_path)
    assert third.claim()
    third.close()


def test_names_differ_per_library(tmp_path):
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")


def test_second_launch_shows_the_running_window(qtbot, make_app):
    app = make_app()
    guard = SingleInstance(app.lib.data_dir)
    assert guard.claim()
    guard.showRequested.connect(app.show_window)
    app.window.hide()
    with qtbot.waitSignal(guard.showRequested, timeout=5000):
        assert SingleInstance(app.lib.data_dir).notify_running()
    assert app.window.isVisible()
    guard.close()
