"""SMS → Received (docs/product.md F8): a reply from an unknown number needs review, is linked by hand
through Link to case…, and unlinked again — end to end through the local Twilio server."""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QMessageBox
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.matters import MatterInput
from desktop_sms.ui.inbound_integration import install_inbound
from desktop_sms.ui.models.received_model import COLUMNS
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.received_page import ReceivedPage
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import integration, poll

STRANGER = "+13125550177"


def cell(page: ReceivedPage, row: int, column: str) -> str:
    return str(page.model.index(row, COLUMNS.index(column)).data())


def click_row(qtbot: QtBot, page: ReceivedPage, row: int) -> None:
    index = page.model.index(row, COLUMNS.index("Text"))
    page.table.scrollTo(index)
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=page.table.visualRect(index).center())


def client_then_stranger(server: SandboxServer, office: Office, client_text: str,
                         stranger_text: str,
                         stranger_media: list[tuple[str, bytes]] | None = None) -> None:
    """A reply from the client's mobile (filed by rule), then one from a stranger."""
    start = office.clock()
    server.inject_inbound("(212) 555-0123", OFFICE, client_text,
                          date_sent=start + timedelta(minutes=1))
    server.inject_inbound(STRANGER, OFFICE, stranger_text, date_sent=start + timedelta(minutes=2),
                          media=stranger_media)


def test_unknown_sender_needs_review_then_is_linked_by_hand_and_unlinked(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    svc = ui_office.services
    other = svc.matters.save(ui_office.admin, MatterInput(
        "25-000002", "John Doe", "intake", mobile="(646) 555-0199",
        intake_date=date(2026, 1, 9)))
    assert window.page_names().count("SMS") == 1
    window.show_page("SMS")
    sms_page = window.page("SMS")
    page = integration(window).received_page
    assert page is not None and sms_page is not None
    assert sms_page.tab("Received") is page  # type: ignore[attr-defined]
    sms_page.show_tab("Received")  # type: ignore[attr-defined]

    sandbox_server.inject_inbound(STRANGER, OFFICE, "Is my hearing\nstill on Monday?",
                                  date_sent=ui_office.clock() + timedelta(minutes=3))
    report = poll(ui_office, twilio_provider, window)
    assert len(report.new_inbound_ids) == 1 and report.filed_matter_ids == []

    # The row: needs review, no case, text on one line; the count on the tab and the page.
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and page.needs_review_count == 1)
    assert cell(page, 0, "From") == "(312) 555-0177"
    assert cell(page, 0, "Text") == "Is my hearing still on Monday?"
    assert cell(page, 0, "Review") == "needs review"
    assert cell(page, 0, "Cases") == "" and cell(page, 0, "Media") == ""
    assert integration(window).needs_review_text() == "Received (1)"
    assert "1 needs review" in page.count_label.text()

    # The filter shows only messages that need review.
    with qtbot.waitSignal(page.refreshed):
        qtbot.mouseClick(page.needs_review_only, Qt.MouseButton.LeftButton)
    assert page.needs_review_only.isChecked() and page.model.rowCount() == 1
    assert page.count_label.text() == "1 need review"

    # Link to case…: search by case number, tick it, Link.
    assert not page.link_button.isEnabled()
    click_row(qtbot, page, 0)
    assert page.link_button.isEnabled() and not page.unlink_button.isEnabled()
    qtbot.mouseClick(page.link_button, Qt.MouseButton.LeftButton)
    dialog = page.link_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    with qtbot.waitSignal(dialog.search_finished):  # the sender's number: no case has it
        pass
    assert dialog.found_case_numbers() == [] and not dialog.ok_button.isEnabled()
    dialog.search_edit.clear()
    qtbot.keyClicks(dialog.search_edit, "doe")  # by name
    qtbot.waitUntil(lambda: dialog.found_case_numbers() == ["25-000002"])
    dialog.search_edit.clear()
    qtbot.keyClicks(dialog.search_edit, "25-000001")  # by number
    qtbot.waitUntil(lambda: dialog.found_case_numbers() == ["25-000001"])
    assert dialog.check_case("25-000001")
    assert dialog.chosen_matter_ids() == [ui_office.matter_id]
    with qtbot.waitSignal(dialog.linked), qtbot.waitSignal(page.refreshed):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    # Filed: it leaves the "needs review" list; without the filter it shows the case and rule.
    qtbot.waitUntil(lambda: page.model.rowCount() == 0 and page.needs_review_count == 0)
    assert integration(window).needs_review_text() == "Received"
    with qtbot.waitSignal(page.refreshed):
        page.needs_review_only.setChecked(False)
    assert page.model.rowCount() == 1
    assert cell(page, 0, "Cases") == "25-000001"
    assert cell(page, 0, "Rule") == "manual (Pat Paralegal)"
    assert cell(page, 0, "Review") == ""
    assert svc.inbound.received.rows(actor=SYSTEM)[0].rules == ["manual"]
    assert other not in [lk.matter_id
                         for lk in svc.inbound.received.rows(actor=SYSTEM)[0].links]

    # The matter's Notes show the note (plain text), not withdrawn.
    view = window.open_matter(ui_office.matter_id)
    tabs = integration(window).tabs_of(ui_office.matter_id)
    assert tabs is not None and view.tab("Notes") is tabs.notes
    qtbot.waitUntil(lambda: any(c.note.subject.startswith("SMS received from")
                                for c in tabs.notes.cards))
    card = next(c for c in tabs.notes.cards if c.note.subject.startswith("SMS received from"))
    assert card.body.text() == "Is my hearing\nstill on Monday?"
    assert card.body.textFormat() == Qt.TextFormat.PlainText
    assert not card.withdrawn and not card.withdrawn_label.isVisibleTo(card)

    # Unlink: select the message and its link, confirm; the note stays, marked withdrawn.
    window.raise_()
    click_row(qtbot, page, 0)
    assert page.select_link("25-000001") and page.unlink_button.isEnabled()
    qtbot.mouseClick(page.unlink_button, Qt.MouseButton.LeftButton)
    box = page.unlink_box
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    with qtbot.waitSignal(page.links_changed), qtbot.waitSignal(page.refreshed):
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(page, 0, "Review") == "needs review")
    assert cell(page, 0, "Cases") == "" and page.needs_review_count == 1
    assert integration(window).needs_review_text() == "Received (1)"
    qtbot.waitUntil(lambda: any(c.withdrawn for c in tabs.notes.cards))
    card = next(c for c in tabs.notes.cards if c.note.subject.startswith("SMS received from"))
    assert card.withdrawn_label.text() == "withdrawn" and card.withdrawn_label.isVisibleTo(card)
    assert "[withdrawn]" in tabs.notes.plain_text()


