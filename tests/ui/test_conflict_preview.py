from PySide6.QtGui import QColor, QImage

from spacesync_gui.ui.conflict_dialog import VersionPane
from spacesync_gui.ui.file_preview import load_preview


def test_text_image_binary_and_missing_previews(qtbot, tmp_path):
    (tmp_path / "a.txt").write_text("hello\nworld\n")
    (tmp_path / "b.bin").write_bytes(b"\x00\x01binary")
    img = QImage(800, 600, QImage.Format.Format_RGB32)
    img.fill(QColor("teal"))
    img.save(str(tmp_path / "c.png"))

    assert load_preview(str(tmp_path / "a.txt")).text == "hello\nworld\n"
    assert load_preview(str(tmp_path / "b.bin")).note == "Binary file: no preview."
    picture = load_preview(str(tmp_path / "c.png"))
    assert picture.kind == "image" and (picture.image.width(), picture.image.height()) == (320, 240)
    assert load_preview(str(tmp_path / "gone.txt")).note == "No file on this side."

    pane = VersionPane("Source")
    qtbot.addWidget(pane)
    pane.show_version(str(tmp_path / "c.png"), {"kind": "file", "size": 10, "mtime": 0})
    pane.show_preview(picture)
    assert pane.stack.currentWidget() is pane.image
    pane.show_version(str(tmp_path / "gone.txt"), None)
    assert "Deleted" in pane.facts.text() and not pane.open_button.isEnabled()
