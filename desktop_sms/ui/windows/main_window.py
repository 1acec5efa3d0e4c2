"""The main window: navigation (Home, Cases, SMS, Calendar), menus, status bar, matter windows.

How later features plug in (none needs to edit this file):
  * ``set_page(name, widget)`` replaces a page's placeholder (or adds a page);
  * ``sms_menu`` is the SMS menu to fill; ``set_preferences_handler(fn)`` replaces the
    Preferences placeholder;
  * ``matter_view_opened(MatterView)`` fires for each new matter window: connect its
    ``send_sms_requested`` etc. and call its ``set_tab(...)``;
  * ``set_provider_mode``, ``set_last_poll``, ``set_last_error`` feed the status bar;
  * ``runner`` is the one background TaskRunner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from desktop_sms import __version__
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.container import Services
from desktop_sms.ui.background import BackgroundBridge
from desktop_sms.ui.dialogs.import_dialog import ImportDialog
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.tray import TrayNotifier
from desktop_sms.ui.view_state import load_value, restore_geometry, save_geometry, save_value
from desktop_sms.ui.widgets.placeholder_page import PlaceholderPage
from desktop_sms.ui.windows.cases_page import CasesPage
from desktop_sms.ui.windows.matter_view import MatterView

log = logging.getLogger(__name__)

PAGE_NAMES = ("Home", "Cases", "SMS", "Calendar")
PROVIDER_NAMES = {"sandbox": "Sandbox", "twilio": "Twilio"}
ACCOUNT_CHECK_MS = 60_000  # how often an idle window asks whether its account is still active


class MainWindow(QMainWindow):
    """The application's main window for one signed-in user."""

    matter_view_opened = Signal(object)  # MatterView
    page_changed = Signal(str)
    signed_out = Signal(str)  # the account was deactivated: the reason shown to the user
    _setting_changed = Signal(str, object)  # marshals settings listeners to the GUI thread

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.actor = actor
        self.runner = runner if runner is not None else TaskRunner(self)
        # Signals from the dispatcher and poller (wired by app.start_background); views listen
        # here even when no background work runs (tests emit them by hand).
        self.background = BackgroundBridge(self)
        self.tray: TrayNotifier | None = None  # set by app.start_background
        self.import_dialog: ImportDialog | None = None
        self._matter_views: dict[int, MatterView] = {}
        self._pages: dict[str, QWidget] = {}
        self.setObjectName("mainWindow")
        self.resize(1180, 720)
        try:
            user_name = services.users.by_id(actor.user_id).name if actor.user_id else actor.username
        except ServiceError:
            user_name = actor.username
        self.user_name = user_name
        self.setWindowTitle(f"Desktop SMS — {user_name}")

        # Navigation: a list on the left, the pages in a stack.
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(150)
        self.nav.setAccessibleName("Navigation")
        self.stack = QStackedWidget()
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self._on_nav_row)

        self.cases_page = CasesPage(services.matters, actor)
        self.cases_page.open_matter_requested.connect(self.open_matter)
        self.set_page("Home", PlaceholderPage(
            "Home", "Alerts for the cases you are assigned to will appear here."))
        self.set_page("Cases", self.cases_page)
        self.set_page("SMS", PlaceholderPage(
            "SMS", "The queue of scheduled texts and the SMS Received Log will appear here."))
        self.set_page("Calendar", PlaceholderPage(
            "Calendar", "Tasks and calendar events will appear here."))
        self.set_page_visible("SMS", actor.sms_access)
        self.show_page("Cases")

        self._build_menus()
        self._build_status_bar()
        self.runner.task_failed.connect(self.set_last_error)
        self.runner.account_deactivated.connect(self.sign_out_deactivated)
        self.signed_out_notice: QMessageBox | None = None
        self.account_timer = QTimer(self)
        self.account_timer.setInterval(ACCOUNT_CHECK_MS)
        self.account_timer.timeout.connect(self.check_account)
        self.account_timer.start()
        self._setting_changed.connect(self._apply_setting)
        services.settings.subscribe(self._on_setting_changed)

    # --- pages -------------------------------------------------------------------------
    def set_page(self, name: str, widget: QWidget) -> None:
        """Show widget as the named page, replacing what was there (or adding a new page)."""
        old = self._pages.get(name)
        if old is None:
            self.stack.addWidget(widget)
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.nav.addItem(item)
        else:
            index = self.stack.indexOf(old)
            was_current = self.stack.currentWidget() is old
            self.stack.insertWidget(index, widget)
            self.stack.removeWidget(old)
            if was_current:
                self.stack.setCurrentWidget(widget)
            if old is not widget:
                old.deleteLater()
        self._pages[name] = widget

    def page(self, name: str) -> QWidget | None:
        """The widget of a page."""
        return self._pages.get(name)

    def page_names(self) -> list[str]:
        """The visible pages, in navigation order."""
        return [self.nav.item(i).text() for i in range(self.nav.count())
                if not self.nav.item(i).isHidden()]

    def show_page(self, name: str) -> None:
        """Switch to a page by name."""
        for i in range(self.nav.count()):
            if self.nav.item(i).text() == name:
                self.nav.setCurrentRow(i)
                return
        raise KeyError(name)

    def current_page_name(self) -> str:
        """The name of the page shown."""
        item = self.nav.currentItem()
        return item.text() if item else ""

    def set_page_visible(self, name: str, visible: bool) -> None:
        """Hide or show a page's navigation entry (no SMS page without SMS access)."""
        for i in range(self.nav.count()):
            if self.nav.item(i).text() == name:
                self.nav.item(i).setHidden(not visible)

    def _on_nav_row(self, row: int) -> None:
        if row < 0:
            return
        name = self.nav.item(row).text()
        self.stack.setCurrentWidget(self._pages[name])
        self.page_changed.emit(name)

    # --- matters -----------------------------------------------------------------------
    def open_matter(self, matter_id: int) -> MatterView:
        """Show the matter's window, creating it the first time (one window per matter)."""
        view = self._matter_views.get(matter_id)
        if view is None:
            view = MatterView(self.services, self.actor, matter_id, parent=self,
                              runner=self.runner)
            view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            view.closed.connect(self._forget_matter_view)
            view.matter_changed.connect(lambda _id: self.cases_page.refresh())
            self._matter_views[matter_id] = view
            self.matter_view_opened.emit(view)
            view.update_actions()
        view.show()
        view.raise_()
        view.activateWindow()
        return view

    def matter_view(self, matter_id: int) -> MatterView | None:
        """The open window of a matter, if any."""
        return self._matter_views.get(matter_id)

    def matter_views(self) -> list[MatterView]:
        """Every open matter window."""
        return list(self._matter_views.values())

    def _forget_matter_view(self, matter_id: int) -> None:
        self._matter_views.pop(matter_id, None)

    # --- menus -------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.import_action = QAction("&Import cases…", self)
        self.import_action.setShortcut(QKeySequence("Ctrl+I"))
        self.import_action.triggered.connect(self.open_import_dialog)
        self.file_menu.addAction(self.import_action)
        self.file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        self.file_menu.addAction(self.quit_action)

        self.edit_menu = bar.addMenu("&Edit")
        self.preferences_action = QAction("&Preferences…", self)
        self.preferences_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self._preferences_handler: Callable[[], Any] = self._preferences_placeholder
        self.preferences_action.triggered.connect(lambda: self._preferences_handler())
        self.edit_menu.addAction(self.preferences_action)

        self.sms_menu = bar.addMenu("&SMS")  # filled by the SMS features
        self.sms_menu.menuAction().setVisible(self.actor.sms_access)

        self.help_menu = bar.addMenu("&Help")
        self.about_action = QAction("&About Desktop SMS", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        self.help_menu.addAction(self.about_action)

    def set_preferences_handler(self, handler: Callable[[], Any]) -> None:
        """Edit → Preferences… calls handler instead of the placeholder."""
        self._preferences_handler = handler

    def open_import_dialog(self) -> ImportDialog:
        """File → Import cases…: one non-blocking dialog; the case list refreshes after."""
        if self.import_dialog is not None and self.import_dialog.isVisible():
            self.import_dialog.raise_()
            return self.import_dialog
        dialog = ImportDialog(self.services.importer, self.actor, self.runner, parent=self)
        dialog.import_finished.connect(lambda _result: self.cases_page.refresh())
        self.import_dialog = dialog
        dialog.open()
        return dialog

    def _preferences_placeholder(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, "Preferences",
                          "Preferences (provider, matching mode, consent, users) come in a "
                          "later version.", QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_about(self) -> QMessageBox:
        """Help → About (non-blocking)."""
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Desktop SMS",
                          f"Desktop SMS {__version__}\n\nText clients from their cases, schedule "
                          "texts, and file replies on the right case.",
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # --- status bar --------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.provider_label = QLabel()
        self.provider_label.setObjectName("providerLabel")
        self.poll_label = QLabel()
        self.poll_label.setObjectName("pollLabel")
        self.error_label = QLabel()
        self.error_label.setObjectName("statusErrorLabel")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        status.addWidget(self.error_label, 1)
        # This desktop's clock against Twilio's (docs/media_and_clocks.md): shown only when
        # they differ by more than a minute.
        self.clock_label = QLabel()
        self.clock_label.setObjectName("clockSkewLabel")
        self.clock_label.setTextFormat(Qt.TextFormat.PlainText)
        self.clock_label.setVisible(False)
        status.addPermanentWidget(self.clock_label)
        self.background.polled.connect(self._on_polled_clock)
        status.addPermanentWidget(self.poll_label)
        status.addPermanentWidget(self.provider_label)
        provider = str(self.services.settings.get("provider"))
        self.set_provider_mode(PROVIDER_NAMES.get(provider, provider))
        self.set_last_poll(None)
        self.set_last_error(None)

    def set_provider_mode(self, text: str) -> None:
        """Show 'Sandbox' or 'Twilio'."""
        self.provider_label.setText(f"Provider: {text}")

    def set_last_poll(self, when: datetime | None) -> None:
        """Show the time of the last successful poll ('never' for None)."""
        if when is None:
            self.poll_label.setText("Last poll: never")
            return
        local = when.astimezone() if when.tzinfo else when
        self.poll_label.setText(f"Last poll: {local.strftime('%H:%M:%S')}")
        self.poll_label.setToolTip(local.strftime("%Y-%m-%d %H:%M:%S"))

    def set_clock_warning(self, text: str | None) -> None:
        """Warn that this computer's clock differs from Twilio's (None hides the warning)."""
        self.clock_label.setText(f"⚠ Clock: {text}" if text else "")
        self.clock_label.setToolTip(text or "")
        self.clock_label.setVisible(bool(text))

    def _on_polled_clock(self, report: object) -> None:
        # A poll whose answers carried no Date header says nothing: keep what is shown.
        if getattr(report, "clock_skew_s", None) is None:
            return
        warning = getattr(report, "clock_warning", None)
        self.set_clock_warning(warning if isinstance(warning, str) else None)

    def set_last_error(self, text: str | None) -> None:
        """Show the last error (None clears it)."""
        self.error_label.setText(f"Last error: {text}" if text else "")
        self.error_label.setToolTip(text or "")
        self.error_label.setVisible(bool(text))

    # --- settings changes --------------------------------------------------------------
    def _on_setting_changed(self, key: str, value: Any) -> None:
        # Settings listeners run on whatever thread committed the change: hop to ours.
        try:
            self._setting_changed.emit(key, value)
        except RuntimeError:  # this window is gone; nothing to update
            pass

    def _apply_setting(self, key: str, value: Any) -> None:
        if key == "provider":
            self.set_provider_mode(PROVIDER_NAMES.get(str(value), str(value)))

    # --- closing -----------------------------------------------------------------------
    # --- account still active? --------------------------------------------------------
    def check_account(self) -> None:
        """Ask (on the runner) whether the signed-in account is still active; a deactivated
        account fails with AccountDeactivated, which the runner reports to
        sign_out_deactivated like any task's."""
        if self.signed_out_notice is not None or self.runner.is_closed:
            return
        self.runner.run(self.services.users.current_actor, self.actor,
                        on_success=lambda _fresh: None,
                        on_failure=lambda exc: log.info("account check failed: %s",
                                                        type(exc).__name__))

    def sign_out_deactivated(self, reason: str) -> None:
        """The account was deactivated: say so, close this window and its matter windows.

        The notice outlives the window; closing the last window ends the application, so
        nobody keeps working under the deactivated account.
        """
        if self.signed_out_notice is not None:
            return
        self.account_timer.stop()
        notice = QMessageBox(QMessageBox.Icon.Warning, "Signed out", reason)
        notice.setTextFormat(Qt.TextFormat.PlainText)
        notice.setObjectName("signedOutNotice")
        notice.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.signed_out_notice = notice
        log.info("signed out: the account was deactivated")
        self.signed_out.emit(reason)
        notice.show()
        self.close()

    def restore_view_state(self) -> None:
        """Put the window where the person left it and show the page last shown
        (desktop_sms/ui/view_state.py); a page no longer offered is skipped."""
        restore_geometry(self, "mainWindow")
        page = load_value("mainWindow/page")
        offered = [self.nav.item(i).text() for i in range(self.nav.count())
                   if not self.nav.item(i).isHidden()]
        if page and page in offered and page != self.current_page_name():
            self.show_page(page)

    def save_view_state(self) -> None:
        """Keep the window's size and position and the page shown, for the next start."""
        save_geometry(self, "mainWindow")
        save_value("mainWindow/page", self.current_page_name())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_view_state()
        self.account_timer.stop()  # no account check may start on a runner being shut down
        for view in self.matter_views():
            view.close()
        if not self.runner.shutdown(10_000):
            log.warning("background tasks still running at close")
        super().closeEvent(event)
