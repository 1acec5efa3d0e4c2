"""Opening a matter: its window shows the header, the four tabs and the notes as plain text."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot

from desktop_sms.db.models import CaseNote
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.windows.main_window import MainWindow


def open_by_filter(qtbot: QtBot, window: MainWindow, text: str) -> int:
    """Filter the case list to one matter, open it with Enter; returns its id."""
    page = window.cases_page
    window.show_page("Cases")  # Home is the first page after sign-in
    qtbot.keyClicks(page.filter_edit, text)
    qtbot.waitUntil(lambda: page.model.filter_text() == text and page.model.rowCount() == 1)
    matter_id = page.model.matter_id_at(0)
    assert matter_id is not None
    page.select_row(0)
    page.table.setFocus()
    with qtbot.waitSignal(window.matter_view_opened):
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    return matter_id


def test_opening_a_matter_shows_header_and_tabs(qtbot: QtBot, main_window: MainWindow,
                                                services: Services, demo_actor: Actor) -> None:
    detail = services.matters.page("212.555.0123")[0]
    services.matters.set_consent(demo_actor, detail.id, "yes")
    with services.db.transaction() as s:
        s.add(CaseNote(matter_id=detail.id, subject="Reply from client",
                       body="<b>not bold</b> & <img src=x>", created_at=datetime.now(UTC),
                       author_id=demo_actor.user_id))

    matter_id = open_by_filter(qtbot, main_window, "212.555.0123")
    assert matter_id == detail.id
    view = main_window.matter_view(matter_id)
    assert view is not None
    qtbot.waitExposed(view)
    assert view.client_label.text() == detail.client_name
    assert view.case_number_label.text() == f"Case {detail.case_number}"
    assert view.mobile_label.text() == "+1 212 555 0123"
    assert view.stage_label.text() == detail.stage
    assert view.consent_label.text().startswith("Yes — recorded by Alex Admin on ")
    assert view.tab_names() == ["Notes", "Documents", "SMS log", "Tasks & events"]
    # Client text is never interpreted as rich text.
    assert all(label.textFormat() == Qt.TextFormat.PlainText
               for label in view.findChildren(QLabel) if label.text() == detail.client_name)
    assert "<b>not bold</b> & <img src=x>" in view.notes_pane.plain_text()

    # One window per matter: opening it again brings back the same window.
    assert main_window.open_matter(matter_id) is view
    assert len(main_window.matter_views()) == 1


def test_every_action_is_connected_by_a_feature(qtbot: QtBot, main_window: MainWindow) -> None:
    opened: list[int] = []
    main_window.matter_view_opened.connect(
        lambda view: view.send_sms_requested.connect(opened.append))
    view = main_window.open_matter(main_window.cases_page.model.matter_id_at(0))
    assert view.send_sms_action.isEnabled()
    for action in (view.add_task_action, view.send_sms_action):
        assert action.isEnabled() and action.toolTip() != "Coming soon"
    view.send_sms_action.trigger()
    assert opened == [view.matter_id]

    replacement = QLabel("the SMS log")
    view.set_tab("SMS log", replacement)
    assert view.tab("SMS log") is replacement
    assert view.tab_names() == ["Notes", "Documents", "SMS log", "Tasks & events"]


def test_edit_case_updates_the_header_and_the_list(qtbot: QtBot, main_window: MainWindow) -> None:
    matter_id = main_window.cases_page.model.matter_id_at(0)
    view = main_window.open_matter(matter_id)
    dialog = view.edit_case()
    qtbot.waitExposed(dialog)
    dialog.client_name.setText("Renamed Client")
    with qtbot.waitSignal(view.matter_changed):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save),
                         Qt.MouseButton.LeftButton)
    assert view.client_label.text() == "Renamed Client"
    model = main_window.cases_page.model
    assert model.data(model.index(0, 1)) == "Renamed Client"
