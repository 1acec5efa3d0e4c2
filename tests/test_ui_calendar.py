"""Calendar UI: a task with a reminder added from a matter, seen in Calendar, sent, shown sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.db.database import Database
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.calendar import run_reminders_then_dispatch
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.demo import seed_demo
from desktop_sms.ui.calendar_integration import CalendarIntegration, install_calendar
from desktop_sms.ui.dialogs.calendar_item_dialog import CalendarItemDialog
from desktop_sms.ui.windows.calendar_page import CalendarPage, MatterCalendarTab
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.clock import FakeClock
from tests.helpers.outbound_fixtures import FixedProviderFactory, MemoryCredentialStore

NY = ZoneInfo("America/New_York")
ADMIN_MOBILE = "+12125550190"  # the demo admin's profile mobile


class Desk:
    """A signed-in main window over demo data, on a fake clock, texting the local server."""

    def __init__(self, services: Services, actor: Actor, clock: FakeClock, window: MainWindow,
                 calendar: CalendarIntegration, server: SandboxServer) -> None:
        self.services, self.actor, self.clock = services, actor, clock
        self.window, self.calendar, self.server = window, calendar, server


@pytest.fixture
def desk(qtbot: QtBot, sqlite_db: Database, sandbox_server: SandboxServer,
         twilio_provider: TwilioProvider, ui_config_dir: Path) -> Iterator[Desk]:
    clock = FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # Mon Mar 2, 10:00 in New York
    services = build_services(sqlite_db, clock, credentials=MemoryCredentialStore())
    factory = FixedProviderFactory(services.settings, lambda: twilio_provider)
    services.providers = factory
    services.dispatcher.provider_factory = factory
    services.calendar.tz = NY
    actor = seed_demo(services, history=False)  # an empty calendar to start from
    window = build_main_window(services, actor)
    qtbot.addWidget(window)
    integration = install_calendar(window, services, actor, window.runner)
    window.show()
    qtbot.waitExposed(window)
    yield Desk(services, actor, clock, window, integration, sandbox_server)
    window.close()


def rows(tree_item: QTreeWidgetItem | None, page: CalendarPage | MatterCalendarTab) -> list[list[str]]:
    """The texts of the top-level rows (tree_item None) or of a row's children."""
    tree = page.tree
    items = ([tree.topLevelItem(i) for i in range(tree.topLevelItemCount())] if tree_item is None
             else [tree_item.child(i) for i in range(tree_item.childCount())])
    return [[item.text(c) for c in range(tree.columnCount())] for item in items]


def test_task_with_reminder_from_a_matter_shows_in_calendar_and_goes_out_once(
        qtbot: QtBot, desk: Desk) -> None:
    matter = desk.services.matters.page("")[0]
    page = desk.window.page("Calendar")
    assert isinstance(page, CalendarPage) and page is desk.calendar.page

    view = desk.window.open_matter(matter.id)
    qtbot.waitExposed(view)
    tab = view.tab("Tasks & events")
    assert isinstance(tab, MatterCalendarTab)
    assert view.add_task_action.isEnabled() and view.add_event_action.isEnabled()

    view.add_task_action.trigger()
    dialog = desk.calendar.dialog
    assert isinstance(dialog, CalendarItemDialog) and dialog.isVisible()
    assert dialog.case_edit.text() == matter.case_number and dialog.case_edit.isReadOnly()
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)

    # Refused without a title: the sentence shows and the dialog stays open.
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.error.text() == "The task needs a title."

    qtbot.keyClicks(dialog.title_edit, "File the answer")
    dialog.set_start(datetime(2026, 3, 3, 10, 0, tzinfo=NY))
    assert len(dialog.reminder_rows) == 1
    reminder = dialog.reminder_rows[0]
    reminder.amount.setValue(30)
    reminder.unit.setCurrentText("minutes")
    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)

    # The Calendar page (mine) and the matter's tab show it with its reminder, not yet sent.
    for where in (page, tab):
        qtbot.waitUntil(lambda w=where: len(rows(None, w)) == 1)
        top = rows(None, where)[0]
        assert top[0] == "Tue Mar 3, 10:00 AM"
        assert top[1] == "Task: File the answer"
        assert top[2] == matter.case_number
        assert top[3] == "Alex Admin"
        child = rows(where.tree.topLevelItem(0), where)
        assert child == [["Tue Mar 3, 9:30 AM", "Text reminder 30 minutes before", "",
                          "Alex Admin: waiting"]]

    # At the reminder time the alarm clock runs reminders then the dispatcher.
    desk.clock.set(datetime(2026, 3, 3, 14, 30, tzinfo=UTC))
    report = run_reminders_then_dispatch(desk.services.calendar, desk.services.dispatcher)
    desk.window.background.report_dispatch(report)  # what the alarm clock's callback does
    qtbot.waitUntil(lambda: rows(page.tree.topLevelItem(0), page)[0][3] == "Alex Admin: sent")
    assert rows(tab.tree.topLevelItem(0), tab)[0][3] == "Alex Admin: sent"
    texts = [(m["to"], m["body"]) for m in desk.server.messages()
             if m["direction"].startswith("outbound")]
    assert texts == [(ADMIN_MOBILE, "Reminder: File the answer at Tue Mar 3, 10:00 AM "
                                    f"(case {matter.case_number})")]