def test_received_log_is_newest_first_with_media_count_and_automatic_rules(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    client_then_stranger(sandbox_server, ui_office, "first <b>hi</b><img src=x>", "second",
                         [("text/plain", b"a note"), ("text/plain", b"another")])
    poll(ui_office, twilio_provider, window)
    page = integration(window).received_page
    assert page is not None
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert [cell(page, r, "Text") for r in (0, 1)] == ["second", "first <b>hi</b><img src=x>"]
    assert cell(page, 0, "Media") == "2" and cell(page, 0, "Review") == "needs review"
    assert cell(page, 1, "Cases") == "25-000001"
    assert cell(page, 1, "Rule") == "mobile phone on case"
    # The full text below the table is plain text, shown literally.
    click_row(qtbot, page, 1)
    assert page.detail_text.toPlainText() == "first <b>hi</b><img src=x>"
    assert page.links_list.count() == 1
    assert page.links_list.item(0).text() == "25-000001 — mobile phone on case"


def test_review_and_rule_columns_fit_their_contents(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    client_then_stranger(sandbox_server, ui_office, "filed by the rule", "needs a person")
    page = integration(window).received_page
    assert page is not None
    font = page.table.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)  # a large system font, as on Windows at 150 %
    page.table.setFont(font)
    with qtbot.waitSignal(page.refreshed):
        poll(ui_office, twilio_provider, window)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert cell(page, 0, "Review") == "needs review"
    assert cell(page, 1, "Rule") == "mobile phone on case"
    for name in ("Review", "Rule", "Cases", "From"):
        column = COLUMNS.index(name)
        # nothing elided: as wide as its widest cell (the bold "needs review" included)
        assert page.table.columnWidth(column) >= page.table.sizeHintForColumn(column), name
    header = page.table.horizontalHeader()
    assert header.sectionResizeMode(COLUMNS.index("Text")) == QHeaderView.ResizeMode.Stretch
    assert header.sectionResizeMode(COLUMNS.index("Rule")) == QHeaderView.ResizeMode.Interactive


def test_no_received_tab_without_sms_access(qtbot: QtBot, ui_office: Office) -> None:
    svc = ui_office.services
    svc.users.update(ui_office.admin, ui_office.staff.user_id, sms_access=False)
    no_sms = svc.users.by_id(ui_office.staff.user_id).actor()
    w = build_main_window(svc, no_sms)
    qtbot.addWidget(w)
    install_inbound(w)
    assert integration(w).received_page is None
    assert "SMS" not in w.page_names()
    # The case's tabs are still there (reading a case's SMS log needs no SMS access).
    view = w.open_matter(ui_office.matter_id)
    tabs = integration(w).tabs_of(ui_office.matter_id)
    assert tabs is not None and view.tab("SMS log") is tabs.sms_log
    w.close()
