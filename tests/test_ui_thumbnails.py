"""Huge images (issue 12, reproduction 11): a reply's 8000×8000 PNG is decoded at thumbnail
size on the task runner, with a pixel cap and a cache; the GUI keeps running meanwhile."""

from __future__ import annotations

import struct
import time
import zlib
from datetime import timedelta
from functools import lru_cache

from PySide6.QtCore import QSize, QTimer
from pytestqt.qtbot import QtBot

from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.ui.thumbnails import CACHE, decode_thumbnail
from desktop_sms.ui.widgets.case_notes_widget import CaseNotesWidget
from desktop_sms.ui.widgets.documents_pane import THUMBNAIL_SIZE, DocumentsPane
from desktop_sms.ui.widgets.sms_log_widget import SmsLogWidget
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import matter_tab, png_bytes, poll

CLIENT = "+12125550123"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=4)
def big_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A real RGB PNG of width × height (written row by row: never held decoded). With `rows`,
    only that many rows of pixel data follow the header (enough for a size check)."""
    row = b"\x00" + b"\x1d\x5f\xa8" * width
    packer = zlib.compressobj(1)
    data = [packer.compress(row) for _ in range(height if rows is None else rows)]
    data.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(data))
            + _chunk(b"IEND", b""))


def test_decoding_is_at_thumbnail_size_with_a_pixel_cap() -> None:
    thumb = decode_thumbnail(big_png(8000, 8000), THUMBNAIL_SIZE)
    assert thumb.image is not None and thumb.refusal is None
    assert thumb.image.width() <= 160 and thumb.image.height() <= 120
    assert thumb.source_size == (8000, 8000)
    wide = decode_thumbnail(png_bytes(400, 100), THUMBNAIL_SIZE)
    assert wide.image is not None and (wide.image.width(), wide.image.height()) == (160, 40)
    huge = decode_thumbnail(big_png(20000, 20000, rows=2), THUMBNAIL_SIZE)
    assert huge.image is None and huge.source_size == (20000, 20000)
    assert huge.refusal == ("This image is too large to show (20,000 × 20,000 pixels); use "
                            "Save as… to open it in another program.")
    bad = decode_thumbnail(b"\x89PNG\r\n\x1a\nnot really", QSize(10, 10))
    assert bad.image is None and bad.refusal == "The image could not be read."


def test_a_huge_png_reply_shows_a_small_thumbnail_without_freezing_the_window(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    CACHE.clear()
    sandbox_server.inject_inbound(CLIENT, OFFICE, "photos of the damage",
                                  date_sent=ui_office.clock() - timedelta(hours=1),
                                  media=[("image/png", big_png(8000, 8000))])
    poll(ui_office, twilio_provider, window)
    decodes = CACHE.decodes
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    notes = matter_tab(qtbot, window, ui_office.matter_id, "Notes", CaseNotesWidget)
    qtbot.waitUntil(lambda: any(c.thumbnails for c in notes.cards), timeout=30_000)
    timer.stop()
    # The window kept running while the image was decoded on the runner (about 3 s).
    assert len(ticks) >= 2
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 1.0
    pixmap = next(c for c in notes.cards if c.thumbnails).thumbnails[0].pixmap()
    assert pixmap.width() <= 160 and pixmap.height() <= 120
    assert CACHE.decodes == decodes + 1
    # The SMS log shows the same thumbnail from the cache: no second decode.
    log = matter_tab(qtbot, window, ui_office.matter_id, "SMS log", SmsLogWidget)
    qtbot.waitUntil(lambda: log.thumbnail_count() == 1, timeout=10_000)
    assert CACHE.decodes == decodes + 1
    thumb = log.bubbles[0].thumbnails[0].pixmap()
    assert thumb.width() <= 160 and thumb.height() <= 120


def test_an_image_over_the_pixel_cap_shows_a_placeholder_sentence(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    CACHE.clear()
    sandbox_server.inject_inbound(CLIENT, OFFICE, "scan",
                                  date_sent=ui_office.clock() - timedelta(hours=1),
                                  media=[("image/png", big_png(20000, 20000, rows=2))])
    poll(ui_office, twilio_provider, window)
    notes = matter_tab(qtbot, window, ui_office.matter_id, "Notes", CaseNotesWidget)
    qtbot.waitUntil(lambda: any(c.chips for c in notes.cards), timeout=10_000)
    card = next(c for c in notes.cards if c.chips)
    assert card.thumbnails == []
    texts = [w.text() for w in card.chips if w.objectName() == "imagePlaceholder"]  # type: ignore[attr-defined]
    assert texts and texts[0].startswith("This image is too large to show (20,000 × 20,000")
    docs = matter_tab(qtbot, window, ui_office.matter_id, "Documents", DocumentsPane)
    qtbot.waitUntil(lambda: len(docs.documents()) == 1)
    assert docs.select_document(docs.documents()[0].id)
    qtbot.waitUntil(lambda: "too large to show" in docs.preview.text())
    assert not docs.preview_has_image()
