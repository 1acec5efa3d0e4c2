"""The Home page's alert block (docs/product.md F12): who sees which reply, Open, Dismiss for everybody."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel
from pytestqt.qtbot import QtBot

from desktop_sms.db.database import Database
from desktop_sms.providers.base import ProviderMessage
from desktop_sms.services.common import SYSTEM, Actor
from desktop_sms.services.container import Services, build_services
from desktop_sms.ui.admin_integration import AdminIntegration, install_admin
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.windows.home_page import EMPTY_TEXT, HomePage
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.clock import FakeClock
from tests.test_matcher import add_matter, add_user, assign
from tests.test_ui_preferences import click

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
CLIENT = "+12125550123"
PRESCREEN_CLIENT = "+13125550111"
_sids = count(1)


class NoMedia:
    """A provider stub: replies without media never touch it."""


def file_reply(services: Services, sender: str, body: str) -> None:
    """Store and file a reply as the poller would."""
    message = ProviderMessage(sid=f"SM{next(_sids):032d}", direction="inbound", from_=sender,
                              to="+12125550100", body=body, status="received",
                              date_sent=services.clock() - timedelta(minutes=3))
    services.inbound.ingest.ingest(message, NoMedia())  # type: ignore[arg-type]


def home_for(qtbot: QtBot, services: Services, user_id: int, runner: TaskRunner) -> HomePage:
    page = HomePage(services.inbound.alerts, Actor(user_id, f"user{user_id}"), runner,
                    services.clock)
    qtbot.addWidget(page)
    page.show()
    return page


def refreshed(qtbot: QtBot, page: HomePage) -> int:
    with qtbot.waitSignal(page.refreshed) as done:
        page.refresh()
    return int(done.args[0])


@pytest.fixture
def office(sqlite_db: Database) -> tuple[Services, dict[str, int]]:
    """One matter with four kinds of assignee, and a prescreen; a reply filed on each."""
    services = build_services(sqlite_db, FakeClock(NOW))
    matter = add_matter(sqlite_db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1),
                        client="Maria Garcia")
    users = {name: add_user(sqlite_db, name) for name in ("ann", "bob", "cat", "dan", "eve")}
    assign(sqlite_db, matter, users["ann"], "primary")
    assign(sqlite_db, matter, users["bob"], "other")
    assign(sqlite_db, matter, users["cat"], "primary", TODAY - timedelta(days=1))  # ended
    assign(sqlite_db, matter, users["dan"], "other", TODAY + timedelta(days=30))  # ends later
    add_matter(sqlite_db, "PS-000002", stage="prescreen", mobile=PRESCREEN_CLIENT)
    file_reply(services, CLIENT, "Yes <b>Monday</b> works & thanks")
    file_reply(services, PRESCREEN_CLIENT, "Who is this?")  # no assignments: nobody's alert
    return services, users


# user → sees the alert with scope primary, with scope all (eve is on no matter)
VISIBILITY = {"ann": (True, True), "bob": (False, True), "cat": (False, False),
              "dan": (False, True), "eve": (False, False)}


@pytest.mark.parametrize("scope", ["primary", "all"])
def test_home_block_shows_only_current_assignments_per_scope(
        qtbot: QtBot, office: tuple[Services, dict[str, int]], scope: str) -> None:
    services, users = office
    services.settings.set(SYSTEM, "alert_scope", scope)
    runner = TaskRunner()
    for name, (primary_sees, all_sees) in VISIBILITY.items():
        sees = primary_sees if scope == "primary" else all_sees
        page = home_for(qtbot, services, users[name], runner)
        assert refreshed(qtbot, page) == (1 if sees else 0), name
        assert page.table.isVisible() is sees
        assert page.empty_label.isVisible() is not sees
        if sees:
            texts = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
            # plain text, exactly as sent (never rendered as rich text)
            assert texts[1:] == ["25-000001", "Maria Garcia", "(212) 555-0123",
                                 "Yes <b>Monday</b> works & thanks"]
            assert texts[0] == (NOW - timedelta(minutes=3)).astimezone().strftime("%H:%M")
            assert page.heading.text() == "Replies on your cases (1)"
        else:
            assert page.empty_label.text() == EMPTY_TEXT


def test_dismissal_by_one_user_hides_the_alert_for_another(
        qtbot: QtBot, office: tuple[Services, dict[str, int]]) -> None:
    services, users = office
    services.settings.set(SYSTEM, "alert_scope", "all")
    file_reply(services, CLIENT, "One more thing")
    runner = TaskRunner()
    ann = home_for(qtbot, services, users["ann"], runner)
    bob = home_for(qtbot, services, users["bob"], runner)
    assert refreshed(qtbot, ann) == 2 and refreshed(qtbot, bob) == 2
    newest = ann.alert_rows()[0]
    assert newest.snippet == "One more thing"  # newest first

    ann.select_alert(newest.id)
    click(qtbot, ann.dismiss_button)  # asks first
    box = ann.confirm_box
    assert box is not None and "everyone" in box.text()
    dismiss = next(b for b in box.buttons() if b.text() == "&Dismiss")
    with qtbot.waitSignal(ann.count_changed) as changed:
        click(qtbot, dismiss)
    assert changed.args == [1]
    assert [r.snippet for r in ann.alert_rows()] == ["Yes <b>Monday</b> works & thanks"]
    assert refreshed(qtbot, bob) == 1
    assert [r.id for r in bob.alert_rows()] == [r.id for r in ann.alert_rows()]
    entries = services.audit.entries(SYSTEM, action="alert.dismiss")
    assert [(e.username, e.detail) for e in entries] == [("ann", "case 25-000001")]


def test_home_page_in_the_main_window(qtbot: QtBot, main_window: MainWindow,
                                      services: Services, demo_actor: Actor) -> None:
    db = services.db
    mine = add_matter(db, "26-900001", mobile=CLIENT, intake=date(2026, 1, 2), client="Ruth Cohen")
    theirs = add_matter(db, "26-900002", mobile="+12125550124", intake=date(2026, 1, 3))
    assert demo_actor.user_id is not None
    assign(db, mine, demo_actor.user_id, "primary")
    assign(db, theirs, demo_actor.user_id, "other")
    file_reply(services, CLIENT, "first")
    file_reply(services, "+12125550124", "to the other assignee")

    install_admin(main_window)
    integration = main_window.findChild(AdminIntegration)
    assert integration is not None
    home = main_window.page("Home")
    assert isinstance(home, HomePage) and home is integration.home
    main_window.background.inbound_changed.emit(None)  # as the poller does after filing
    qtbot.waitUntil(lambda: home.count() == 1)
    nav_home = main_window.nav.item(0)
    assert nav_home.text() == "Home"  # pages are found by this text
    qtbot.waitUntil(lambda: nav_home.toolTip() == "1 new reply on your cases")
    assert not nav_home.icon().isNull()

    # the poller files another reply: the block refreshes
    file_reply(services, CLIENT, "second")
    main_window.background.inbound_changed.emit(None)
    qtbot.waitUntil(lambda: home.count() == 2)
    assert [r.snippet for r in home.alert_rows()] == ["second", "first"]
    # switching the scope to all assignments shows the other matter's reply at once
    services.settings.set(demo_actor, "alert_scope", "all")
    qtbot.waitUntil(lambda: home.count() == 3)
    assert integration.home_count == 3

    main_window.show_page("Home")
    home.select_alert(next(r.id for r in home.alert_rows() if r.matter_id == mine))
    with qtbot.waitSignal(main_window.matter_view_opened):
        click(qtbot, home.open_button)
    assert main_window.matter_view(mine) is not None

    # double-click opens too
    row = next(i for i, r in enumerate(home.alert_rows()) if r.matter_id == theirs)
    rect = home.table.visualRect(home.table.model().index(row, 1))
    with qtbot.waitSignal(main_window.matter_view_opened):
        # QTest's double click needs the press before it, as a person's has
        qtbot.mouseClick(home.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(home.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert main_window.matter_view(theirs) is not None

    upcoming = QLabel("Dentist at 3")
    home.set_upcoming_widget(upcoming)
    assert upcoming.parent() is home.upcoming_box


def test_preferences_menu_opens_the_dialog_once(qtbot: QtBot, main_window: MainWindow,
                                                services: Services) -> None:
    from tests.helpers.outbound_fixtures import MemoryCredentialStore

    services.credentials = MemoryCredentialStore()  # never the real keyring in tests
    install_admin(main_window)
    integration = main_window.findChild(AdminIntegration)
    assert integration is not None
    main_window.preferences_action.trigger()
    dialog = integration.preferences
    assert dialog is not None and dialog.isVisible() and not dialog.read_only_note.isVisible()
    main_window.preferences_action.trigger()
    assert integration.preferences is dialog  # raised, not a second one
    dialog.close_button.click()
    qtbot.waitUntil(lambda: integration.preferences is None)


def test_home_shows_the_upcoming_heading_once(qtbot: QtBot, main_window: MainWindow) -> None:
    home = main_window.page("Home")
    assert isinstance(home, HomePage)
    main_window.show_page("Home")
    qtbot.waitUntil(home.upcoming_box.isVisible)
    assert home.upcoming_widget.objectName() == "upcomingWidget"  # the calendar's block is in
    heading = "My upcoming tasks and events"
    labels = [w for w in home.findChildren(QLabel) if w.text() == heading and w.isVisible()]
    boxes = [w for w in home.findChildren(QGroupBox) if w.title() == heading and w.isVisible()]
    assert len(labels) + len(boxes) == 1
