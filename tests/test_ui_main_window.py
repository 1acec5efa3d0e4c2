"""The main window's shell (pages, menus, status bar) and the start-up function."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from desktop_sms.app import run_gui
from desktop_sms.db.database import open_database
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.windows.main_window import MainWindow


def test_shell_has_pages_menus_and_status(qtbot: QtBot, main_window: MainWindow) -> None:
    assert main_window.windowTitle() == "Desktop SMS — Alex Admin"
    assert main_window.page_names() == ["Home", "Cases", "SMS", "Calendar"]
    assert main_window.current_page_name() == "Home"  # the first page after sign-in
    main_window.show_page("Cases")
    assert main_window.stack.currentWidget() is main_window.page("Cases")
    main_window.show_page("Home")
    assert main_window.stack.currentWidget() is main_window.page("Home")
    assert main_window.import_action.shortcut().toString() == "Ctrl+I"
    assert main_window.sms_menu.title() == "&SMS"

    assert main_window.provider_label.text() == "Provider: Sandbox"
    assert main_window.poll_label.text() == "Last poll: never"
    assert not main_window.error_label.isVisible()
    main_window.set_last_poll(datetime(2026, 3, 1, 14, 5, 9))
    assert main_window.poll_label.text() == "Last poll: 14:05:09"
    main_window.set_last_error("Twilio answered 500")
    assert main_window.error_label.isVisible()
    assert main_window.error_label.text() == "Last error: Twilio answered 500"
    main_window.set_last_error(None)
    assert not main_window.error_label.isVisible()


def test_set_page_replaces_a_placeholder(qtbot: QtBot, main_window: MainWindow) -> None:
    calendar = QLabel("the real calendar")
    main_window.set_page("Calendar", calendar)
    main_window.show_page("Calendar")
    assert main_window.stack.currentWidget() is calendar
    assert main_window.page_names() == ["Home", "Cases", "SMS", "Calendar"]


def test_provider_setting_change_reaches_the_status_bar(qtbot: QtBot, main_window: MainWindow,
                                                        services: Services,
                                                        demo_actor: Actor) -> None:
    services.settings.set(demo_actor, "provider", "twilio")
    qtbot.waitUntil(lambda: main_window.provider_label.text() == "Provider: Twilio")


def test_staff_without_sms_access_has_no_sms_page(qtbot: QtBot, services: Services,
                                                  demo_actor: Actor) -> None:
    from desktop_sms.app import build_main_window

    user = services.users.add(demo_actor, "noaccess", "No Access", password="long enough",
                              sms_access=False)
    window = build_main_window(services, user.actor())
    qtbot.addWidget(window)
    assert window.page_names() == ["Home", "Cases", "Calendar"]
    assert not window.sms_menu.menuAction().isVisible()


def test_smoke_run_starts_and_exits_zero(qtbot: QtBot, ui_config_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gui(smoke=True) == 0
    assert "smoke: ok (51 matters" in capsys.readouterr().out


def test_a_database_from_a_newer_version_is_refused(qtbot: QtBot, tmp_path: Path,
                                                    ui_config_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    db, _ = open_database(url)
    with db.transaction() as s:
        s.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    db.dispose()
    assert run_gui(db_url=url) == 1
    assert "newer version of Desktop SMS" in capsys.readouterr().err
