"""SMS → Queue: lists waiting texts, filters them, cancels with confirmation, sends missed ones."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.ui.models.queue_model import COLUMNS
from desktop_sms.ui.outbound_integration import install_outbound, outbound_ui
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.queue_page import REFRESH_INTERVAL_MS, QueuePage
from desktop_sms.ui.windows.sms_page import SmsPage, sms_page_for
from tests.helpers.outbound_fixtures import Office
from tests.helpers.ui_office import second_matter

MOBILE = "(212) 555-0123"


@pytest.fixture
def office_window(office_window: MainWindow) -> MainWindow:
    """The office's main window (tests/helpers/ui_office.py), showing SMS → Queue."""
    office_window.show_page("SMS")
    return office_window


def queue_page(window: MainWindow) -> QueuePage:
    page = sms_page_for(window).tab("Queue")
    assert isinstance(page, QueuePage)
    return page


def refreshed(qtbot: QtBot, window: MainWindow, count: int) -> QueuePage:
    """Announce a change as the dispatcher would; wait for the page to show `count` rows."""
    page = queue_page(window)
    window.background.outbound_changed.emit()
    qtbot.waitUntil(lambda: page.model.rowCount() == count and not page._refreshing)
    return page


def test_the_sms_page_holds_the_queue_tab(qtbot: QtBot, office_window: MainWindow) -> None:
    sms = office_window.page("SMS")
    assert isinstance(sms, SmsPage) and sms_page_for(office_window) is sms
    assert sms.tab_names().count("Queue") == 1  # other SMS features add their own tabs
    assert office_window.current_page_name() == "SMS" and queue_page(office_window).isVisible()
    assert queue_page(office_window).refresh_timer.interval() == REFRESH_INTERVAL_MS
    tabs = sms.tab_names()
    install_outbound(office_window)  # a second call adds nothing
    assert sms.tab_names() == tabs
    assert office_window.sms_menu.actions().count(outbound_ui(office_window).phone_action) == 1


def test_cancel_a_scheduled_text_with_confirmation(qtbot: QtBot, office: Office,
                                                   office_window: MainWindow) -> None:
    when = office.clock() + timedelta(hours=2)
    message_id = office.services.outbound.send(office.staff, office.matter_id, MOBILE,
                                               "See you Thursday", send_at=when)
    page = refreshed(qtbot, office_window, 1)
    assert [page.model.index(0, c).data() for c in range(8)] == [
        when.astimezone().strftime("%Y-%m-%d %H:%M"), "Scheduled", MOBILE, "25-000001",
        "Maria Garcia", "Pat Paralegal", "", "See you Thursday"]
    assert not page.cancel_button.isEnabled()

    # "Keep them" changes nothing.
    page.select_ids([message_id])
    assert page.cancel_button.isEnabled() and not page.send_now_button.isEnabled()
    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None and box.isVisible() and "Maria Garcia (25-000001)" in box.text()
    box.button(QMessageBox.StandardButton.No).click()
    assert office.services.outbound.queue()[0].state == "scheduled"

    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None
    with qtbot.waitSignal(page.action_finished) as finished:
        box.button(QMessageBox.StandardButton.Yes).click()
    assert finished.args[0].startswith("Canceled: Maria Garcia (25-000001), ")
    assert page.result_label.isVisible() and page.result_label.text() == finished.args[0]
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)
    assert office.services.outbound.queue() == []
    office.clock.advance(hours=3)
    office.services.dispatcher.run_due()
    assert office.server_bodies() == []  # a canceled text is never sent


