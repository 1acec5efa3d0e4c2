"""Plugs Preferences, the audit log and the Home page into the main window (docs/product.md F12–F14).

`install_admin(window)` is called once after the main window is built. It replaces the
Preferences placeholder, adds Edit → Audit log… for administrators, puts the Home page with
the alert block in place, shows its count on the Home navigation entry, and refreshes it when
the poller files replies, when the alert scope changes and when Home is shown.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QRect, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap

from desktop_sms.ui.dialogs.preferences_dialog import PreferencesDialog
from desktop_sms.ui.windows.audit_log_window import AuditLogWindow
from desktop_sms.ui.windows.home_page import HomePage
from desktop_sms.ui.windows.main_window import MainWindow

log = logging.getLogger(__name__)

HOME = "Home"
BADGE_SIZE = 22


def badge_icon(count: int) -> QIcon:
    """A red disc with the number, for a navigation entry."""
    pixmap = QPixmap(BADGE_SIZE, BADGE_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#c62828"))
    painter.drawEllipse(0, 0, BADGE_SIZE, BADGE_SIZE)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(11 if count < 100 else 8)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(QRect(0, 0, BADGE_SIZE, BADGE_SIZE), Qt.AlignmentFlag.AlignCenter,
                     str(count) if count < 100 else "99+")
    painter.end()
    return QIcon(pixmap)


class AdminIntegration(QObject):
    """Owns the Preferences dialog, the audit log window and the Home page of one window."""

    _alert_scope_changed = Signal()  # settings listeners may run on any thread: hop to ours

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("adminIntegration")
        self.window = window
        self.preferences: PreferencesDialog | None = None
        self.audit_log: AuditLogWindow | None = None
        self.audit_log_action: QAction | None = None
        services = window.services
        self.home = HomePage(services.inbound.alerts, window.actor, window.runner, services.clock)
        self.home_count = 0

    def install(self) -> None:
        window = self.window
        window.set_preferences_handler(self.open_preferences)
        if window.actor.is_admin:
            action = QAction("&Audit log…", window)
            action.setObjectName("auditLogAction")
            action.triggered.connect(self.open_audit_log)
            window.edit_menu.addAction(action)
            self.audit_log_action = action
        window.set_page(HOME, self.home)
        self.home.open_matter_requested.connect(window.open_matter)
        self.home.count_changed.connect(self.show_home_count)
        window.background.inbound_changed.connect(lambda _report: self.home.refresh())
        window.page_changed.connect(self._on_page_changed)
        self._alert_scope_changed.connect(self.home.refresh)
        window.services.settings.subscribe(self._on_setting_changed)
        self.home.refresh()

    # --- Preferences ------------------------------------------------------------------
    def open_preferences(self) -> PreferencesDialog:
        """Edit → Preferences…: one non-blocking dialog (raised when already open)."""
        if self.preferences is not None and self.preferences.isVisible():
            self.preferences.raise_()
            self.preferences.activateWindow()
            return self.preferences
        services = self.window.services
        dialog = PreferencesDialog(services.settings, services.users, services.credentials,
                                   self.window.actor, self.window.runner, services.db.url,
                                   parent=self.window, templates=services.templates)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._forget_preferences)
        self.preferences = dialog
        dialog.open()
        return dialog

    def _forget_preferences(self, *_args: Any) -> None:
        self.preferences = None

    # --- audit log --------------------------------------------------------------------
    def open_audit_log(self) -> AuditLogWindow:
        """Edit → Audit log… (administrators): one window, refreshed when opened."""
        if self.audit_log is None:
            self.audit_log = AuditLogWindow(self.window.services.audit, self.window.actor,
                                            self.window.runner, parent=self.window)
        self.audit_log.show()
        self.audit_log.raise_()
        self.audit_log.refresh()
        return self.audit_log

    # --- Home -------------------------------------------------------------------------
    def show_home_count(self, count: int) -> None:
        """Show the number of alerts on the Home navigation entry (a badge and tool tip).

        The entry's text stays "Home": MainWindow finds pages by their navigation text.
        """
        self.home_count = count
        nav = self.window.nav
        for row in range(nav.count()):
            item = nav.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == HOME:
                item.setIcon(badge_icon(count) if count else QIcon())
                tip = (f"{count} new repl{'y' if count == 1 else 'ies'} on your cases"
                       if count else "")
                item.setToolTip(tip)
                item.setData(Qt.ItemDataRole.AccessibleTextRole,
                             f"{HOME}, {tip}" if count else HOME)

    def _on_page_changed(self, name: str) -> None:
        if name == HOME:
            self.home.refresh()

    def _on_setting_changed(self, key: str, _value: object) -> None:
        if key != "alert_scope":
            return
        try:
            self._alert_scope_changed.emit()
        except RuntimeError:  # the window is gone
            pass


def install_admin(window: MainWindow) -> None:
    """Install Preferences, the audit log (admins) and the Home alert block into window (once)."""
    if window.findChild(AdminIntegration) is not None:
        return
    AdminIntegration(window).install()
