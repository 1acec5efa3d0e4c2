"""The small things a new user finds (issue 19 item 6), each driven as a person would."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QGroupBox, QLabel
from pytestqt.qtbot import QtBot

from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.notes import list_notes
from desktop_sms.ui.dialogs.preferences.telephony_page import SANDBOX_OK
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.windows.audit_log_window import AuditLogWindow
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import integration, outbound_ui_of, poll, second_matter
from tests.test_ui_compose import open_compose
from tests.test_ui_preferences import add_admin, click, open_preferences


def open_first_case(qtbot: QtBot, window: MainWindow, services: Services) -> int:
    matter_id = services.matters.page("212.555.0123")[0].id
    with qtbot.waitSignal(window.matter_view_opened):
        window.open_matter(matter_id)
    return matter_id


def test_case_window_adds_a_note_and_closes_with_ctrl_w(
        qtbot: QtBot, main_window: MainWindow, services: Services, demo_actor: Actor) -> None:
    matter_id = open_first_case(qtbot, main_window, services)
    view = main_window.matter_view(matter_id)
    assert view is not None
    qtbot.waitExposed(view)
    assert view.add_note_button.isVisible() and view.add_note_button.text() == "Add &note…"

    qtbot.mouseClick(view.add_note_button, Qt.MouseButton.LeftButton)
    dialog = view.note_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    # A blank subject is refused with a sentence; the body typed stays.
    qtbot.keyClicks(dialog.body, "Called the <b>client</b>")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.isVisible())
    assert dialog.error.text() == "Give the note a subject."
    assert dialog.body.toPlainText() == "Called the <b>client</b>"

    qtbot.keyClicks(dialog.subject, "Phone call")
    with qtbot.waitSignal(view.matter_changed):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    notes = list_notes(services.db, matter_id)
    assert notes[0].subject == "Phone call" and notes[0].author == "Alex Admin"
    assert "Called the <b>client</b>" in view.notes_pane.plain_text()

    # Ctrl+W is the window's close shortcut (activation is not reliable offscreen, so the
    # shortcut is fired as Qt does once the key is pressed in the active window).
    assert view.close_shortcut.key() == QKeySequence("Ctrl+W")
    assert view.close_shortcut.context() == Qt.ShortcutContext.WindowShortcut
    with qtbot.waitSignal(view.closed):
        view.close_shortcut.activated.emit()
    assert not view.isVisible()


def test_compose_warns_on_a_closed_case_shows_consent_once_and_a_whole_to_label(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc = ui_office.services
    closed_id = svc.matters.save(ui_office.admin, MatterInput(
        "25-000009", "Closed Client", "closed", mobile="(212) 555-0124",
        intake_date=date(2026, 1, 9), date_opened=date(2026, 1, 10)))
    open_dialog = open_compose(qtbot, window, ui_office.matter_id)
    assert not open_dialog.closed_case_warning.isVisible()
    # "To" is shown whole, never clipped.
    label = open_dialog.to_label
    assert label.width() >= label.fontMetrics().horizontalAdvance("To")

    dialog = open_compose(qtbot, window, closed_id)
    assert dialog.closed_case_warning.isVisible()
    assert dialog.closed_case_warning.text() == (
        "This case is closed. Check that the client should still get texts about it "
        "before you send.")
    assert dialog.closed_case_warning.textFormat() == Qt.TextFormat.PlainText
    # Consent not asked yet: the box asking for it shows, and the heading is written once.
    assert dialog.consent_box.isVisible()
    visible = [w for w in dialog.findChildren(QLabel) if w.isVisible()]
    headings = [w.text() for w in visible if w.text().startswith("SMS consent")]
    titles = [b.title() for b in dialog.findChildren(QGroupBox) if b.isVisible()]
    assert headings == ["SMS consent: Not asked"] and titles == ["Ask the client now"]


def test_audit_log_reads_as_sentences(qtbot: QtBot, office: Office,
                                      sandbox_server: SandboxServer,
                                      twilio_provider: SmsProvider) -> None:
    svc = office.services
    case = svc.matters.detail(office.matter_id).case_number
    mid = svc.outbound.send(office.staff, office.matter_id, "212.555.0123", "Hello Maria")
    svc.outbound.cancel(office.staff, [mid])
    sandbox_server.inject_inbound("+13125550177", OFFICE, "Who is this?",
                                  date_sent=office.clock() + timedelta(minutes=1))
    report = svc.inbound.poller(lambda: twilio_provider).poll_once()
    [inbound_id] = report.new_inbound_ids
    svc.inbound.linking.link(office.admin, inbound_id, [office.matter_id])

    window = AuditLogWindow(svc.audit, office.admin, TaskRunner())
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.refreshed):
        window.refresh()
    assert window.table.horizontalHeaderItem(2).text() == "What happened"
    said = [window.table.item(r, 2).text() for r in range(window.table.rowCount())]
    assert f"Sent a text to +1******0123 on case {case}" in said
    assert f"Canceled the text to +1******0123 on case {case}" in said
    assert f"Filed the reply from +1******0177 on case {case}" in said
    # No codes or internal ids in the sentences, and never a whole number.
    assert not any("sms." in s or "inbound " in s or "5550123" in s for s in said)


def test_simulated_phone_opened_from_a_case_is_that_clients_mobile(
        qtbot: QtBot, office: Office, office_window: MainWindow) -> None:
    other = second_matter(office, "Second Client")
    view = office_window.open_matter(other)
    qtbot.waitExposed(view)
    ui = outbound_ui_of(office_window)
    [action] = [a for a in view.actions_menu.actions() if a.objectName() == "casePhoneAction"]
    assert action.isVisible()  # the office window runs in sandbox mode
    action.trigger()
    phone = ui.phone_window
    assert phone is not None
    qtbot.waitExposed(phone)
    assert phone.phone_number() == "+12125550124"
    # Opened again from the other case, the same window turns to that client's mobile.
    first = office_window.open_matter(office.matter_id)
    qtbot.waitExposed(first)
    assert ui.open_simulated_phone(first) is phone
    assert phone.phone_number() == "+12125550123"


def test_test_connection_in_sandbox_mode_checks_the_sandbox(
        qtbot: QtBot, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKTOP_SMS_TWILIO_API_URL", raising=False)
    dialog = open_preferences(qtbot, services, add_admin(services))
    page = dialog.telephony
    assert page.sandbox.isChecked() and page.account_sid.text() == ""
    with qtbot.waitSignal(page.connection_tested, timeout=15_000) as result:
        click(qtbot, page.test_button)
    assert result.args[0] == SANDBOX_OK
    assert page.test_result.text() == SANDBOX_OK
    assert "Account SID" not in page.test_result.text()
    assert page.test_button.isEnabled()
    assert services.settings.get("provider") == "sandbox"  # testing saves nothing


def test_link_to_case_starts_with_the_replys_number(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    case = ui_office.services.matters.detail(ui_office.matter_id).case_number
    sandbox_server.inject_inbound("(212) 555-0123", OFFICE, "It's me again",
                                  date_sent=ui_office.clock() + timedelta(minutes=1))
    poll(ui_office, twilio_provider, window)
    window.show_page("SMS")
    page = integration(window).received_page
    assert page is not None
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert page.select_message(page.model.rows()[0].id)
    dialog = page.open_link_dialog()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.found_case_numbers() != [])
    assert dialog.search_edit.text() == "+12125550123"
    assert case in dialog.found_case_numbers()
