"""Draw the application icon (a speech bubble) with Qt and write it in every format we ship.

Writes desktop_sms/assets/icon.png, resources/icon.png, resources/icon.ico and, when Qt's
image-format plugins can write it, resources/icon.icns. Run: python scripts/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import (  # noqa: E402
    QBrush,
    QColor,
    QGuiApplication,
    QImage,
    QImageWriter,
    QLinearGradient,
    QPainter,
    QPainterPath,
)

ROOT = Path(__file__).resolve().parent.parent
BLUE_TOP = QColor("#2f7fd6")
BLUE_BOTTOM = QColor("#1d5fa8")


def draw_icon(size: int) -> QImage:
    """A rounded blue speech bubble with three white dots, on a transparent square."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 256.0
    bubble = QPainterPath()
    bubble.addRoundedRect(QRectF(20 * s, 28 * s, 216 * s, 160 * s), 44 * s, 44 * s)
    tail = QPainterPath()
    tail.moveTo(QPointF(64 * s, 170 * s))
    tail.lineTo(QPointF(44 * s, 232 * s))
    tail.lineTo(QPointF(118 * s, 180 * s))
    tail.closeSubpath()
    shape = bubble.united(tail)
    gradient = QLinearGradient(0, 28 * s, 0, 232 * s)
    gradient.setColorAt(0.0, BLUE_TOP)
    gradient.setColorAt(1.0, BLUE_BOTTOM)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(gradient))
    p.drawPath(shape)
    p.setBrush(QColor("white"))
    radius = 17 * s
    for x in (78, 128, 178):
        p.drawEllipse(QPointF(x * s, 108 * s), radius, radius)
    p.end()
    return image


def main() -> int:
    """Write the icon files; returns 1 if a required format could not be written."""
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    formats = {bytes(f).decode() for f in QImageWriter.supportedImageFormats()}
    (ROOT / "resources").mkdir(exist_ok=True)
    big = draw_icon(1024)
    icon256 = draw_icon(256)
    ok = icon256.save(str(ROOT / "desktop_sms" / "assets" / "icon.png"), "PNG")
    ok &= big.save(str(ROOT / "resources" / "icon.png"), "PNG")
    ok &= icon256.save(str(ROOT / "resources" / "icon.ico"), "ICO")  # .ico holds at most 256 px
    if "icns" in formats:
        ok &= big.save(str(ROOT / "resources" / "icon.icns"), "ICNS")
    else:
        print("Qt cannot write .icns here (no imageformats plugin); make it on macOS with "
              "iconutil from resources/icon.png.", file=sys.stderr)
    print("icons written" if ok else "some icons could not be written")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
