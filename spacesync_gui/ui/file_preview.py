"""Small previews of a file version for the conflict dialog, made off the GUI thread.

Images are decoded and scaled here too (QImage, unlike QPixmap, may be used on any
thread): decoding a large photo on the GUI thread would stall it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

TEXT_LIMIT = 64 * 1024
IMAGE_LIMIT = 8 * 1024 * 1024
IMAGE_BOX = (320, 240)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg", ".ico", ".tif", ".tiff"}


@dataclass(frozen=True)
class FilePreview:
    kind: str  # text | image | none
    text: str = ""
    image: QImage = field(default_factory=QImage)
    note: str = ""


def load_preview(path: str) -> FilePreview:
    p = Path(path)
    try:
        if not p.is_file():
            return FilePreview("none", note="No file on this side.")
        size = p.stat().st_size
        if p.suffix.lower() in IMAGE_SUFFIXES:
            if size > IMAGE_LIMIT:
                return FilePreview("none", note="Image too large to preview.")
            image = QImage.fromData(p.read_bytes())
            if image.isNull():
                return FilePreview("none", note="Cannot show this image.")
            scaled = image.scaled(
                *IMAGE_BOX,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            return FilePreview("image", image=scaled)
        with p.open("rb") as f:
            head = f.read(TEXT_LIMIT)
    except OSError as e:
        return FilePreview("none", note=f"Cannot read: {e.strerror or e}")
    if b"\0" in head:
        return FilePreview("none", note="Binary file: no preview.")
    text = head.decode("utf-8", errors="replace")
    note = "Showing the first 64 KB." if size > TEXT_LIMIT else ""
    return FilePreview("text", text=text, note=note)
