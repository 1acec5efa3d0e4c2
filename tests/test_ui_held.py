"""Texts held by Twilio in the UI: the compose dialog's path, the Queue's words, Test connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pytestqt.qtbot import QtBot

from desktop_sms.providers.sandbox_server import (
    DEFAULT_MESSAGING_SERVICE_SID,
    ManualClock,
    SandboxServer,
)
from desktop_sms.services.container import Services
from desktop_sms.ui.dialogs.preferences.telephony_page import HELD_NOTE
from desktop_sms.ui.models.queue_model import QueueTableModel
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import Office
from tests.test_ui_compose import open_compose
from tests.test_ui_preferences import add_admin, click, open_preferences, retype

OFFICE = "+12125550100"


@pytest.fixture
def sandbox_clock() -> ManualClock:
    """The local server's clock at the office's (fake) time, so SendAt is judged alike."""
    return ManualClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


def test_compose_says_which_path_and_the_queue_says_held_by_twilio(
        qtbot: QtBot, office: Office, office_window: MainWindow,
        sandbox_server: SandboxServer) -> None:
    office.services.settings.set(office.admin, "messaging_service_sid",
                                 DEFAULT_MESSAGING_SERVICE_SID)
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Your hearing is tomorrow at 9.")
    assert not dialog.path_label.isVisible()
    dialog.schedule_radio.click()
    now = office.clock()
    dialog.set_send_at(now + timedelta(minutes=5))
    qtbot.waitUntil(dialog.path_label.isVisible)  # the settings are read off the GUI thread
    assert "Twilio only holds texts due at least 15 minutes ahead" in dialog.path_label.text()
    dialog.set_send_at(now + timedelta(days=40))
    assert "within 35 days" in dialog.path_label.text()
    when = now + timedelta(hours=2)
    dialog.set_send_at(when)
    assert dialog.path_label.text().startswith("Held by Twilio")
    with qtbot.waitSignal(dialog.finished):
        dialog.send_button.click()
    office.services.dispatcher.run_due()  # what the alarm does when a text is added
    assert [r.state for r in office.services.outbound.queue()] == ["held"]
    [at_server] = [m for m in sandbox_server.messages() if m["direction"] != "inbound"]
    assert at_server["status"] == "scheduled"
    model = QueueTableModel()
    model.set_rows(office.services.outbound.queue())
    assert model.data(model.index(0, 1)) == (
        "Held by Twilio — goes out even if every computer is off")


def test_test_connection_says_whether_the_service_can_hold_texts(
        qtbot: QtBot, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    sid, token = "AC" + "c" * 32, "the-right-token"
    dialog = open_preferences(qtbot, services, add_admin(services))
    page = dialog.telephony
    assert HELD_NOTE in [label.text() for label in page.findChildren(type(page.test_result))]

    def run_test() -> str:
        with qtbot.waitSignal(page.connection_tested, timeout=15_000) as result:
            click(qtbot, page.test_button)
        return str(result.args[0])

    with SandboxServer(account_sid=sid, auth_token=token, incoming_numbers=[OFFICE]) as server:
        monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", server.base_url)
        click(qtbot, page.twilio)  # Sandbox mode checks the Sandbox, not an account
        retype(qtbot, page.account_sid, sid)
        retype(qtbot, page.auth_token, token)
        retype(qtbot, page.office_numbers, OFFICE)
        retype(qtbot, page.messaging_service_sid, DEFAULT_MESSAGING_SERVICE_SID)
        text = run_test()
        assert text.startswith("OK: connected")
        assert "“Sandbox Messaging Service” can hold scheduled texts" in text
        retype(qtbot, page.messaging_service_sid, "MG" + "0" * 32)
        assert "is not on this Twilio account, so texts can't be held by Twilio" in run_test()


def test_the_minimum_lead_is_set_on_the_telephony_page(qtbot: QtBot, services: Services) -> None:
    dialog = open_preferences(qtbot, services, add_admin(services))
    page = dialog.telephony
    assert page.hold_min_lead.value() == 15
    page.hold_min_lead.setValue(30)
    assert dialog.save()
    assert services.settings.get("hold_min_lead_minutes") == 30
    assert services.held.min_lead() == timedelta(minutes=30)
