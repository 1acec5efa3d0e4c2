"""Conversations as a user drives them (docs/conversations.md), against the local
Twilio-compatible server: read state and unread counts, reply where you read (Ctrl+Enter),
drafts, Home's Reply and Dismiss with Undo, Reply… on the Received Log, SMS → Sent, Search,
and Preferences asking before discarding typed changes."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.matters import MatterInput
from desktop_sms.ui.admin_integration import AdminIntegration
from desktop_sms.ui.conversations_ui import ConversationsUi, conversations_ui_of
from desktop_sms.ui.dialogs.compose_dialog import CONSENT_BLOCKER
from desktop_sms.ui.widgets.reply_box import ReplyBox
from desktop_sms.ui.widgets.sms_log_widget import SmsLogWidget
from desktop_sms.ui.windows.home_page import HomePage
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.received_page import ReceivedPage
from desktop_sms.ui.windows.sms_page import sms_page_for
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import CLIENT, matter_tab, outbound_ui_of, poll
from tests.test_ui_preferences import click


def conv_ui(window: MainWindow) -> ConversationsUi:
    ui = conversations_ui_of(window)
    assert ui is not None
    return ui


def home_of(window: MainWindow) -> HomePage:
    home = window.page("Home")
    assert isinstance(home, HomePage)
    return home


def client_texts(office: Office, server: SandboxServer, provider: SmsProvider,
                 window: MainWindow, body: str, sender: str = CLIENT) -> None:
    office.clock.advance(minutes=1)
    server.inject_inbound(sender, OFFICE, body, date_sent=office.clock())
    poll(office, provider, window)


def sms_log(qtbot: QtBot, window: MainWindow, matter_id: int) -> SmsLogWidget:
    return matter_tab(qtbot, window, matter_id, "SMS log", SmsLogWidget)


def reply_box_of(log: SmsLogWidget) -> ReplyBox:
    assert isinstance(log.footer, ReplyBox)
    return log.footer


def test_a_reply_is_new_until_opened_and_the_counts_follow(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    ui, mid = conv_ui(window), ui_office.matter_id
    client_texts(ui_office, sandbox_server, twilio_provider, window, "Is Monday still on?")
    # Home, the SMS page, the case list: one unread reply on Pat's case.
    home = home_of(window)
    qtbot.waitUntil(lambda: home.unread_label.text() == "1 unread reply on your cases")
    qtbot.waitUntil(lambda: home.count() == 1 and home.table.item(0, 5) is not None
                    and home.table.item(0, 5).text() == "New · Needs a response")
    assert home.table.item(0, 1).font().bold()
    heading = sms_page_for(window).findChild(QLabel, "pageHeading")
    assert heading is not None
    qtbot.waitUntil(lambda: heading.text() == "SMS — 1 unread reply on your cases")
    model = window.cases_page.model
    qtbot.waitUntil(lambda: model.mark_text(mid) == "1 unread · needs a response")

    # Pat opens the case's SMS log: the reply shows as new, and is read from now on.
    view = window.open_matter(mid)
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: ui.sms_log_tab_text(mid) == "SMS log (1)")
    with qtbot.waitSignal(ui.counts_changed, timeout=5000):
        view.tabs.setCurrentIndex(view.tab_index("SMS log"))
        log = view.tab("SMS log")
        assert isinstance(log, SmsLogWidget)
        qtbot.waitUntil(lambda: len(log.bubbles) == 1)
    qtbot.waitUntil(lambda: ui.counts.unread_mine == 0)
    assert log.bubbles[0].is_unread()  # still marked for this look
    assert ui.sms_log_tab_text(mid) == "SMS log"
    qtbot.waitUntil(lambda: heading.text() == "SMS")
    assert model.mark_text(mid) == "needs a response"
    qtbot.waitUntil(lambda: home.unread_label.text() == "No unread replies on your cases.")

    # Right-click → Mark as unread brings it back for Pat only.
    log.bubbles[0].customContextMenuRequested.emit(QPoint(10, 10))
    menu = log.bubble_menu
    assert menu is not None and [a.text() for a in menu.actions()] == ["Mark as &unread"]
    menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: ui.counts.unread_mine == 1)
    assert ui.sms_log_tab_text(mid) == "SMS log (1)"
    assert ui_office.services.conversations.unread_by_matter(
        ui_office.admin.user_id or 0) == {mid: 1}


def test_reply_in_the_sms_log_with_ctrl_enter(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    client_texts(ui_office, sandbox_server, twilio_provider, window, "Can you call me?")
    log = sms_log(qtbot, window, mid)
    box = reply_box_of(log)
    qtbot.waitUntil(lambda: box.detail is not None and box.needs_response)
    assert box.status_label.text() == "Needs a response" and box.done_button.isVisible()
    assert box.to_label.text() == "To (212) 555-0123"
    box.edit.setFocus()
    qtbot.keyClicks(box.edit, "Calling you at 3")
    box.edit.insertPlainText(" — Pat")  # QTest types ASCII only
    assert box.counter_label.text() == "22 characters · UCS-2 · 1 segment"
    with qtbot.waitSignal(box.sent, timeout=5000) as sent:
        qtbot.keyClick(box.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert box.body() == "" and not box.needs_response
    assert svc.dispatcher.run_due().sent == [sent.args[0]]
    assert ui_office.server_bodies(CLIENT) == ["Calling you at 3 — Pat"]
    window.background.outbound_changed.emit()
    qtbot.waitUntil(lambda: [t for d, t in log.texts() if d == "outbound"]
                    == ["Calling you at 3 — Pat"])
    assert svc.conversations.needs_response([mid]) == set()
    assert svc.conversations.draft(ui_office.staff, mid) is None


def test_reply_box_applies_the_compose_checks(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    svc.matters.set_consent(ui_office.admin, mid, "no")
    box = reply_box_of(sms_log(qtbot, window, mid))
    qtbot.waitUntil(lambda: box.detail is not None)
    box.edit.setPlainText("Hello")
    assert CONSENT_BLOCKER in box.send_blockers()
    assert not box.send_button.isEnabled()
    qtbot.keyClick(box.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert box.error.text() == CONSENT_BLOCKER
    assert svc.outbound.queue() == []


def test_a_typed_reply_comes_back_as_a_draft(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    mid = ui_office.matter_id
    view = window.open_matter(mid)
    box = reply_box_of(sms_log(qtbot, window, mid))
    qtbot.waitUntil(lambda: box.detail is not None)
    qtbot.keyClicks(box.edit, "About your")
    assert box._draft_timer.isActive()
    box._draft_timer.timeout.emit()  # the debounce, without waiting for it
    qtbot.waitUntil(lambda: ui_office.services.conversations.draft(ui_office.staff, mid)
                    is not None)
    qtbot.keyClicks(box.edit, " documents")
    view.close()  # before the debounce: closing keeps the latest text too
    conv = ui_office.services.conversations
    qtbot.waitUntil(lambda: getattr(conv.draft(ui_office.staff, mid), "body", "")
                    == "About your documents")
    again = reply_box_of(sms_log(qtbot, window, mid))
    qtbot.waitUntil(lambda: again.body() == "About your documents")


def test_closing_the_compose_dialog_asks_and_keeps_the_draft(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    mid = ui_office.matter_id
    dialog = outbound_ui_of(window).open_compose(mid)
    assert dialog is not None
    qtbot.keyClicks(dialog.body_edit, "Your hearing moved to")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    box = dialog.close_question
    assert box is not None and dialog.isVisible()  # asked, not closed
    keep = next(b for b in box.buttons() if b.text() == "&Keep draft")
    with qtbot.waitSignal(dialog.finished):
        click(qtbot, keep)
    qtbot.waitUntil(lambda: ui_office.services.conversations.draft(ui_office.staff, mid)
                    is not None)
    again = outbound_ui_of(window).open_compose(mid)
    assert again is not None and again is not dialog
    qtbot.waitUntil(lambda: again.body() == "Your hearing moved to")
    assert again.draft_restored
    # Discard forgets it.
    again.reject()
    box = again.close_question
    assert box is not None
    discard = next(b for b in box.buttons() if b.text() == "&Discard")
    with qtbot.waitSignal(again.finished):
        click(qtbot, discard)
    qtbot.waitUntil(lambda: ui_office.services.conversations.draft(ui_office.staff, mid)
                    is None)


def test_home_reply_and_dismiss_with_confirmation_and_undo(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    client_texts(ui_office, sandbox_server, twilio_provider, window, "Here is my new address")
    home = home_of(window)
    window.show_page("Home")
    qtbot.waitUntil(lambda: home.count() == 1)
    home.table.selectRow(0)
    click(qtbot, home.reply_button)
    view = window.matter_view(mid)
    assert view is not None and view.tabs.currentWidget() is view.tab("SMS log")
    box = reply_box_of(conv_ui(window).sms_log_of(mid) or SmsLogWidget.__new__(SmsLogWidget))
    qtbot.waitUntil(lambda: box.recipient() == CLIENT)
    view.close()

    window.activateWindow()
    click(qtbot, home.dismiss_button)
    question = home.confirm_box
    assert question is not None and home.count() == 1
    dismiss = next(b for b in question.buttons() if b.text() == "&Dismiss")
    click(qtbot, dismiss)
    qtbot.waitUntil(lambda: home.count() == 0 and home.undo_bar.isVisible())
    assert home.undo_timer.isActive()
    with qtbot.waitSignal(home.undo_finished) as undone:
        click(qtbot, home.undo_button)
    assert undone.args == [True]
    qtbot.waitUntil(lambda: home.count() == 1)
    assert not home.undo_bar.isVisible()
    # Dismissed again and the few seconds pass (the timer fires without waiting).
    home.dismiss(home.alert_rows()[0].id)
    qtbot.waitUntil(lambda: home.undo_bar.isVisible())
    with qtbot.waitSignal(home.undo_finished) as expired:
        home.undo_timer.timeout.emit()
    assert expired.args == [False] and not home.undo_bar.isVisible()
    assert svc.inbound.alerts.count_for(ui_office.staff.user_id or 0) == 0
    actions = [e.action for e in svc.audit.entries(ui_office.admin) if
               e.action.startswith("alert.")]
    assert sorted(actions) == ["alert.dismiss", "alert.dismiss", "alert.undismiss"]


def test_received_log_reply_chooses_among_the_cases_it_is_filed_on(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    svc = ui_office.services
    sister = svc.matters.save(ui_office.admin, MatterInput(
        "25-000002", "Rosa Garcia", "intake", mobile="(212) 555-0123",
        intake_date=ui_office.clock().date(), primary_username="pat"))
    svc.matters.set_consent(ui_office.admin, sister, "yes")
    client_texts(ui_office, sandbox_server, twilio_provider, window, "Which case is this?")
    page = sms_page_for(window).tab("Received")
    assert isinstance(page, ReceivedPage)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    page.table.selectionModel().select(
        page.model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    assert len(page.selected_message().links) == 2  # type: ignore[union-attr]
    button = conv_ui(window).reply_button
    assert button is not None
    window.show_page("SMS")
    sms_page_for(window).show_tab("Received")
    click(qtbot, button)
    menu = conv_ui(window).reply_menu
    assert isinstance(menu, QMenu)
    assert [a.text() for a in menu.actions()] == ["Reply on case 25-000001",
                                                  "Reply on case 25-000002"]
    menu.actions()[1].trigger()
    view = window.matter_view(sister)
    assert view is not None and view.tabs.currentWidget() is view.tab("SMS log")


def test_sent_history_with_filters_and_reasons(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    good = svc.outbound.send(ui_office.staff, mid, CLIENT, "Your hearing is Monday")
    # Twilio's test number for "not a mobile number" (21614): the local server answers so.
    bad = svc.outbound.send(ui_office.staff, mid, "+15005550009", "Wrong number text")
    report = svc.dispatcher.run_due()
    assert report.sent == [good] and bad in report.failed
    svc.outbound.send(ui_office.staff, mid, CLIENT, "Reminder tomorrow",
                      ui_office.clock().replace(year=2026, month=3, day=3))
    window.show_page("SMS")
    page = conv_ui(window).sent_page
    assert page is not None
    with qtbot.waitSignal(page.refreshed) as shown:
        sms_page_for(window).show_tab("Sent")
    assert shown.args == [3]
    rows = {page.row_texts(r)[6]: page.row_texts(r) for r in range(3)}
    assert rows["Wrong number text"][5] == "⚠ Failed"
    assert rows["Wrong number text"][7] == \
        "This number cannot receive texts; it may be a landline."
    assert rows["Your hearing is Monday"][5] == "Sent"
    assert rows["Reminder tomorrow"][5] == "🕒 Scheduled"
    assert rows["Your hearing is Monday"][4] == "Pat Paralegal"
    with qtbot.waitSignal(page.refreshed) as failed_only:
        page.status_combo.setCurrentIndex(3)  # Failed or not delivered
    assert failed_only.args == [1] and page.row_texts(0)[6] == "Wrong number text"
    page.status_combo.setCurrentIndex(0)
    page.case_edit.setText("25-999999")
    with qtbot.waitSignal(page.refreshed) as none:
        page.refresh()
    assert none.args == [0]


def test_search_result_opens_the_case_at_that_message(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    for n in range(6):
        svc.outbound.send(ui_office.staff, mid, CLIENT, f"Update number {n} on your case")
    client_texts(ui_office, sandbox_server, twilio_provider, window,
                 "I found the LEASE agreement")
    action = window.findChild(QAction, "searchMessagesAction")
    assert action is not None and action.shortcut().toString() == "Ctrl+Shift+F"
    action.trigger()  # SMS → Search messages…
    page = conv_ui(window).search_page
    assert page is not None and page.isVisible()
    assert window.current_page_name() == "SMS"
    with qtbot.waitSignal(page.searched) as found:
        qtbot.keyClicks(page.search_edit, "lease")
        qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    assert found.args == [1]
    assert page.table.item(0, 5).text() == "I found the LEASE agreement"
    assert page.table.item(0, 3).text() == "25-000001"
    page.open_row(0)
    view = window.matter_view(mid)
    assert view is not None and view.tabs.currentWidget() is view.tab("SMS log")
    log = view.tab("SMS log")
    assert isinstance(log, SmsLogWidget)
    qtbot.waitUntil(lambda: log.focused is not None)
    assert log.focused is not None and log.focused.item.body == "I found the LEASE agreement"
    # Too short a query says so in words.
    page.search_edit.setText("ab")
    with qtbot.waitSignal(page.searched):
        page.search()
    assert page.error.text() == "Type at least 3 letters or digits to search."


def test_preferences_ask_before_discarding_typed_changes(
        qtbot: QtBot, ui_office: Office) -> None:
    window = build_main_window(ui_office.services, ui_office.admin)
    qtbot.addWidget(window)
    window.show()
    admin = window.findChild(AdminIntegration)
    assert admin is not None
    dialog = admin.open_preferences()
    dialog.show_page("Telephony & SMS")
    page = dialog.current_page()
    page.auth_token.setText("typed-but-not-saved")  # type: ignore[attr-defined]
    click(qtbot, dialog.close_button)
    question = dialog.discard_question
    assert question is not None and dialog.isVisible()
    keep = next(b for b in question.buttons() if b.text() == "&Keep editing")
    click(qtbot, keep)
    assert dialog.isVisible()
    assert page.auth_token.text() == "typed-but-not-saved"  # type: ignore[attr-defined]
    dialog.reject()
    question = dialog.discard_question
    assert question is not None
    discard = next(b for b in question.buttons() if b.text() == "&Discard changes")
    with qtbot.waitSignal(dialog.finished):
        click(qtbot, discard)


def test_sms_log_shows_each_state_differently(
        qtbot: QtBot, window: MainWindow, ui_office: Office,
        twilio_provider: SmsProvider) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    delivered = svc.outbound.send(ui_office.staff, mid, CLIENT, "Delivered one")
    failed = svc.outbound.send(ui_office.staff, mid, "+15005550009", "Failed one")
    later = ui_office.clock() + timedelta(hours=3)
    scheduled = svc.outbound.send(ui_office.staff, mid, CLIENT, "Scheduled one", later)
    canceled = svc.outbound.send(ui_office.staff, mid, CLIENT, "Canceled one", later)
    svc.outbound.cancel(ui_office.staff, [canceled])
    svc.dispatcher.run_due()
    ui_office.server.advance_all()  # the carrier reports delivery
    poll(ui_office, twilio_provider, window)
    log = sms_log(qtbot, window, mid)
    qtbot.waitUntil(lambda: len(log.bubbles) == 4)
    by_id = {b.item.id: b for b in log.bubbles}
    assert by_id[delivered].status.text().startswith("✓ Delivered · ")
    assert by_id[failed].status.text().startswith("⚠ Failed · ")
    assert "landline" in by_id[failed].status.text()  # the reason, in words
    assert by_id[scheduled].status.text().startswith("🕒 Scheduled · ")
    assert by_id[canceled].status.text().startswith("⊘ Canceled · ")
    styles = {by_id[i].frame.styleSheet() for i in (delivered, failed, scheduled, canceled)}
    assert len(styles) == 4  # each looks different, not only in words


def test_reply_box_template_picker_fills_refuses_and_sends(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc, mid = ui_office.services, ui_office.matter_id
    svc.templates.save(ui_office.admin, "Closed", "Hi {client_first_name}, court is closed.")
    svc.settings.set(ui_office.admin, "office_name", "")  # the default is "our law office"
    svc.templates.save(ui_office.admin, "Signed", "Thanks, {office_name}")  # no office name
    box = reply_box_of(sms_log(qtbot, window, mid))
    qtbot.waitUntil(lambda: box.detail is not None and box.template_combo.count() == 3)
    assert [box.template_combo.itemText(i) for i in (1, 2)] == ["Closed", "Signed"]
    box.edit.setPlainText("typed")  # replaced by the filled template
    with qtbot.waitSignal(box.template_applied, timeout=5000) as applied:
        box.template_combo.setCurrentIndex(1)
        box.template_combo.activated.emit(1)
    assert applied.args == [True]
    assert box.body() == "Hi Maria, court is closed."
    assert box.counter_label.text() == "26 characters · GSM-7 · 1 segment"
    assert not box.template_error.isVisible()

    # A merge field empty for this client: the reason shows and the text stays as it was.
    with qtbot.waitSignal(box.template_applied, timeout=5000) as applied:
        box.template_combo.setCurrentIndex(2)
        box.template_combo.activated.emit(2)
    assert applied.args == [False]
    assert box.template_error.text() == ("This template can't be used for this client: "
                                         "office name is empty.")
    assert box.template_error.isVisibleTo(box)
    assert box.body() == "Hi Maria, court is closed."

    # Ctrl+Enter sends the filled text, through the local Twilio-compatible server.
    box.edit.setFocus()
    with qtbot.waitSignal(box.sent, timeout=5000) as sent:
        qtbot.keyClick(box.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert box.body() == ""
    assert svc.dispatcher.run_due().sent == [sent.args[0]]
    assert ui_office.server_bodies(CLIENT) == ["Hi Maria, court is closed."]
