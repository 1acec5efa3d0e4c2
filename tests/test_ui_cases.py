"""The Cases page: filter-as-you-type by phone or name, My cases, paging, New case…."""

from __future__ import annotations

from datetime import UTC, date, datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot
from sqlalchemy import insert

from desktop_sms.db.models import Matter
from desktop_sms.services.container import Services
from desktop_sms.services.matters import MatterRow
from desktop_sms.ui.models.case_table_model import MAX_WINDOWS, WINDOW, CaseTableModel
from desktop_sms.ui.windows.cases_page import CasesPage
from desktop_sms.ui.windows.main_window import MainWindow

CLIENT, MOBILE, PRIMARY = 1, 3, 7


def column(page: CasesPage, col: int) -> list[str]:
    model = page.model
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def test_filter_finds_a_matter_by_any_phone_form(qtbot: QtBot, main_window: MainWindow) -> None:
    page = main_window.cases_page
    total = page.model.rowCount()
    assert total == 51
    qtbot.keyClicks(page.filter_edit, "212.555.0123")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert column(page, MOBILE) == ["+1 212 555 0123"]
    assert page.count_label.text() == "1 case"

    page.filter_edit.clear()
    qtbot.waitUntil(lambda: page.model.rowCount() == total)
    qtbot.keyClicks(page.filter_edit, "(212) 555-0123")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert column(page, MOBILE) == ["+1 212 555 0123"]


def test_filter_finds_a_matter_by_client_name(qtbot: QtBot, main_window: MainWindow) -> None:
    page = main_window.cases_page
    qtbot.keyClicks(page.filter_edit, "keisha br")
    qtbot.waitUntil(lambda: page.model.filter_text() == "keisha br")
    names = column(page, CLIENT)
    assert names and all("keisha br" in n.lower() for n in names)
    assert page.model.rowCount() < 51


def test_my_cases_narrows_the_list_to_the_users_assignments(qtbot: QtBot,
                                                            main_window: MainWindow) -> None:
    page = main_window.cases_page
    total = page.model.rowCount()
    qtbot.mouseClick(page.mine_checkbox, Qt.MouseButton.LeftButton)
    assert page.mine_checkbox.isChecked()
    qtbot.waitUntil(lambda: 0 < page.model.rowCount() < total)
    assert set(column(page, PRIMARY)) == {"Alex Admin"}
    assert page.count_label.text() == f"{page.model.rowCount()} cases"
    qtbot.mouseClick(page.mine_checkbox, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == total)


class CountingMatters:
    """Passes queries to MatterService and records each page() request."""

    def __init__(self, services: Services) -> None:
        self.inner = services.matters
        self.pages: list[tuple[int, int]] = []

    def count(self, text: str = "", mine_user_id: int | None = None) -> int:
        return self.inner.count(text, mine_user_id)

    def page(self, text: str = "", mine_user_id: int | None = None, *, offset: int = 0,
             limit: int = 200) -> list[MatterRow]:
        self.pages.append((offset, limit))
        return self.inner.page(text, mine_user_id, offset=offset, limit=limit)


def test_model_over_5000_matters_loads_windows_not_everything(qtbot: QtBot,
                                                              services: Services) -> None:
    now = datetime.now(UTC)
    with services.db.transaction() as s:
        s.execute(insert(Matter), [
            {"case_number": f"25-{i:06d}", "client_name": f"Client {i}", "stage": "intake",
             "mobile_raw": f"+1 212 555 {i % 10000:04d}", "mobile_e164": f"+1212555{i % 10000:04d}",
             "intake_date": date(2025, 1, 1), "consent": "not_asked", "created_at": now,
             "updated_at": now} for i in range(5000)])
    queries = CountingMatters(services)
    model = CaseTableModel(queries)
    assert model.rowCount() == 5000
    assert model.cached_row_count() == 0 and queries.pages == []

    assert model.data(model.index(0, 0)) == "25-004999"
    assert model.cached_row_count() == WINDOW
    assert model.data(model.index(4999, 0)) == "25-000000"
    assert model.cached_row_count() == 2 * WINDOW
    assert all(limit == WINDOW for _, limit in queries.pages)

    # Reading every row (as a scroll to the end would) never holds more than MAX_WINDOWS.
    for row in range(0, 5000, 50):
        model.data(model.index(row, 1))
    assert model.cached_row_count() <= MAX_WINDOWS * WINDOW < 5000
    assert len(queries.pages) == 5000 // WINDOW + 1  # each window fetched once (+ the revisit)

    from PySide6.QtWidgets import QTableView

    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    qtbot.waitExposed(view)
    view.scrollToBottom()
    qtbot.waitUntil(lambda: model.cached_row_count() > 0)
    assert model.cached_row_count() <= MAX_WINDOWS * WINDOW


def test_new_case_form_shows_validation_errors_and_saves(qtbot: QtBot,
                                                         main_window: MainWindow) -> None:
    page = main_window.cases_page
    before = page.model.rowCount()
    dialog = page.new_case()
    qtbot.waitExposed(dialog)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.keyClicks(dialog.case_number, "26-900001")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible()
    assert dialog.error.text() == "The client name is missing."

    qtbot.keyClicks(dialog.client_name, "Ana <b>Lima</b>")
    qtbot.keyClicks(dialog.mobile, "212 555 01")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.error.text().startswith("The mobile phone")

    dialog.mobile.clear()
    qtbot.keyClicks(dialog.mobile, "212.555.0177")
    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert page.model.rowCount() == before + 1
    qtbot.keyClicks(page.filter_edit, "555 0177")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert column(page, CLIENT) == ["Ana <b>Lima</b>"]
