"""A case's SMS log (docs/product.md F9): a sent text and its reply as a conversation, with the reply's
photo as a thumbnail; client text shown literally; the tab obeys the case_sms_log setting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.ui.widgets.sms_log_widget import SHARED_PHONE_NOTE, SmsLogTurnedOff, SmsLogWidget
from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import OFFICE, Office
from tests.helpers.ui_office import CLIENT, integration, matter_tab, png_bytes, poll


def sms_log_of(qtbot: QtBot, window: MainWindow, matter_id: int) -> SmsLogWidget:
    return matter_tab(qtbot, window, matter_id, "SMS log", SmsLogWidget)


def test_sms_log_shows_the_sent_text_then_the_reply_with_its_photo(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider, tmp_path: Path) -> None:
    svc = ui_office.services
    mid = svc.outbound.send(ui_office.staff, ui_office.matter_id, "212.555.0123",
                            "Hello Maria, please send the signed letter.")
    assert svc.dispatcher.run_due().sent == [mid]
    assert ui_office.server_bodies(CLIENT) == ["Hello Maria, please send the signed letter."]
    log = sms_log_of(qtbot, window, ui_office.matter_id)
    qtbot.waitUntil(lambda: log.texts() == [
        ("outbound", "Hello Maria, please send the signed letter.")])
    assert log.note_label.text() == SHARED_PHONE_NOTE
    assert log.note_label.isVisibleTo(log)

    ui_office.clock.advance(minutes=5)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "Here it is",
                                  date_sent=ui_office.clock(),
                                  media=[("image/png", png_bytes())])
    report = poll(ui_office, twilio_provider, window)
    assert report.filed_matter_ids == [ui_office.matter_id]

    qtbot.waitUntil(lambda: len(log.texts()) == 2 and log.thumbnail_count() == 1)
    assert log.texts() == [("outbound", "Hello Maria, please send the signed letter."),
                           ("inbound", "Here it is")]
    sent, reply = log.bubbles
    assert sent.outbound and not reply.outbound
    assert sent.status.text().startswith("Sent · ") and "Pat Paralegal" in sent.status.text()
    assert reply.status.text().startswith("Received · ") and "from (212) 555-0123" in \
        reply.status.text()
    assert not sent.thumbnails and len(reply.thumbnails) == 1
    pixmap = reply.thumbnails[0].pixmap()
    assert pixmap is not None and not pixmap.isNull() and pixmap.width() >= 3
    # Outbound on the right, inbound on the left.
    qtbot.waitUntil(lambda: sent.frame.isVisible() and reply.frame.isVisible())
    sent_x = sent.frame.mapTo(log, sent.frame.rect().topLeft()).x()
    reply_x = reply.frame.mapTo(log, reply.frame.rect().topLeft()).x()
    assert sent_x > reply_x
    # The reply's note shows the same photo as a thumbnail.
    tabs = integration(window).tabs_of(ui_office.matter_id)
    assert tabs is not None
    qtbot.waitUntil(lambda: any(c.thumbnails for c in tabs.notes.cards))
    note = next(c for c in tabs.notes.cards if c.thumbnails)
    assert note.body.text() == "Here it is" and not note.chips


def test_sms_log_follows_outbound_status_changes(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc = ui_office.services
    log = sms_log_of(qtbot, window, ui_office.matter_id)
    qtbot.waitUntil(lambda: log.empty_label.isVisibleTo(log))
    svc.outbound.send(ui_office.staff, ui_office.matter_id, CLIENT, "Your hearing is Monday")
    window.background.outbound_changed.emit()
    qtbot.waitUntil(lambda: len(log.bubbles) == 1)
    assert log.bubbles[0].status.text().startswith("Queued · ")
    report = svc.dispatcher.run_due()
    window.background.report_dispatch(report)
    qtbot.waitUntil(lambda: log.bubbles and log.bubbles[0].status.text().startswith("Sent · "))
    assert not log.empty_label.isVisibleTo(log)


def test_html_in_a_reply_is_displayed_literally(
        qtbot: QtBot, window: MainWindow, ui_office: Office, sandbox_server: SandboxServer,
        twilio_provider: SmsProvider) -> None:
    body = "<b>hi</b><img src=x>"
    sandbox_server.inject_inbound(CLIENT, OFFICE, body,
                                  date_sent=ui_office.clock() + timedelta(minutes=1))
    poll(ui_office, twilio_provider, window)
    log = sms_log_of(qtbot, window, ui_office.matter_id)
    qtbot.waitUntil(lambda: log.texts() == [("inbound", body)])
    bubble = log.bubbles[0]
    assert bubble.body.textFormat() == Qt.TextFormat.PlainText
    assert bubble.body.text() == body
    assert not bubble.thumbnails  # <img src=x> loaded nothing
    # Every label of the log, the notes and the Received Log is plain text.
    tabs = integration(window).tabs_of(ui_office.matter_id)
    assert tabs is not None
    qtbot.waitUntil(lambda: bool(tabs.notes.cards))
    assert tabs.notes.cards[0].body.text() == body
    page = integration(window).received_page
    assert page is not None
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    for widget in (log, tabs.notes):
        for label in widget.findChildren(QLabel):
            assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()


def test_sms_log_tab_says_when_it_is_turned_off_in_preferences(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc = ui_office.services
    svc.settings.set(ui_office.admin, "case_sms_log", "false")
    qtbot.waitUntil(lambda: not integration(window).sms_log_enabled)
    view = window.open_matter(ui_office.matter_id)
    off = view.tab("SMS log")
    assert isinstance(off, SmsLogTurnedOff)
    assert "turned off in Preferences" in off.text.text()
    assert view.tab_names() == ["Notes", "Documents", "SMS log", "Tasks & events"]
    # Turning it back on gives the open case its log.
    svc.settings.set(ui_office.admin, "case_sms_log", "true")
    qtbot.waitUntil(lambda: isinstance(view.tab("SMS log"), SmsLogWidget))


def test_sms_log_shows_the_newest_text_at_the_bottom_in_full(
        qtbot: QtBot, window: MainWindow, ui_office: Office) -> None:
    svc = ui_office.services
    later = ui_office.clock() + timedelta(hours=1)
    for i in range(30):
        svc.outbound.send(ui_office.staff, ui_office.matter_id, "212.555.0123",
                          f"Reminder {i}: " + "please bring the signed lease and your ID. " * 4,
                          send_at=later + timedelta(minutes=i))
    log = sms_log_of(qtbot, window, ui_office.matter_id)
    bar = log.scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: len(log.bubbles) == 30 and bar.maximum() > 0)

    def newest_in_full() -> bool:
        viewport = log.scroll.viewport()
        bubble = log.bubbles[-1]
        bottom = bubble.mapTo(viewport, bubble.rect().bottomLeft()).y()
        return bar.value() == bar.maximum() and 0 <= bottom < viewport.height()

    qtbot.waitUntil(newest_in_full)
    QApplication.sendPostedEvents()  # every pending layout done: still at the bottom
    assert newest_in_full()

    # A new text while at the bottom: the log follows it.
    svc.outbound.send(ui_office.staff, ui_office.matter_id, "212.555.0123", "One more",
                      send_at=later + timedelta(hours=2))
    with qtbot.waitSignal(log.refreshed):
        log.refresh()
    qtbot.waitUntil(lambda: log.texts()[-1] == ("outbound", "One more") and newest_in_full())

    # Scrolled up to read: a reload leaves the place alone.
    bar.setValue(0)
    with qtbot.waitSignal(log.refreshed):
        log.refresh()
    QApplication.sendPostedEvents()
    assert bar.value() == 0 and bar.maximum() > 0
