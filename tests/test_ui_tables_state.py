"""Tables sort by any column through the query, and the window, column widths, sort order and
page last shown come back at the next start (QSettings in the test's own config folder)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QHeaderView
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.app import build_main_window
from desktop_sms.db.models import Matter
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.models.case_table_model import COLUMNS
from desktop_sms.ui.models.queue_model import COLUMNS as QUEUE_COLUMNS
from desktop_sms.ui.view_state import STATE_FILE, ui_settings
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import Office
from tests.helpers.ui_office import second_matter
from tests.test_ui_queue import queue_page

KEYS = [k for k, _ in COLUMNS]


def shown(window: MainWindow, column: str, n: int) -> list[str]:
    model = window.cases_page.model
    return [str(model.index(r, KEYS.index(column)).data()) for r in range(n)]


def test_cases_sort_by_any_column_through_the_query(
        qtbot: QtBot, main_window: MainWindow, services: Services) -> None:
    with services.db.session() as s:
        names = sorted(s.scalars(select(Matter.client_name)))
        numbers = sorted(s.scalars(select(Matter.case_number)))
    page = main_window.cases_page
    header = page.table.horizontalHeader()
    n = min(20, len(names))
    assert shown(main_window, "case_number", n) == numbers[::-1][:n]  # newest first

    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.rect().topLeft() + _section_center(header, KEYS.index("client_name")))
    qtbot.waitUntil(lambda: page.model.sort_order()[0] == "client_name")
    descending = page.model.sort_order()[1]
    expected = names[::-1] if descending else names
    assert shown(main_window, "client_name", n) == expected[:n]
    # The far end of the list is sorted too: the query orders every row, not the page in memory.
    last = page.model.rowCount() - 1
    assert page.model.row_at(last).client_name == expected[-1]  # type: ignore[union-attr]

    header.setSortIndicator(KEYS.index("intake_date"), Qt.SortOrder.AscendingOrder)
    dates = shown(main_window, "intake_date", n)
    assert dates == sorted(dates)
    # Texts cannot be sorted by the query: the order and indicator stay.
    header.setSortIndicator(KEYS.index("texts"), Qt.SortOrder.AscendingOrder)
    assert page.model.sort_order() == ("intake_date", False)
    assert header.sortIndicatorSection() == KEYS.index("intake_date")


def _section_center(header: QHeaderView, index: int) -> QPoint:
    x = header.sectionViewportPosition(index) + header.sectionSize(index) // 2
    return QPoint(x, header.height() // 2)


def test_window_widths_sort_and_page_come_back(
        qtbot: QtBot, main_window: MainWindow, services: Services, demo_actor: Actor,
        ui_config_dir: Path) -> None:
    main_window.showNormal()
    main_window.resize(760, 560)  # within the 800×800 offscreen screen (restore clamps to it)
    # The window may not go below its minimum size: what it really had is what comes back.
    size = (main_window.width(), main_window.height())
    assert size[1] == 560
    page = main_window.cases_page
    page.table.setColumnWidth(KEYS.index("client_name"), 333)
    page.table.horizontalHeader().setSortIndicator(KEYS.index("stage"),
                                                   Qt.SortOrder.AscendingOrder)
    main_window.show_page("SMS")
    main_window.close()
    assert (ui_config_dir / STATE_FILE).exists()
    assert ui_settings().value("mainWindow/page") == "SMS"
    assert ui_settings().format() == QSettings.Format.IniFormat

    again = build_main_window(services, demo_actor)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == size
    assert again.current_page_name() == "SMS"
    table = again.cases_page.table
    assert table.columnWidth(KEYS.index("client_name")) == 333
    assert again.cases_page.model.sort_order() == ("stage", False)
    assert table.horizontalHeader().sortIndicatorSection() == KEYS.index("stage")
    again.close()


def test_queue_sorts_by_a_column_through_the_query(
        qtbot: QtBot, office: Office, office_window: MainWindow) -> None:
    other = second_matter(office, "Aaron Able")
    svc = office.services
    later = office.clock() + timedelta(hours=2)
    svc.outbound.send(office.staff, office.matter_id, "(212) 555-0123", "First", later)
    svc.outbound.send(office.staff, other, "(212) 555-0124", "Second",
                      later + timedelta(hours=1))
    page = queue_page(office_window)
    office_window.background.outbound_changed.emit()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2 and not page._refreshing)
    assert [r.body for r in page.model.rows()] == ["First", "Second"]  # soonest first

    header = page.table.horizontalHeader()
    header.setSortIndicator(QUEUE_COLUMNS.index("Client"), Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: [r.client_name for r in page.model.rows()][0] == "Aaron Able")
    header.setSortIndicator(QUEUE_COLUMNS.index("Send time"), Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: [r.body for r in page.model.rows()] == ["Second", "First"])
    assert svc.outbound.queue(sort="Client")[0].client_name == "Aaron Able"