def test_calendar_page_adds_an_event_for_someone_else_and_toggles_mine_and_all(
        qtbot: QtBot, desk: Desk) -> None:
    page = desk.calendar.page
    ivy = desk.services.users.get("ivy")  # no mobile number on her profile
    qtbot.mouseClick(page.add_event_button, Qt.MouseButton.LeftButton)
    dialog = desk.calendar.dialog
    assert isinstance(dialog, CalendarItemDialog) and dialog.kind == "event"
    qtbot.keyClicks(dialog.title_edit, "Team meeting")
    dialog.set_start(datetime(2026, 3, 4, 14, 0, tzinfo=NY))
    dialog.set_end(datetime(2026, 3, 4, 15, 0, tzinfo=NY))
    qtbot.keyClicks(dialog.location_edit, "Room 2")
    attendees = dialog.attendee_list
    for i in range(attendees.count()):
        entry = attendees.item(i)
        mine = entry.data(Qt.ItemDataRole.UserRole) == ivy.id
        entry.setCheckState(Qt.CheckState.Checked if mine else Qt.CheckState.Unchecked)
    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save),
                         Qt.MouseButton.LeftButton)

    # Created by me, so it is in "mine" as well; another user's item is only in "everybody's".
    desk.services.calendar.create_task(
        ivy.actor(), "Ivy's own task", datetime(2026, 3, 5, 9, 0, tzinfo=NY),
        attendee_ids=[ivy.id])
    page.set_mine(True)
    qtbot.waitUntil(lambda: [r[1] for r in rows(None, page)] == ["Event: Team meeting (Room 2)"])
    page.set_mine(False)
    qtbot.waitUntil(lambda: [r[1] for r in rows(None, page)] == [
        "Event: Team meeting (Room 2)", "Task: Ivy's own task"])
    top = page.tree.topLevelItem(0)
    assert rows(top, page)[0][3] == "Ivy Intake: waiting"

    # Ivy has no mobile: when the reminder falls due, she is told why nothing was sent.
    desk.clock.set(datetime(2026, 3, 4, 18, 0, tzinfo=UTC))
    desk.services.calendar.run_due_reminders()
    desk.calendar.refresh()
    qtbot.waitUntil(lambda: rows(page.tree.topLevelItem(0), page)[0][3]
                    == "Ivy Intake: not sent: no mobile number on profile")
    assert desk.server.messages() == []

    # The Home block shows my upcoming items.
    block = desk.calendar.build_upcoming_widget()
    qtbot.addWidget(block)
    desk.clock.set(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    block.refresh()
    assert [block.tree.topLevelItem(i).text(1) for i in range(block.tree.topLevelItemCount())] == [
        "Event: Team meeting (Room 2)"]


def test_month_and_week_views_beside_the_list(qtbot: QtBot, desk: Desk) -> None:
    from datetime import date

    from PySide6.QtCore import QDate

    page = desk.window.page("Calendar")
    assert isinstance(page, CalendarPage)
    svc = desk.services.calendar
    task = svc.create_task(desk.actor, "File the answer", datetime(2026, 3, 3, 10, 0, tzinfo=NY))
    svc.create_event(desk.actor, "Hearing <b>room 4</b>", datetime(2026, 3, 5, 14, 0, tzinfo=NY),
                     datetime(2026, 3, 5, 15, 0, tzinfo=NY))
    desk.window.show_page("Calendar")
    page.set_mine(False)
    page.refresh()
    views = page.views
    assert views.isVisible() and views.tabText(0) == "&Month" and views.tabText(1) == "&Week"
    # Month: the days with items are marked, their titles in the day's tooltip (plain text).
    assert views.marked_days() == [date(2026, 3, 3), date(2026, 3, 5)]
    marked = views.month.dateTextFormat(QDate(2026, 3, 5))
    assert marked.fontUnderline() and "Hearing &lt;b&gt;room 4&lt;/b&gt;" in marked.toolTip()
    assert not views.month.dateTextFormat(QDate(2026, 3, 4)).fontUnderline()
    # Week: Monday to Sunday of the chosen day (today, Mon Mar 2), one line per item.
    views.setCurrentWidget(views.week)
    assert views.week_days()[0] == date(2026, 3, 2) and views.week_days()[6] == date(2026, 3, 8)
    cells = views.week_cells()
    assert cells[date(2026, 3, 3)] == ["10:00 AM File the answer"]
    assert cells[date(2026, 3, 5)] == ["2:00 PM Hearing <b>room 4</b>"]
    assert cells[date(2026, 3, 4)] == []
    # A double click on an item opens it, as in the list.
    column = views.week_days().index(date(2026, 3, 3))
    with qtbot.waitSignal(page.edit_requested) as opened:
        views.week.cellDoubleClicked.emit(0, column)
    assert opened.args == [task]
    # Choosing a day of another week in the month moves the week view there.
    views.show_day(date(2026, 3, 11))
    assert views.week_days()[0] == date(2026, 3, 9)
    assert all(not lines for lines in views.week_cells().values())