def test_a_text_sent_meanwhile_is_refused_with_the_reason(qtbot: QtBot, office: Office,
                                                          office_window: MainWindow) -> None:
    sent_id = office.services.outbound.send(office.staff, office.matter_id, MOBILE, "Now")
    later_id = office.services.outbound.send(office.staff, office.matter_id, MOBILE, "Later",
                                             send_at=office.clock() + timedelta(hours=1))
    page = refreshed(qtbot, office_window, 2)
    page.select_ids([sent_id, later_id])
    assert page.selected_ids() == [sent_id, later_id]
    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None and "these 2 texts" in box.text()

    # The dispatcher sends the first one while the question is on screen.
    office.services.dispatcher.run_due()
    assert office.server_bodies() == ["Now"]
    with qtbot.waitSignal(page.action_finished) as finished:
        box.button(QMessageBox.StandardButton.Yes).click()
    lines = finished.args[0].splitlines()
    assert lines[0].startswith("Canceled: Maria Garcia (25-000001), ")
    assert lines[1] == "Not canceled:"
    assert lines[2].endswith(f"Message {sent_id} can't be canceled: it has already been sent.")
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)
    assert office.server_bodies() == ["Now"]


def test_filters_mine_and_by_case_number(qtbot: QtBot, office: Office,
                                         office_window: MainWindow) -> None:
    other = second_matter(office, "Li Wei")
    later = office.clock() + timedelta(hours=1)
    mine = office.services.outbound.send(office.staff, office.matter_id, MOBILE, "a", later)
    theirs = office.services.outbound.send(office.admin, other, "(212) 555-0124", "b", later)
    page = refreshed(qtbot, office_window, 2)

    page.mine_checkbox.click()
    qtbot.waitUntil(lambda: [r.id for r in page.model.rows()] == [mine])
    page.mine_checkbox.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)

    qtbot.keyClicks(page.case_filter, "25-000002")  # an exact case number
    qtbot.waitUntil(lambda: [r.id for r in page.model.rows()] == [theirs])
    page.case_filter.setText("0001")  # part of one
    qtbot.waitUntil(lambda: [r.id for r in page.model.rows()] == [mine])
    page.case_filter.clear()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)


def test_send_now_for_a_missed_text(qtbot: QtBot, office: Office,
                                    office_window: MainWindow) -> None:
    message_id = office.services.outbound.send(office.staff, office.matter_id, MOBILE,
                                               "Were you able to call?",
                                               send_at=office.clock() + timedelta(minutes=5))
    office.clock.advance(hours=2)  # the desktop slept past the grace period
    office.services.dispatcher.run_due()
    page = refreshed(qtbot, office_window, 1)
    qtbot.waitUntil(lambda: page.model.index(0, 1).data() == "Missed")
    assert office.server_bodies() == []

    page.select_ids([message_id])
    assert page.send_now_button.isEnabled()
    with qtbot.waitSignal(page.action_finished) as finished:
        page.send_now_button.click()
    assert finished.args[0].startswith("Sending now: Maria Garcia (25-000001), ")
    qtbot.waitUntil(lambda: page.model.index(0, 1).data() == "Queued")
    office.services.dispatcher.run_due()
    assert office.server_bodies() == ["Were you able to call?"]
    office_window.background.outbound_changed.emit()
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)


def test_users_without_sms_access_never_see_it(qtbot: QtBot, office: Office,
                                               ui_config_dir: Path) -> None:
    clerk = office.services.users.add(office.admin, "clerk", "Front Desk", password="password1",
                                      sms_access=False).actor()
    window = build_main_window(office.services, clerk)
    install_outbound(window)
    qtbot.addWidget(window)
    ui = outbound_ui(window)
    assert ui is not None and ui.queue_page is None
    assert "SMS" not in window.page_names()
    assert not window.sms_menu.menuAction().isVisible()


def test_recipients_are_formatted_for_the_default_region(qtbot: QtBot, office: Office,
                                                         office_window: MainWindow) -> None:
    later = office.clock() + timedelta(hours=1)
    office.services.outbound.send(office.staff, office.matter_id, "+12125550130", "a", later)
    recipient = COLUMNS.index("Recipient")
    page = refreshed(qtbot, office_window, 1)
    assert page.model.index(0, recipient).data() == "(212) 555-0130"  # as the other views

    office.services.settings.set(office.admin, "default_region", "GB")
    page = refreshed(qtbot, office_window, 1)
    qtbot.waitUntil(lambda: page.model.index(0, recipient).data() == "+1 212-555-0130")
