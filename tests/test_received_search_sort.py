"""The Received Log's search and sorting are done by the query (SQLite and PostgreSQL), and the
page drives them from its search box and column headers off the GUI thread."""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_sms.db.database import Database
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.matters import MatterInput, MatterService
from desktop_sms.services.received import ReceivedLog
from desktop_sms.ui.models.received_model import COLUMNS
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import integration, poll
from tests.test_matcher import add_matter

STRANGER = "+13125550177"


def three_replies(server: SandboxServer, office: Office) -> None:
    start = office.clock()
    server.inject_inbound("(212) 555-0123", OFFICE, "Apples are ready",
                          date_sent=start + timedelta(minutes=1))
    server.inject_inbound(STRANGER, OFFICE, "Zebra crossing tomorrow",
                          date_sent=start + timedelta(minutes=2))
    server.inject_inbound(STRANGER, OFFICE, "Moving the hearing?",
                          date_sent=start + timedelta(minutes=3))


def test_search_and_sort_by_the_query(office: Office, sandbox_server: SandboxServer,
                                      twilio_provider: SmsProvider) -> None:
    svc = office.services
    svc.matters.save(office.admin, MatterInput("25-000001", "Maria Garcia", "intake",
                                               mobile="(212) 555-0123",
                                               intake_date=date(2026, 1, 9)))
    three_replies(sandbox_server, office)
    assert svc.inbound.poller(lambda: twilio_provider).poll_once().errors == []
    log = ReceivedLog(svc.db, region="US")

    def bodies(**kw: object) -> list[str]:
        return [r.text for r in log.rows(actor=office.admin, **kw)]  # type: ignore[arg-type]

    assert bodies() == ["Moving the hearing?", "Zebra crossing tomorrow", "Apples are ready"]
    assert bodies(sort_column="Received", descending=False) == [
        "Apples are ready", "Zebra crossing tomorrow", "Moving the hearing?"]
    assert bodies(sort_column="Text", descending=False) == [
        "Apples are ready", "Moving the hearing?", "Zebra crossing tomorrow"]
    assert bodies(sort_column="Text", descending=True)[0] == "Zebra crossing tomorrow"
    # Search: a word of the text (any case), the sender's digits, a case number it is filed on.
    assert bodies(search="HEARING") == ["Moving the hearing?"]
    assert bodies(search="312-555-0177") == ["Moving the hearing?", "Zebra crossing tomorrow"]
    assert bodies(search="25-000001") == ["Apples are ready"]
    assert bodies(search="zebra 0177") == ["Zebra crossing tomorrow"]
    assert bodies(search="nothing-like-this") == []
    assert log.count(search="0177") == 2 and log.count() == 3


def test_page_searches_and_sorts_from_its_header(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    three_replies(sandbox_server, ui_office)
    poll(ui_office, twilio_provider, window)
    window.show_page("SMS")
    page = integration(window).received_page
    assert page is not None
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)

    def texts() -> list[str]:
        return [r.text for r in page.model.rows()]

    header = page.table.horizontalHeader()
    with qtbot.waitSignal(page.refreshed):
        header.setSortIndicator(COLUMNS.index("Text"), Qt.SortOrder.AscendingOrder)
    assert texts() == ["Apples are ready", "Moving the hearing?", "Zebra crossing tomorrow"]
    # A column the query cannot sort by keeps the previous order and indicator.
    header.setSortIndicator(COLUMNS.index("Cases"), Qt.SortOrder.AscendingOrder)
    assert header.sortIndicatorSection() == COLUMNS.index("Text")
    assert page.sort_order() == ("Text", False)

    with qtbot.waitSignal(page.refreshed, timeout=3000):
        qtbot.keyClicks(page.search_edit, "hearing")
    qtbot.waitUntil(lambda: texts() == ["Moving the hearing?"])
    assert page.count_label.text().startswith("1 received")
    with qtbot.waitSignal(page.refreshed, timeout=3000):
        page.search_edit.clear()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)


def test_case_list_sorts_by_any_column_in_the_query(db: Database) -> None:
    add_matter(db, "25-000001", client="Carla Diaz", intake=date(2025, 3, 1))
    add_matter(db, "25-000002", client="Ann Smith", intake=date(2025, 1, 1))
    add_matter(db, "25-000003", client="Bob Jones", intake=date(2025, 2, 1))
    matters = MatterService(db)

    def numbers(**kw: object) -> list[str]:
        return [m.case_number for m in matters.page(**kw)]  # type: ignore[arg-type]

    assert numbers() == ["25-000003", "25-000002", "25-000001"]  # newest number first
    assert numbers(sort="client_name", descending=False) == ["25-000002", "25-000003",
                                                            "25-000001"]
    assert numbers(sort="intake_date", descending=True) == ["25-000001", "25-000003",
                                                           "25-000002"]
    # Paging follows the order: the second window starts where the first ended.
    assert [m.case_number for m in matters.page(sort="client_name", descending=False,
                                                offset=1, limit=1)] == ["25-000003"]
    assert numbers(sort="not a column") == numbers()
