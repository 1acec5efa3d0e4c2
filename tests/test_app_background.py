"""The running application's background work: a text sent and a reply filed without a click."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window, start_background
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.common import SYSTEM
from tests.helpers.outbound_fixtures import OFFICE, Office


def test_alarm_sends_queued_text_and_poller_files_the_reply(qtbot: QtBot, office: Office,
                                                           sandbox_server: SandboxServer) -> None:
    svc = office.services
    office.clock.set(datetime.now(UTC))  # the real alarm clock runs on real time here
    # Real time may be night in New York: quiet hours are tested in test_consent.py.
    svc.settings.set(office.admin, "quiet_hours", "off")
    window = build_main_window(svc, office.staff)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.background.polled, timeout=15000):  # the start-up poll
        work = start_background(svc, window)
    try:
        with qtbot.waitSignal(window.background.outbound_changed, timeout=15000):
            svc.outbound.send(office.staff, office.matter_id, "+12125550123", "Are you free?")
        assert office.server_bodies() == ["Are you free?"]

        sandbox_server.inject_inbound("+12125550123", OFFICE, "Yes, after 3pm",
                                      date_sent=datetime.now(UTC) + timedelta(seconds=1))
        with qtbot.waitSignal(window.background.inbound_changed, timeout=15000) as blocker:
            work.poll_now()
        report = blocker.args[0]
        assert report.new_inbound_ids and office.matter_id in report.filed_matter_ids
        qtbot.waitUntil(lambda: "never" not in window.poll_label.text())
        # Pat is the case's primary assignee and the one signed in: the tray tells her.
        assert window.tray is not None
        assert window.tray.last_message == "New reply on case 25-000001"
        rows = svc.inbound.received.rows(actor=SYSTEM)
        assert rows[0].text == "Yes, after 3pm" and rows[0].case_numbers == ["25-000001"]
    finally:
        work.shutdown()
        window.close()
