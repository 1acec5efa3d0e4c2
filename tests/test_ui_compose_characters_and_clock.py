"""The compose dialog: smart characters (one click to plain quotes) and clock changes
(issue 14, reproductions 7 and 8), through the real dialog, services and local server."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop_sms.ui.windows.main_window import MainWindow
from tests.helpers.outbound_fixtures import Office
from tests.test_ui_compose import open_compose

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def in_new_york(monkeypatch: pytest.MonkeyPatch, office: Office) -> None:
    """This desktop's clock is in New York (as with TZ=America/New_York). Clock changes happen
    at 2 a.m., inside the client's quiet hours, which have their own tests: off here."""
    monkeypatch.setattr("desktop_sms.ui.dialogs.compose_dialog.local_zone", lambda: NEW_YORK)
    office.services.settings.set(office.admin, "quiet_hours", "off")


def test_smart_characters_are_named_and_replaced_with_one_click(
        qtbot: QtBot, office: Office, office_window: MainWindow) -> None:
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("It\u2019s ready " + "a" * 62)
    assert dialog.counter_label.text() == "73 characters · UCS-2 · 2 segments"
    assert dialog.smart_label.isVisible()
    assert dialog.smart_label.text() == "2 segments because of ’; with plain quotes: 1 segment."
    assert "Smart Encoding" not in dialog.smart_label.text()
    qtbot.mouseClick(dialog.plain_quotes_button, Qt.MouseButton.LeftButton)
    assert dialog.body() == "It's ready " + "a" * 62
    assert dialog.counter_label.text() == "73 characters · GSM-7 · 1 segment"
    assert not dialog.smart_label.isVisible() and not dialog.plain_quotes_button.isVisible()
    dialog.body_edit.setPlainText("Привет \u2019")  # Cyrillic: plain quotes would not help
    assert not dialog.smart_label.isVisible()


def test_with_a_messaging_service_the_counter_mentions_smart_encoding(
        qtbot: QtBot, office: Office, office_window: MainWindow) -> None:
    office.services.settings.set(office.admin, "messaging_service_sid", "MG" + "a" * 32)
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("\u201cSee you\u201d \u2013 " + "a" * 60)
    assert dialog.smart_label.text().startswith("2 segments because of “ ” –; with plain quotes")
    assert "Twilio Smart Encoding" in dialog.smart_label.text()


def test_a_skipped_time_is_refused_naming_the_next_valid_time(
        qtbot: QtBot, in_new_york: None, office: Office, office_window: MainWindow) -> None:
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("See you Monday")
    dialog.set_send_at_wall_time(datetime(2026, 3, 8, 2, 30))
    dialog.send_button.click()
    assert dialog.isVisible()
    assert "The next valid time is 2026-03-08 03:00" in dialog.error.text()
    assert office.services.outbound.queue() == []
    dialog.set_send_at_wall_time(datetime(2026, 3, 8, 3, 0))
    with qtbot.waitSignal(dialog.finished, timeout=20_000):
        dialog.send_button.click()
    [row] = office.services.outbound.queue()
    assert row.send_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(("choice", "utc_hour"), [("First", 5), ("Second", 6)])
def test_a_time_shown_twice_is_asked_about(qtbot: QtBot, in_new_york: None, office: Office,
                                           office_window: MainWindow, choice: str,
                                           utc_hour: int) -> None:
    dialog = open_compose(qtbot, office_window, office.matter_id)
    dialog.body_edit.setPlainText("Hearing moved")
    dialog.set_send_at_wall_time(datetime(2026, 11, 1, 1, 30))
    dialog.send_button.click()
    box = dialog.ambiguity_box
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    assert "happens twice" in box.text() and office.services.outbound.queue() == []
    [button] = [b for b in box.buttons() if b.text().startswith(choice)]
    assert button.text() == f"{choice}: 1:30 AM {'EDT' if choice == 'First' else 'EST'}"
    with qtbot.waitSignal(dialog.finished, timeout=20_000):
        button.click()
    [row] = office.services.outbound.queue()
    assert row.send_at == datetime(2026, 11, 1, utc_hour, 30, tzinfo=UTC)
    assert box.standardButton(box.clickedButton()) != QMessageBox.StandardButton.Cancel
