"""The compose dialog end to end: matter → dialog → send service → dispatcher → local server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit
from pytestqt.qtbot import QtBot

from desktop_sms.services.common import ValidationError
from desktop_sms.services.outbound import record_opt_out
from desktop_sms.ui.dialogs.compose_dialog import NO_ATTACHMENTS, ComposeDialog
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import Office
from tests.helpers.ui_office import CLIENT, outbound_ui_of, second_matter


def open_compose(qtbot: QtBot, window: MainWindow, matter_id: int) -> ComposeDialog:
    """Actions → Send SMS… on the matter's window; returns the dialog it opened."""
    view = window.open_matter(matter_id)
    qtbot.waitExposed(view)
    assert view.send_sms_action.isEnabled()
    view.send_sms_action.trigger()
    dialog = outbound_ui_of(window).compose_dialogs[matter_id]
    qtbot.waitExposed(dialog)
    return dialog


def test_send_now_reaches_the_server_once(qtbot: QtBot, office: Office,
                                          office_window: MainWindow) -> None:
    dialog = open_compose(qtbot, office_window, office.matter_id)
    assert dialog.isVisible() and dialog.parent() is office_window.matter_view(office.matter_id)
    assert dialog.recipient() == "(212) 555-0123"  # the client's mobile, as typed on the case
    assert dialog.attachments_note.text() == NO_ATTACHMENTS
    # The recipient's local time: 15:00 UTC is 10:00 AM in New York; inside 8:00-21:00.
    assert dialog.recipient_time.text() == "Recipient's local time: 10:00 AM (America/New_York)"
    assert not dialog.quiet_hours_warning.isVisible()
    assert not dialog.send_button.isEnabled()  # nothing typed yet

    body = "Hello Maria, your hearing is on Monday."
    qtbot.keyClicks(dialog.body_edit, body)
    assert dialog.counter_label.text() == f"{len(body)} characters · GSM-7 · 1 segment"
    assert dialog.send_button.isEnabled()

    with qtbot.waitSignal(dialog.message_queued) as queued, \
            qtbot.waitSignal(office_window.background.outbound_changed):
        qtbot.keyClick(dialog.body_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    message_id = queued.args[0]
    [row] = office.services.outbound.queue()
    assert (row.id, row.state, row.to, row.author) == (message_id, "queued", "(212) 555-0123",
                                                      "Pat Paralegal")

    report = office.services.dispatcher.run_due()
    assert report.sent == [message_id]
    assert office.server_bodies() == [body]
    [sent] = [m for m in office.server.messages() if m["direction"].startswith("outbound")]
    assert sent["to"] == CLIENT
    office.services.dispatcher.run_due()
    assert office.server_bodies() == [body]  # exactly once


def test_counter_counts_as_twilio_does(qtbot: QtBot, office: Office,
                                       office_window: MainWindow) -> None:
    dialog = open_compose(qtbot, office_window, office.matter_id)
    assert isinstance(dialog.body_edit, QPlainTextEdit)  # plain text, never rich text
    assert dialog.counter_label.text() == "0 characters · GSM-7 · 0 segments"

    dialog.body_edit.setPlainText("{[]}" * 20)  # 80 extension characters cost 160 units
    assert dialog.counter_label.text() == "80 characters · GSM-7 · 1 segment"
    dialog.body_edit.setPlainText("{[]}" * 20 + "x")  # 162 units: two parts
    assert dialog.counter_label.text() == "81 characters · GSM-7 · 2 segments"
    dialog.body_edit.setPlainText("x" * 81)  # plain GSM-7 of the same length fits in one
    assert dialog.counter_label.text() == "81 characters · GSM-7 · 1 segment"

    dialog.body_edit.setPlainText("See you soon 😀")  # emoji: UCS-2, the emoji costs two units
    assert dialog.counter_label.text() == "14 characters · UCS-2 · 1 segment"
    dialog.body_edit.setPlainText("😀" * 35)  # 70 units: one segment
    assert dialog.counter_label.text() == "35 characters · UCS-2 · 1 segment"
    dialog.body_edit.setPlainText("😀" * 36)  # 72 units: two parts of at most 67
    assert dialog.counter_label.text() == "36 characters · UCS-2 · 2 segments"
    assert dialog.send_button.isEnabled()

    dialog.body_edit.setPlainText("a" * 1601)
    assert not dialog.send_button.isEnabled()
    assert dialog.body_error.isVisible()
    assert "the limit is 1,600 characters" in dialog.body_error.text()
    dialog.body_edit.setPlainText("a" * 1600)
    assert dialog.send_button.isEnabled() and not dialog.body_error.isVisible()


def test_recipient_is_validated_and_opt_outs_refused(qtbot: QtBot, office: Office,
                                                     office_window: MainWindow) -> None:
    with office.services.db.transaction() as s:
        record_opt_out(s, "+12125550177", True, "inbound", office.clock())
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Hello")
    assert dialog.send_button.isEnabled()

    dialog.to_combo.setCurrentText("555-01")
    with pytest.raises(ValidationError) as refused:
        office.services.outbound.normalize_recipient("555-01")
    assert dialog.recipient_error.isVisible()
    assert dialog.recipient_error.text() == str(refused.value)
    assert not dialog.send_button.isEnabled()

    dialog.to_combo.setCurrentText("212.555.0177")
    assert not dialog.recipient_error.isVisible()
    assert dialog.opt_out_label.isVisible()
    assert "opted out" in dialog.opt_out_label.text()
    assert not dialog.send_button.isEnabled()

    dialog.to_combo.setCurrentText("(212) 555-0199")
    assert dialog.recipient_kind.text() == "Other number"
    assert not dialog.opt_out_label.isVisible()
    assert dialog.send_button.isEnabled()


def test_consent_gates_send_and_is_saved_with_the_user(qtbot: QtBot, office: Office,
                                                       office_window: MainWindow) -> None:
    office.services.matters.set_consent(office.admin, office.matter_id, "not_asked")
    view = office_window.open_matter(office.matter_id)
    dialog = open_compose(qtbot, office_window, office.matter_id)
    instructions = office.services.settings.get("sms_consent_instructions")
    assert dialog.consent_box.isVisible()
    assert dialog.consent_instructions.text() == instructions
    assert dialog.consent_instructions.textFormat() == Qt.TextFormat.PlainText
    assert dialog.consent_header.text() == "SMS consent: Not asked"
    dialog.body_edit.setPlainText("May we text you?")
    assert not dialog.send_button.isEnabled()

    dialog.consent_no.click()  # a click alone saves nothing: it asks for confirmation
    assert office.services.matters.detail(office.matter_id).consent == "not_asked"
    assert dialog.consent_confirm_button.isVisible()
    assert "said NO" in dialog.consent_confirm_text.text()
    with qtbot.waitSignal(dialog.consent_changed):
        dialog.consent_confirm_button.click()
    assert office.services.matters.detail(office.matter_id).consent == "no"
    assert dialog.consent_header.text().startswith("SMS consent: No — recorded by Pat")
    assert not dialog.send_button.isEnabled()

    dialog.consent_yes.click()
    with qtbot.waitSignal(dialog.consent_changed):
        dialog.consent_confirm_button.click()
    detail = office.services.matters.detail(office.matter_id)
    assert (detail.consent, detail.consent_by) == ("yes", "Pat Paralegal")
    assert detail.consent_at == office.clock()
    assert dialog.consent_header.text().startswith("SMS consent: Yes — recorded by Pat Paralegal")
    assert view.consent_label.text().startswith("Yes — recorded by Pat Paralegal")
    assert dialog.send_button.isEnabled()

    # Consent withdrawn elsewhere while the dialog is open: the service refuses; the dialog
    # stays open with the service's sentence and Send disabled again.
    office.services.matters.set_consent(office.admin, office.matter_id, "no")
    dialog.send_button.click()
    qtbot.waitUntil(dialog.error.isVisible)
    assert dialog.isVisible()
    assert "requires SMS consent" in dialog.error.text() and dialog.error.isVisible()
    assert not dialog.send_button.isEnabled()
    assert office.services.outbound.queue() == []

    office.services.settings.set(office.admin, "sms_consent_required", "false")
    dialog.body_edit.clear()  # with typed text, closing would ask about a draft first
    dialog.reject()
    dialog = open_compose(qtbot, office_window, office.matter_id)
    assert not dialog.consent_box.isVisible()


def test_schedule_for_later(qtbot: QtBot, office: Office, office_window: MainWindow) -> None:
    dialog = open_compose(qtbot, office_window, office.matter_id)
    body = "Reminder: bring your lease to the meeting."
    dialog.body_edit.setPlainText(body)
    now = office.clock()

    dialog.schedule_radio.click()
    assert dialog.when_edit.isEnabled() and dialog.send_button.text() == "&Schedule"
    # The picker refuses a time less than a minute ahead: it stays at the minimum.
    dialog.set_send_at(now + timedelta(seconds=30))
    assert dialog.send_at() is not None and dialog.send_at() >= now + timedelta(minutes=1)
    assert dialog.send_at() == now + timedelta(minutes=1)
    # Time passes while the dialog is open: the chosen time is now too soon and refused.
    office.clock.advance(seconds=30)
    dialog.send_button.click()
    assert dialog.isVisible()
    assert dialog.error.text().startswith("The scheduled time must be at least one minute")
    assert office.services.outbound.queue() == []

    # 22:00 in New York (03:00 UTC): the recipient's time is shown with a warning.
    late = now.replace(hour=3) + timedelta(days=1)
    dialog.set_send_at(late)
    assert dialog.recipient_time.text() == (
        "Recipient's local time at the scheduled time: 10:00 PM (America/New_York)")
    assert dialog.quiet_hours_warning.isVisible()

    when = now + timedelta(minutes=10)
    dialog.set_send_at(when)
    assert not dialog.quiet_hours_warning.isVisible()
    with qtbot.waitSignal(dialog.finished):
        dialog.send_button.click()
    [row] = office.services.outbound.queue()
    assert (row.state, row.send_at, row.body) == ("scheduled", when, body)

    office.services.dispatcher.run_due()
    assert office.server_bodies() == []  # not before its time
    office.clock.set(when + timedelta(seconds=1))
    office.services.dispatcher.run_due()
    assert office.server_bodies(CLIENT) == [body]


def test_client_text_in_the_dialog_is_plain(qtbot: QtBot, office: Office,
                                            office_window: MainWindow) -> None:
    matter_id = second_matter(office, "<b>Bold</b> & Co")
    dialog = open_compose(qtbot, office_window, matter_id)
    assert dialog.heading.text() == "Text <b>Bold</b> & Co — case 25-000002"
    assert all(label.textFormat() == Qt.TextFormat.PlainText
               for label in dialog.findChildren(QLabel) if "<b>" in label.text())
