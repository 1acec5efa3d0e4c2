"""Image thumbnails decoded off the GUI thread, at thumbnail size, with a pixel cap, cached.

A reply's photo can be any size (an 8000×8000 PNG is 244 MB once decoded at full size).
`thumbnail()` runs on the task runner (desktop_sms/ui/tasks.py), never the GUI thread:

* the image's size is read from its header first; more than `MAX_IMAGE_PIXELS` (or, for
  formats Qt can't decode at a reduced size, `MAX_FULL_DECODE_PIXELS`) is refused with a
  sentence the placeholder shows;
* `QImageReader.setScaledSize` asks the decoder for the thumbnail size directly (JPEG decodes
  at a fraction of its size; formats without that option, PNG among them, are decoded in
  full and scaled, one such image at a time so that three at once don't triple the memory);
* results are kept in a small LRU cache keyed by what the bytes are (document or medium id)
  and the size asked for, so opening a case again decodes nothing.

`QImage` may be made on any thread; the GUI thread turns the small result into a `QPixmap`
(`to_pixmap`). See https://doc.qt.io/qt-6/qimagereader.html#setScaledSize.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageIOHandler, QImageReader, QPixmap

MAX_IMAGE_PIXELS = 100_000_000  # refused above this whatever the format
# Decoded in full before scaling: stays under Qt's default 256 MB allocation limit at 4 bytes
# a pixel (https://doc.qt.io/qt-6/qimagereader.html#allocationLimit).
MAX_FULL_DECODE_PIXELS = 64_000_000
CACHE_ENTRIES = 256
_FULL_DECODE = threading.Lock()  # one full-size decode at a time


@dataclass(frozen=True)
class Thumbnail:
    """A decoded thumbnail (`image`), or why there is none (`refusal`, one sentence)."""

    image: QImage | None
    source_size: tuple[int, int]  # (width, height) in pixels as the file declares; (0, 0) unknown
    refusal: str | None = None


def _fit(width: int, height: int, box: QSize) -> QSize:
    if width <= box.width() and height <= box.height():
        return QSize(width, height)
    scale = min(box.width() / width, box.height() / height)
    return QSize(max(1, round(width * scale)), max(1, round(height * scale)))


def decode_thumbnail(data: bytes, box: QSize) -> Thumbnail:
    """The image in `data` decoded to fit `box` (never larger than it is); any thread.

    Never raises: bytes that are not an image, or an image over the pixel cap, give a
    Thumbnail with `image` None and a `refusal` sentence.
    """
    array = QByteArray(data)
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    size = reader.size()
    if not size.isValid() or size.width() <= 0 or size.height() <= 0:
        return Thumbnail(None, (0, 0), "The image could not be read.")
    width, height = size.width(), size.height()
    scaled = reader.supportsOption(QImageIOHandler.ImageOption.ScaledSize)
    cap = MAX_IMAGE_PIXELS if scaled else min(MAX_IMAGE_PIXELS, MAX_FULL_DECODE_PIXELS)
    if width * height > cap:
        return Thumbnail(None, (width, height),
                         f"This image is too large to show ({width:,} × {height:,} pixels); "
                         "use Save as… to open it in another program.")
    target = _fit(width, height, box)
    reader.setScaledSize(target)
    if scaled or width * height <= box.width() * box.height() * 16:
        image = reader.read()
    else:
        with _FULL_DECODE:
            image = reader.read()
    if image.isNull():
        return Thumbnail(None, (width, height), "The image could not be read.")
    if image.width() > box.width() or image.height() > box.height():  # a decoder ignored it
        image = image.scaled(box, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return Thumbnail(image, (width, height))


class ThumbnailCache:
    """A thread-safe LRU of thumbnails; `decodes` counts the decodes it did (for tests)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self.decodes = 0
        self._items: OrderedDict[Hashable, Thumbnail] = OrderedDict()
        self._busy: dict[Hashable, threading.Event] = {}  # being decoded now
        self._lock = threading.Lock()

    def get(self, key: Hashable, box: QSize, load: Callable[[], bytes]) -> Thumbnail:
        """The thumbnail of what `key` names at `box`; `load()` gives its bytes when not
        cached. Call on the runner: it reads and decodes."""
        full = (key, box.width(), box.height())
        while True:
            with self._lock:
                found = self._items.get(full)
                if found is not None:
                    self._items.move_to_end(full)
                    return found
                busy = self._busy.get(full)
                if busy is None:  # this thread decodes it; others asking meanwhile wait
                    busy = self._busy[full] = threading.Event()
                    break
            busy.wait()
        try:
            made = decode_thumbnail(load(), box)
            with self._lock:
                self.decodes += 1
                self._items[full] = made
                while len(self._items) > self.entries:
                    self._items.popitem(last=False)
        finally:
            with self._lock:
                self._busy.pop(full, None)
            busy.set()
        return made

    def clear(self) -> None:
        """Forget every thumbnail."""
        with self._lock:
            self._items.clear()


CACHE = ThumbnailCache()


def to_pixmap(thumb: Thumbnail | None) -> QPixmap | None:
    """The thumbnail as a pixmap for a label (GUI thread); tiny images are enlarged to 48 px
    so there is something to see. None when there is no image."""
    if thumb is None or thumb.image is None:
        return None
    pixmap = QPixmap.fromImage(thumb.image)
    if pixmap.width() < 48 and pixmap.height() < 48:
        pixmap = pixmap.scaled(QSize(48, 48), Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.FastTransformation)
    return pixmap
