"""A deactivated user's open window says so and signs out (issue 12, reproduction 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_sms.app import build_main_window
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.windows.main_window import ACCOUNT_CHECK_MS, MainWindow
from desktop_sms.ui.windows.received_page import ReceivedPage


@pytest.fixture
def pat_window(qtbot: QtBot, services: Services, demo_actor: Actor,
               ui_config_dir: Path) -> Iterator[MainWindow]:
    """The main window of Pat, a staff member with SMS access, shown."""
    pat = services.users.get("pat").actor()
    window = build_main_window(services, pat)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def _signed_out(window: MainWindow) -> bool:
    notice = window.signed_out_notice
    return notice is not None and notice.isVisible() and not window.isVisible()


def test_the_periodic_check_signs_a_deactivated_user_out(
        qtbot: QtBot, services: Services, demo_actor: Actor, pat_window: MainWindow) -> None:
    assert pat_window.account_timer.isActive()
    assert pat_window.account_timer.interval() == ACCOUNT_CHECK_MS
    pat_window.check_account()  # still active: nothing happens
    qtbot.waitUntil(lambda: not pat_window.runner.is_busy())
    assert pat_window.isVisible() and pat_window.signed_out_notice is None

    services.users.update(demo_actor, pat_window.actor.user_id or 0, active=False)
    with qtbot.waitSignal(pat_window.signed_out) as signal:
        pat_window.account_timer.timeout.emit()  # the next periodic check
    assert "deactivated" in signal.args[0]
    qtbot.waitUntil(lambda: _signed_out(pat_window))
    notice = pat_window.signed_out_notice
    assert notice is not None and "Your account has been deactivated" in notice.text()
    assert not pat_window.account_timer.isActive()
    notice.close()


def test_any_refused_task_signs_the_window_out(
        qtbot: QtBot, services: Services, demo_actor: Actor, pat_window: MainWindow) -> None:
    page = pat_window.findChild(ReceivedPage)
    assert page is not None
    services.users.update(demo_actor, pat_window.actor.user_id or 0, active=False)
    with qtbot.waitSignal(pat_window.signed_out):
        page.refresh()  # the Received Log's own load, with its own failure handler
    qtbot.waitUntil(lambda: _signed_out(pat_window))
    assert pat_window.signed_out_notice is not None
    pat_window.signed_out_notice.close()
