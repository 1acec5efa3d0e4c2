"""SMS → Simulated phone: shows the office's texts to a number and injects the client's reply."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from desktop_sms.providers.base import SmsProvider
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.simulated_phone import SimulatedPhoneWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import CLIENT, OfficeSandbox, outbound_ui_of


@pytest.fixture
def office_sandbox(office: Office, twilio_provider: SmsProvider) -> OfficeSandbox:
    """Sandbox mode with the sandbox not started yet: opening the phone starts it."""
    return OfficeSandbox(office.services.settings, office.server, twilio_provider, started=False)


def open_phone(qtbot: QtBot, window: MainWindow) -> SimulatedPhoneWindow:
    """SMS → Simulated phone…; waits until the sandbox has started and the window shows."""
    ui = outbound_ui_of(window)
    ui.update_phone_action()
    assert ui.phone_action.isVisible()
    assert ui.phone_action in window.sms_menu.actions()
    ui.phone_action.trigger()
    phone = ui.phone_window
    assert phone is not None
    qtbot.waitExposed(phone)
    qtbot.waitUntil(lambda: window.services.providers.sandbox is not None)
    return phone


def test_reply_with_an_image_reaches_the_server_as_inbound(
        qtbot: QtBot, office: Office, office_window: MainWindow, tmp_path: Path) -> None:
    office.services.outbound.send(office.staff, office.matter_id, "(212) 555-0123",
                                  "Your hearing moved to <Friday> & 10 AM")
    office.services.dispatcher.run_due()

    phone = open_phone(qtbot, office_window)
    assert phone.phone_number() == CLIENT and phone.office_number() == OFFICE
    qtbot.waitUntil(lambda: any("Your hearing moved" in t for t in phone.conversation_texts()))
    [office_text] = phone.conversation_texts()
    assert office_text.startswith("Office · ")
    assert office_text.endswith("\nYour hearing moved to <Friday> & 10 AM")  # verbatim, plain

    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(QColor("teal"))
    picture = tmp_path / "lease.png"
    assert image.save(str(picture))
    phone.set_attachment(picture)
    assert phone.attachment_label.text() == "lease.png"
    reply = "Thanks <b>I'll be there</b> & bring the lease"
    qtbot.keyClicks(phone.reply_edit, reply)
    with qtbot.waitSignal(phone.reply_sent) as sent:
        phone.send_button.click()
    sid = sent.args[0]

    [inbound] = [m for m in office.server.messages() if m["direction"] == "inbound"]
    assert (inbound["sid"], inbound["from"], inbound["to"], inbound["body"], inbound["num_media"]) \
        == (sid, CLIENT, OFFICE, reply, "1")
    # The office's provider lists it as an inbound message with the picture.
    provider = office.services.providers()
    [listed] = [m for m in provider.list_messages(to=OFFICE) if m.direction == "inbound"]
    assert (listed.sid, listed.from_, listed.body, listed.num_media) == (sid, CLIENT, reply, 1)
    [media] = provider.list_media(sid)
    assert media.content_type == "image/png"
    assert provider.download_media(media, 5_000_000) == picture.read_bytes()

    texts = phone.conversation_texts()
    assert len(texts) == 2 and texts[1].startswith("Me · ")
    assert texts[1].endswith(f"\n{reply}\n[1 attachment]")
    assert phone.reply_edit.toPlainText() == "" and phone.attachment is None


def test_pick_or_type_a_number_and_refresh_on_signals(qtbot: QtBot, office: Office,
                                                      office_window: MainWindow) -> None:
    phone = open_phone(qtbot, office_window)
    assert phone.number_combo.itemText(0) == "(212) 555-0123"
    phone.set_number("not a number")
    assert phone.phone_number() is None and not phone.send_button.isEnabled()
    assert phone.conversation_texts() == ["Pick a client's mobile or type a phone number."]

    phone.set_number("212.555.0199")  # anyone can text the office
    assert phone.conversation_texts() == ["No texts with the office yet."]
    qtbot.keyClicks(phone.reply_edit, "STOP")
    with qtbot.waitSignal(phone.reply_sent):
        phone.send_button.click()
    assert office.server.is_opted_out(OFFICE, "+12125550199")

    # A text the office sends shows once the dispatcher announces it.
    phone.set_number("(212) 555-0123")
    office.services.outbound.send(office.staff, office.matter_id, "(212) 555-0123", "Hello")
    office.services.dispatcher.run_due()
    with qtbot.waitSignal(phone.conversation_refreshed):
        office_window.background.outbound_changed.emit()
    assert phone.conversation_texts()[-1].endswith("\nHello")
    assert len(phone.conversation_texts()) == 1  # the other number's STOP is not here

    ui = outbound_ui_of(office_window)
    assert ui.open_simulated_phone() is phone  # one window
    office.services.settings.set(office.admin, "provider", "twilio")
    ui.update_phone_action()
    assert not ui.phone_action.isVisible()
