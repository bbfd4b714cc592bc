"""Render the app icon SVG into PNGs and a Windows .ico (run when the SVG changes).

    .venv/bin/python packaging/render_icons.py          # write the files
    .venv/bin/python packaging/render_icons.py --check  # exit 1 if any is missing or stale

The output is committed, so a build never needs the renderer. Rendering uses Qt's own
SVG renderer offscreen (PySide6 is already a dependency). The .ico is written here byte
by byte: 32-bit BGRA bitmaps with alpha for the small sizes (what every Windows tool,
NSIS and the Explorer shell read) and a PNG for 256 px (what Vista+ expects there).

Qt's rasteriser rounds a few edge pixels differently on different CPUs (its SIMD paths:
seen one level apart on a machine with AVX-512), so `--check` compares pixels, allowing
that much, and the files are rewritten only where they differ by more.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from appmeta import AppMeta, load  # noqa: E402


def _app():  # a QGuiApplication, offscreen unless the caller chose a platform
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([])


def render(svg: Path, size: int):
    """The SVG drawn into a size x size ARGB32 image (transparent background)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: cannot read {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def png_bytes(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, "PNG"):
        raise SystemExit("render_icons: Qt could not encode a PNG")
    buf.close()
    return bytes(data.data())


def dib_bytes(image) -> bytes:
    """An ICO entry as a 32-bit BITMAPINFOHEADER bitmap: BGRA rows bottom-up, then the
    1-bit AND mask (all zero: the alpha channel decides)."""
    w, h = image.width(), image.height()
    stride = image.bytesPerLine()
    raw = bytes(image.constBits())  # Format_ARGB32 on little endian = B, G, R, A
    if sys.byteorder != "little":
        raise SystemExit("render_icons: big-endian hosts are not supported")
    rows = [raw[y * stride : y * stride + w * 4] for y in range(h)]
    header = struct.pack("<IiiHHIIiiII", 40, w, h * 2, 1, 32, 0, w * h * 4, 0, 0, 0, 0)
    mask_stride = ((w + 31) // 32) * 4
    return header + b"".join(reversed(rows)) + bytes(mask_stride * h)


def ico_bytes(images: list) -> bytes:
    entries, blobs = [], []
    offset = 6 + 16 * len(images)
    for image in images:
        size = image.width()
        blob = png_bytes(image) if size >= 256 else dib_bytes(image)
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries.append(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset))
        blobs.append(blob)
        offset += len(blob)
    return struct.pack("<HHH", 0, 1, len(images)) + b"".join(entries) + b"".join(blobs)


# Per channel (0-255): how far a committed pixel may be from this machine's rendering.
TOLERANCE = 1


def _pixels(data: bytes) -> tuple[int, int, bytes]:
    """A PNG's size and ARGB32 pixels."""
    from PySide6.QtGui import QImage

    image = QImage()
    if not image.loadFromData(data):
        return 0, 0, b""
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    raw = bytes(image.constBits())
    return w, h, b"".join(raw[y * stride : y * stride + w * 4] for y in range(h))


def _ico_images(data: bytes) -> list[tuple[bytes, bytes]]:
    """An .ico's entries (as `ico_bytes` writes them): (directory entry, image bytes)."""
    (count,) = struct.unpack_from("<H", data, 4)
    out = []
    for i in range(count):
        entry = data[6 + 16 * i : 22 + 16 * i]
        length, offset = struct.unpack_from("<II", entry, 8)
        out.append((entry[:8], data[offset : offset + length]))
    return out


def _near(a: bytes, b: bytes) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= TOLERANCE for x, y in zip(a, b, strict=True))


def same_image(path: Path, old: bytes, new: bytes) -> bool:
    """Whether the committed file `old` draws what `new` draws (see TOLERANCE)."""
    if old == new:
        return True
    if path.suffix == ".png":
        (w1, h1, p1), (w2, h2, p2) = _pixels(old), _pixels(new)
        return (w1, h1) == (w2, h2) and w1 > 0 and _near(p1, p2)
    try:
        pairs = list(zip(_ico_images(old), _ico_images(new), strict=True))
    except (struct.error, ValueError):
        return False
    for (entry1, blob1), (entry2, blob2) in pairs:
        if entry1 != entry2:
            return False
        if blob2.startswith(b"\x89PNG"):
            if not same_image(path.with_suffix(".png"), blob1, blob2):
                return False
        elif blob1[:40] != blob2[:40] or not _near(blob1[40:], blob2[40:]):
            return False
    return True


def outputs(meta: AppMeta) -> dict[Path, bytes]:
    _app()
    rendered = {s: render(meta.icon_svg, s) for s in {*meta.icon_png_sizes, *meta.icon_ico_sizes}}
    files = {meta.icon_png(s): png_bytes(rendered[s]) for s in sorted(meta.icon_png_sizes)}
    files[meta.icon_ico] = ico_bytes([rendered[s] for s in sorted(meta.icon_ico_sizes)])
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check they are up to date")
    args = parser.parse_args(argv)
    meta = load()
    files = outputs(meta)
    stale = [
        p for p, data in files.items() if not p.exists() or not same_image(p, p.read_bytes(), data)
    ]
    if args.check:
        for p in stale:
            print(f"stale or missing: {p.relative_to(meta.root)}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[path])
        print(f"wrote {path.relative_to(meta.root)} ({len(files[path])} bytes)")
    if not stale:
        print("icons are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
