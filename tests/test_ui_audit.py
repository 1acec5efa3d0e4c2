"""The audit log window (docs/product.md F14): administrators read who did what, filtered by text and action."""

from __future__ import annotations

from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.admin_integration import AdminIntegration, install_admin
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.windows.audit_log_window import AuditLogWindow
from desktop_sms.ui.windows.main_window import MainWindow
from tests.test_ui_preferences import add_admin, add_staff, retype


def make_history(services: Services) -> tuple[Actor, Actor]:
    admin = add_admin(services)
    staff = add_staff(services, admin, "pat")
    services.settings.set(admin, "inbound_matching", "most_recent_outbound")
    services.settings.set(admin, "alert_scope", "all")
    services.users.update(admin, staff.user_id or 0, name="Pat Paralegal")
    return admin, staff


def open_log(qtbot: QtBot, services: Services, actor: Actor) -> AuditLogWindow:
    window = AuditLogWindow(services.audit, actor, TaskRunner())
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.refreshed):
        window.refresh()
    return window


def column(window: AuditLogWindow, c: int) -> list[str]:
    return [window.table.item(r, c).text() for r in range(window.table.rowCount())]


def test_audit_log_lists_and_filters(qtbot: QtBot, services: Services) -> None:
    admin, _staff = make_history(services)
    window = open_log(qtbot, services, admin)
    assert column(window, 3) == ["User changed", "Setting changed", "Setting changed",
                                 "User added", "User added"]  # newest first
    assert set(column(window, 1)) == {"admin"}
    assert window.table.horizontalHeaderItem(0).text() == "When"
    assert "inbound_matching: all_related → most_recent_outbound" in column(window, 5)

    with qtbot.waitSignal(window.refreshed, timeout=5000):
        retype(qtbot, window.text_filter, "alert_scope")
    assert column(window, 5) == ["alert_scope: primary → all"]
    assert column(window, 4) == ["setting alert_scope"]

    with qtbot.waitSignal(window.refreshed, timeout=5000):
        window.text_filter.clear()
    with qtbot.waitSignal(window.refreshed):
        window.set_action("user.add")
    assert column(window, 4) == ["user pat", "user admin"]
    assert window.count_label.text() == "2 entries"

    with qtbot.waitSignal(window.refreshed, timeout=5000):
        retype(qtbot, window.text_filter, "nothing like this")
    assert window.table.rowCount() == 0


def test_staff_cannot_read_the_audit_log(qtbot: QtBot, services: Services) -> None:
    _admin, staff = make_history(services)
    window = AuditLogWindow(services.audit, staff, TaskRunner())
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.refreshed) as done:
        window.refresh()
    assert done.args == [-1]
    assert window.error.text() == "Only an administrator can read the audit log."
    assert window.table.rowCount() == 0


def test_the_audit_log_menu_item_is_for_admins_only(qtbot: QtBot, main_window: MainWindow,
                                                    services: Services) -> None:
    install_admin(main_window)
    action = main_window.findChild(QAction, "auditLogAction")
    assert action is not None and action in main_window.edit_menu.actions()
    integration = main_window.findChild(AdminIntegration)
    assert integration is not None
    action.trigger()
    log = integration.audit_log
    assert log is not None and log.isVisible()
    qtbot.waitUntil(lambda: log.table.rowCount() > 0)
    assert "User added" in column(log, 3)

    pat = services.users.get("pat").actor()
    staff_window = MainWindow(services, pat)
    qtbot.addWidget(staff_window)
    install_admin(staff_window)
    assert staff_window.findChild(QAction, "auditLogAction") is None
    staff_window.close()
