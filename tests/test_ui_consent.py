"""pytest-qt: the case header after STOP, the compose warning and override, the quiet-hours
confirmation, the two-step consent dialog, and the demo flow (STOP from the Simulated phone)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, OutboundMessage
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.consent import CANCEL_REASON
from desktop_sms.services.matters import MatterInput
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import CLIENT, OfficeSandbox, outbound_ui_of
from tests.test_ui_compose import open_compose
from tests.test_ui_simulated_phone import open_phone

NY = ZoneInfo("America/New_York")


@pytest.fixture
def office_sandbox(office: Office, twilio_provider: SmsProvider) -> OfficeSandbox:
    """Sandbox mode with the sandbox not started: opening the Simulated phone starts it."""
    return OfficeSandbox(office.services.settings, office.server, twilio_provider, started=False)


def _with_home(office: Office) -> None:
    office.services.matters.save(office.admin, MatterInput(
        "25-000001", "Maria Garcia", "intake", mobile="(212) 555-0123", home="(212) 555-0177",
        intake_date=date(2026, 1, 5), primary_username="pat"), office.matter_id)


def _audit(office: Office, action: str) -> list[str]:
    with office.services.db.session() as s:
        return list(s.scalars(select(AuditEntry.detail).where(AuditEntry.action == action)))


def test_demo_flow_stop_from_the_simulated_phone(qtbot: QtBot, office: Office,
                                                 office_window: MainWindow) -> None:
    _with_home(office)
    svc = office.services
    tomorrow = datetime(2026, 3, 3, 10, 0, tzinfo=NY)
    scheduled = svc.outbound.send(office.staff, office.matter_id, CLIENT, "See you", tomorrow)
    phone = open_phone(qtbot, office_window)
    phone.set_number("(212) 555-0123")
    qtbot.keyClicks(phone.reply_edit, "STOP")
    with qtbot.waitSignal(phone.reply_sent):
        phone.send_button.click()
    svc.poller.poll_once()

    # the scheduled text is canceled with the reason, as the Queue shows it
    with svc.db.session() as s:
        msg = s.get(OutboundMessage, scheduled)
        assert msg is not None and (msg.state, msg.error_message) == ("canceled", CANCEL_REASON)
    # the case says so
    view = office_window.open_matter(office.matter_id)
    view.reload()
    assert view.texts_label.text().startswith(
        "Opted out — This client replied STOP from (212) 555-0123 on ")
    assert not view.ask_by_text_action.isEnabled()
    # the case list says so
    page = office_window.cases_page
    page.refresh()
    model = page.model
    texts_col = [model.headerData(c, Qt.Orientation.Horizontal)
                 for c in range(model.columnCount())].index("Texts")
    qtbot.waitUntil(lambda: model.rowCount() >= 1)
    assert model.data(model.index(0, texts_col)) == "Opted out"
    # the compose dialog says so, for the home number too
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Hello")
    assert dialog.opt_out_label.isVisible() and "replied STOP" in dialog.opt_out_label.text()
    dialog.to_combo.setCurrentText("(212) 555-0177")
    assert dialog.client_stop_label.text().startswith("This client replied STOP from (212) 555-0123")
    assert "does not allow" in dialog.client_stop_label.text()
    assert not dialog.send_button.isEnabled() and not dialog.override_reason.isVisible()


def test_compose_override_needs_the_setting_and_a_reason(qtbot: QtBot, office: Office,
                                                         office_window: MainWindow) -> None:
    _with_home(office)
    svc = office.services
    svc.settings.set(office.admin, "allow_opt_out_override", "true")
    office.server.inject_inbound(CLIENT, OFFICE, "Stop", date_sent=office.clock())
    svc.poller.poll_once()
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Your hearing moved")
    dialog.to_combo.setCurrentText("(212) 555-0177")
    assert dialog.override_reason.isVisible() and not dialog.send_button.isEnabled()
    qtbot.keyClicks(dialog.override_reason, "client called, asked for home")
    assert dialog.send_button.isEnabled()
    with qtbot.waitSignal(dialog.message_queued):
        dialog.send_button.click()
    assert any("asked for home" in d for d in _audit(office, "optout.override"))


def test_send_now_in_quiet_hours_asks_confirmation_and_reason(qtbot: QtBot, office: Office,
                                                               office_window: MainWindow) -> None:
    office.clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=NY).astimezone(UTC))
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Court at 8")
    dialog.send_button.click()
    qtbot.waitUntil(dialog.quiet_box.isVisible)
    assert "quiet hours" in dialog.quiet_text.text()
    assert not dialog.quiet_send_button.isEnabled()
    with office.services.db.session() as s:
        assert s.scalar(select(OutboundMessage.id)) is None  # nothing queued yet
    qtbot.keyClicks(dialog.quiet_reason, "hearing moved tonight")
    with qtbot.waitSignal(dialog.message_queued):
        dialog.quiet_send_button.click()
    assert any("hearing moved tonight" in d for d in _audit(office, "quiet_hours.override"))


def test_schedule_in_quiet_hours_offers_the_next_allowed_time(qtbot: QtBot, office: Office,
                                                               office_window: MainWindow) -> None:
    office.clock.set(datetime(2026, 3, 2, 20, 0, tzinfo=NY).astimezone(UTC))
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Reminder")
    dialog.set_send_at(datetime(2026, 3, 2, 22, 0, tzinfo=NY))
    dialog.send_button.click()
    qtbot.waitUntil(lambda: "next allowed time" in dialog.error.text())
    assert dialog.send_at() == datetime(2026, 3, 3, 8, 0, tzinfo=NY)


def test_consent_dialog_records_only_after_confirmation(qtbot: QtBot, office: Office,
                                                        office_window: MainWindow) -> None:
    svc = office.services
    view = office_window.open_matter(office.matter_id)
    dialog = view.record_consent()
    qtbot.waitExposed(dialog)
    dialog.no.click()
    dialog.method.setCurrentIndex(dialog.method.findData("written"))
    qtbot.keyClicks(dialog.note, "revoked by letter")
    dialog.record_button.click()
    assert "said NO (written)" in dialog.confirm_text.text()
    assert svc.matters.detail(office.matter_id).consent == "yes"  # nothing saved yet
    with qtbot.waitSignal(dialog.recorded):
        dialog.confirm_button.click()
    assert svc.matters.detail(office.matter_id).consent == "no"
    assert view.consent_history_label.text().splitlines()[-1].startswith(
        "no (written) by Pat Paralegal")
    assert "revoked by letter" in view.consent_history_label.text()
    assert outbound_ui_of(office_window) is not None


def test_ask_by_text_from_the_case_once(qtbot: QtBot, office: Office,
                                        office_window: MainWindow) -> None:
    svc = office.services
    with svc.db.transaction() as s:
        from desktop_sms.db.models import Matter
        m = s.get(Matter, office.matter_id)
        assert m is not None
        m.consent = "not_asked"
    view = office_window.open_matter(office.matter_id)
    view.reload()
    assert view.ask_by_text_action.isEnabled()
    box = view.ask_by_text()
    assert "Reply YES to get texts about your case from" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: "consent asked by text" in view.texts_label.text())
    assert not view.ask_by_text_action.isEnabled()  # once per case
    assert len(_audit(office, "consent.request")) == 1


def test_demo_database_stop_from_the_simulated_phone(
        qtbot: QtBot, sqlite_db: Database, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider, ui_config_dir: Path) -> None:
    from desktop_sms.app import build_main_window
    from desktop_sms.services.container import build_services
    from desktop_sms.services.demo import seed_demo
    from tests.helpers.clock import FakeClock
    from tests.helpers.outbound_fixtures import MemoryCredentialStore

    clock = FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    services = build_services(sqlite_db, clock, credentials=MemoryCredentialStore())
    sandbox = OfficeSandbox(services.settings, sandbox_server, twilio_provider, started=False)
    services.providers = sandbox
    services.dispatcher.provider_factory = sandbox
    services.poller.provider_factory = sandbox
    actor = seed_demo(services)
    # The demo history holds other scheduled texts too; this one is Maria Garcia's (the
    # first case), seeded for this flow by seed_consent_demo.
    [scheduled] = [r for r in services.outbound.queue()
                   if r.state == "scheduled" and r.client_name == "Maria Garcia"]
    assert scheduled.matter_id is not None
    matter_id = scheduled.matter_id
    window = build_main_window(services, actor)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    win = window
    phone = open_phone(qtbot, win)
    phone.set_number("(212) 555-0110")
    qtbot.keyClicks(phone.reply_edit, "STOP")
    with qtbot.waitSignal(phone.reply_sent):
        phone.send_button.click()
    services.poller.poll_once()
    [row] = [r for r in services.outbound.queue() if r.id == scheduled.id]
    assert (row.state, row.error) == ("canceled", CANCEL_REASON)
    view = win.open_matter(matter_id)
    view.reload()
    assert view.texts_label.text().startswith(
        "Opted out — This client replied STOP from (212) 555-0110")
    page = win.cases_page
    page.refresh()
    model = page.model
    col = [model.headerData(c, Qt.Orientation.Horizontal)
           for c in range(model.columnCount())].index("Texts")
    qtbot.waitUntil(lambda: any(model.data(model.index(r, 0)) == view.detail.case_number
                                for r in range(model.rowCount())))
    marks = {model.data(model.index(r, 0)): model.data(model.index(r, col))
             for r in range(model.rowCount())}
    assert view.detail is not None and marks[view.detail.case_number] == "Opted out"
    # Rosa Garcia shares the phone; Omar replied STOP earlier in the demo history.
    assert list(marks.values()).count("Opted out") == 3
    dialog = open_compose(qtbot, win, matter_id)
    assert "replied STOP" in dialog.opt_out_label.text()
    assert not dialog.send_button.isEnabled()
