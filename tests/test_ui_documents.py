"""A matter's Documents tab (docs/product.md F7): a reply's attachments appear in SMS Attachments, images
preview, Save as… writes the bytes; an opaque attachment is a chip, never opened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.ui.widgets.documents_pane import DocumentsPane
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import CLIENT, integration, matter_tab, png_bytes, poll

EXE = b"MZ\x90\x00" + b"\x00" * 60


def documents_of(qtbot: QtBot, window: MainWindow, matter_id: int) -> DocumentsPane:
    return matter_tab(qtbot, window, matter_id, "Documents", DocumentsPane)


def test_reply_attachments_are_listed_in_sms_attachments_and_can_be_saved(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider, tmp_path: Path) -> None:
    pane = documents_of(qtbot, window, ui_office.matter_id)
    qtbot.waitUntil(lambda: pane.status.text() == "No documents on this case yet.")
    png = png_bytes(40, 30)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "The photo and a file",
                                  date_sent=ui_office.clock() + timedelta(minutes=2),
                                  media=[("image/png", png), ("application/x-msdownload", EXE)])
    poll(ui_office, twilio_provider, window)

    qtbot.waitUntil(lambda: len(pane.documents()) == 2)
    assert pane.folders() == ["SMS Attachments"]
    rows = pane.rows()
    assert {r[0] for r in rows} == {"SMS Attachments"}
    names = [r[1] for r in rows]
    assert all(n.startswith("sms-") for n in names)
    image = next(d for d in pane.documents() if d.is_image)
    opaque = next(d for d in pane.documents() if d.opaque)
    assert image.name.endswith(".png") and image.size == len(png)
    image_row = next(r for r in rows if r[1] == image.name)
    assert image_row[2] == "image/png" and image_row[3] == f"{len(png)} bytes"
    opaque_row = next(r for r in rows if r[1] == opaque.name)
    assert "not opened automatically" in opaque_row[2]

    # An image previews; an opaque file does not.
    assert not pane.save_button.isEnabled()
    assert pane.select_document(image.id)
    qtbot.waitUntil(pane.preview_has_image)
    assert pane.save_button.isEnabled()
    assert pane.select_document(opaque.id)
    assert not pane.preview_has_image() and "No preview" in pane.preview.text()

    # Save as…: the testable path method, then the dialog itself.
    target = tmp_path / "copy.bin"
    with qtbot.waitSignal(pane.saved) as saved:
        pane.save_to(target)
    assert saved.args == [str(target)] and target.read_bytes() == EXE
    assert pane.select_document(image.id)
    qtbot.mouseClick(pane.save_button, Qt.MouseButton.LeftButton)
    dialog = pane.save_dialog
    assert isinstance(dialog, QFileDialog)
    qtbot.waitUntil(dialog.isVisible)
    picture = tmp_path / "photo.png"
    with qtbot.waitSignal(pane.saved):
        dialog.selectFile(str(picture))
        dialog.accept()
    assert picture.read_bytes() == png

    # In the note: the image as a thumbnail, the opaque file as a chip with name and size.
    tabs = integration(window).tabs_of(ui_office.matter_id)
    assert tabs is not None
    qtbot.waitUntil(lambda: any(c.thumbnails for c in tabs.notes.cards))
    card = tabs.notes.cards[0]
    assert len(card.thumbnails) == 1 and len(card.chips) == 1
    chip_text = card.chips[0].text()  # type: ignore[attr-defined]
    assert opaque.name in chip_text and f"{len(EXE)} bytes" in chip_text
