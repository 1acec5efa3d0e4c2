"""SMS → Received lists replies that could not be filed, with their reason; an administrator's
Try again files them once the cause is gone (docs/set_aside.md). Oversized replies show as
truncated in the Received Log and the case's SMS log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.ingest import MAX_FILING_ATTEMPTS
from desktop_sms.ui.inbound_integration import install_inbound
from desktop_sms.ui.widgets.sms_log_widget import SmsLogWidget
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import integration, matter_tab, poll, shown
from tests.test_set_aside import allow_poison, refuse_poison

CLIENT = "+12125550123"


@pytest.fixture
def admin_window(qtbot: QtBot, ui_office: Office) -> Iterator[MainWindow]:
    w = build_main_window(ui_office.services, ui_office.admin)
    install_inbound(w)
    yield from shown(qtbot, w)


def test_set_aside_reply_is_listed_and_try_again_files_it(
        qtbot: QtBot, admin_window: MainWindow, ui_office: Office,
        sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    db = ui_office.services.db
    start = ui_office.clock() - timedelta(hours=1)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "good one", date_sent=start)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "poison pill", date_sent=start + timedelta(minutes=1))
    sandbox_server.inject_inbound(CLIENT, OFFICE, "good two", date_sent=start + timedelta(minutes=2))
    refuse_poison(db)
    poller = ui_office.services.inbound.poller(lambda: twilio_provider)
    for _ in range(MAX_FILING_ATTEMPTS):
        report = poller.poll_once()
        assert len(report.errors) == 1
        admin_window.background.report_poll(report)
    page = integration(admin_window).received_page
    assert page is not None
    admin_window.show_page("SMS")
    admin_window.page("SMS").show_tab("Received")  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and page.set_aside_list.count() == 1)
    assert page.set_aside_box.isVisible()
    assert page.set_aside_label.text() == "1 reply could not be filed"
    line = page.set_aside_list.item(0).text()
    assert "from (212) 555-0123" in line and "poison refused" in line and "“poison pill”" in line
    assert page.try_again_button.isVisible() and page.try_again_button.isEnabled()

    # While the cause remains, Try again says so and the message stays listed.
    with qtbot.waitSignal(page.action_failed) as failed:
        qtbot.mouseClick(page.try_again_button, Qt.MouseButton.LeftButton)
    assert "still could not be filed" in str(failed.args[0])
    qtbot.waitUntil(page.error_label.isVisible)
    qtbot.waitUntil(lambda: page.set_aside_list.count() == 1 and page.try_again_button.isEnabled())

    # The cause gone, Try again files it: it leaves the list and joins the log on the case.
    allow_poison(db)
    with qtbot.waitSignal(page.links_changed):
        qtbot.mouseClick(page.try_again_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.set_aside_list.count() == 0 and page.model.rowCount() == 3)
    assert not page.set_aside_box.isVisible()
    texts = {r.text: r for r in page.model.rows()}
    assert texts["poison pill"].case_numbers == ["25-000001"]


def test_staff_see_set_aside_replies_without_try_again(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    refuse_poison(ui_office.services.db)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "poison", date_sent=ui_office.clock()
                                  - timedelta(hours=1))
    poller = ui_office.services.inbound.poller(lambda: twilio_provider)
    for _ in range(MAX_FILING_ATTEMPTS):
        window.background.report_poll(poller.poll_once())
    page = integration(window).received_page
    assert page is not None
    window.show_page("SMS")
    window.page("SMS").show_tab("Received")  # type: ignore[union-attr]
    page.refresh()
    qtbot.waitUntil(lambda: page.set_aside_list.count() == 1)
    assert page.set_aside_label.text() == ("1 reply could not be filed — an administrator can "
                                           "try again")
    assert not page.try_again_button.isVisible()


def test_an_oversized_reply_shows_as_truncated(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    sandbox_server.inject_inbound(CLIENT, OFFICE, "long " * 20_000,
                                  date_sent=ui_office.clock() - timedelta(hours=1))
    poll(ui_office, twilio_provider, window)
    page = integration(window).received_page
    assert page is not None
    window.show_page("SMS")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert page.select_message(page.model.rows()[0].id)
    assert page.detail_heading.text().endswith("truncated: the text was longer than 64 KB")
    log = matter_tab(qtbot, window, ui_office.matter_id, "SMS log", SmsLogWidget)
    qtbot.waitUntil(lambda: len(log.bubbles) == 1)
    assert "truncated: the text was longer than 64 KB" in log.bubbles[0].status.text()
