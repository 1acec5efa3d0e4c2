"""The status bar warns when this computer's clock differs from Twilio's by more than a
minute (issue 14, reproduction 6; docs/media_and_clocks.md)."""

from __future__ import annotations

from datetime import timedelta

from pytestqt.qtbot import QtBot

from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.container import Services
from desktop_sms.services.poller import Poller
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.clock import FakeClock

OFFICE = "+12125550100"


def _poll(services: Services, provider: TwilioProvider, desktop: FakeClock) -> object:
    poller = Poller(services.db, services.settings, lambda: provider, desktop,
                    ingest=services.poller.ingest)
    return poller.poll_once()


def test_status_bar_warns_of_a_fast_clock_then_of_a_slow_one_then_clears(
        qtbot: QtBot, main_window: MainWindow, services: Services,
        sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    services.settings.set(SYSTEM, "office_numbers", OFFICE)
    label = main_window.clock_label
    assert not label.isVisible()
    desktop = FakeClock(sandbox_clock() + timedelta(minutes=2))  # two minutes fast
    report = _poll(services, twilio_provider, desktop)
    with qtbot.waitSignal(main_window.background.polled, timeout=5000):
        main_window.background.report_poll(report)
    qtbot.waitUntil(label.isVisible, timeout=5000)
    assert "2 minutes ahead of Twilio's" in label.text()
    assert label.textFormat().name == "PlainText"

    desktop.set(sandbox_clock() - timedelta(minutes=5))  # now five minutes slow
    main_window.background.report_poll(_poll(services, twilio_provider, desktop))
    qtbot.waitUntil(lambda: "5 minutes behind Twilio's" in label.text(), timeout=5000)

    desktop.set(sandbox_clock() + timedelta(seconds=20))  # within a minute: no warning
    main_window.background.report_poll(_poll(services, twilio_provider, desktop))
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=5000)
    assert label.text() == ""


def test_received_log_names_a_photo_that_could_not_be_downloaded() -> None:
    from datetime import UTC, datetime

    from desktop_sms.services.received import ReceivedRow
    from desktop_sms.ui.models.received_model import ReceivedTableModel

    def row(media: int, pending: bool, missing: int) -> ReceivedRow:
        return ReceivedRow(1, datetime(2026, 3, 2, 15, 0, tzinfo=UTC), "+12125550123",
                           "+12125550123", "(212) 555-0123", OFFICE, "photo", media, pending,
                           False, (), False, missing)

    media_column = 3
    assert ReceivedTableModel.cells(row(1, True, 0))[media_column] == "1 (fetching)"
    assert ReceivedTableModel.cells(row(1, False, 1))[media_column] == \
        "1 (photo could not be downloaded)"
    assert ReceivedTableModel.cells(row(2, False, 2))[media_column] == \
        "2 (2 photos could not be downloaded)"
    assert ReceivedTableModel.cells(row(1, False, 0))[media_column] == "1"
