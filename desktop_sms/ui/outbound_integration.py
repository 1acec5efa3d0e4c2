"""Plugs the outbound UI into the main window: compose from matters, SMS → Queue, Simulated phone.

``install_outbound(window)`` is called once from ``app.build_main_window``; everything it adds
hangs off an ``OutboundUi`` object owned by the window (``outbound_ui(window)`` finds it).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_sms.ui.dialogs.compose_dialog import ComposeDialog
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.matter_view import MatterView
from desktop_sms.ui.windows.queue_page import QueuePage
from desktop_sms.ui.windows.simulated_phone import SimulatedPhoneWindow
from desktop_sms.ui.windows.sms_page import sms_page_for

QUEUE_TAB = "Queue"


class OutboundUi(QObject):
    """The window's outbound pieces: open compose dialogs, the Queue tab, the Simulated phone."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("outboundUi")
        self.window = window
        self.compose_dialogs: dict[int, ComposeDialog] = {}
        self.phone_window: SimulatedPhoneWindow | None = None
        self.queue_page: QueuePage | None = None
        services, actor = window.services, window.actor

        if actor.sms_access:
            page = QueuePage(services, actor, window.runner)
            page.messages_changed.connect(window.background.outbound_changed.emit)
            page.open_matter_requested.connect(window.open_matter)
            window.background.outbound_changed.connect(page.refresh)
            sms_page_for(window).add_tab(QUEUE_TAB, page)
            self.queue_page = page

        self.phone_action = QAction("Simulated &phone…", window)
        self.phone_action.setToolTip("Play the client: reply to the office's texts (sandbox only)")
        self.phone_action.triggered.connect(self.open_simulated_phone)
        window.sms_menu.addAction(self.phone_action)
        window.sms_menu.aboutToShow.connect(self.update_phone_action)
        self.update_phone_action()
        window.background.outbound_changed.connect(self._refresh_phone)
        window.background.inbound_changed.connect(lambda _report: self._refresh_phone())

        window.matter_view_opened.connect(self.connect_matter_view)
        for view in window.matter_views():
            self.connect_matter_view(view)

        from desktop_sms.ui.bulk_integration import install_bulk

        self.bulk = install_bulk(window, self.queue_page)  # Text selected…, batches

    # --- compose -------------------------------------------------------------------------
    def connect_matter_view(self, view: MatterView) -> None:
        """Actions → Send SMS… on this matter opens the compose dialog."""
        view.send_sms_requested.connect(
            lambda matter_id, v=view: self.open_compose(matter_id, v))
        # Sandbox only: the Simulated phone opened from a case is that client's mobile.
        phone_action = QAction("Reply as the client (Simulated phone)…", view)
        phone_action.setObjectName("casePhoneAction")
        phone_action.triggered.connect(lambda _c=False, v=view: self.open_simulated_phone(v))
        phone_action.setVisible(self.phone_action.isVisible())
        view.actions_menu.addAction(phone_action)
        view.actions_menu.aboutToShow.connect(
            lambda a=phone_action: a.setVisible(self._sandbox_mode()))
        view.update_actions()

    def open_compose(self, matter_id: int, view: MatterView | None = None) -> ComposeDialog | None:
        """Open (or bring back) the compose dialog of a matter, non-blocking."""
        window = self.window
        if not window.actor.sms_access:
            box = QMessageBox(QMessageBox.Icon.Information, "Send SMS",
                              "You need SMS access to send texts; ask the office manager.",
                              QMessageBox.StandardButton.Ok, view or window)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            return None
        existing = self.compose_dialogs.get(matter_id)
        if existing is not None and existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return existing
        parent = view or window.matter_view(matter_id) or window
        dialog = ComposeDialog(window.services, window.actor, window.runner, matter_id,
                               parent=parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.message_queued.connect(lambda _id: window.background.outbound_changed.emit())
        dialog.consent_changed.connect(self._matter_changed)
        dialog.finished.connect(lambda _r, m=matter_id, d=dialog: self._forget_compose(m, d))
        self.compose_dialogs[matter_id] = dialog
        dialog.open()
        return dialog

    def _forget_compose(self, matter_id: int, dialog: ComposeDialog) -> None:
        if self.compose_dialogs.get(matter_id) is dialog:
            del self.compose_dialogs[matter_id]

    def _matter_changed(self, matter_id: int) -> None:
        view = self.window.matter_view(matter_id)
        if view is not None:
            view.reload()
        self.window.cases_page.refresh()

    # --- simulated phone -----------------------------------------------------------------
    def update_phone_action(self) -> None:
        """The Simulated phone exists only in sandbox mode."""
        # The "provider" setting is what ProviderFactory.mode() reports; read directly so test
        # factories that skip ProviderFactory.__init__ (outbound_fixtures) still work.
        self.phone_action.setVisible(self._sandbox_mode())

    def _sandbox_mode(self) -> bool:
        return str(self.window.services.settings.get("provider")) == "sandbox"

    def open_simulated_phone(self, view: MatterView | None = None) -> SimulatedPhoneWindow:
        """SMS → Simulated phone…: one window, shown and raised.

        Opened from a case window (view, or the case window that is active), the phone is
        that case's client mobile rather than the first client listed.
        """
        if view is None or not isinstance(view, MatterView):
            active = QApplication.activeWindow()
            view = active if isinstance(active, MatterView) else None
        number = view.detail.mobile_raw if view is not None and view.detail else None
        if self.phone_window is None:
            phone = SimulatedPhoneWindow(self.window.services, self.window.runner,
                                         parent=self.window)
            phone.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            phone.destroyed.connect(self._forget_phone)
            self.phone_window = phone
        if number:
            self.phone_window.set_number(number)
        self.phone_window.show()
        self.phone_window.raise_()
        self.phone_window.activateWindow()
        return self.phone_window

    def _forget_phone(self) -> None:
        self.phone_window = None

    def _refresh_phone(self) -> None:
        if self.phone_window is not None:
            self.phone_window.refresh()


def install_outbound(window: MainWindow) -> None:
    """Add the outbound UI to the window (once; calling again changes nothing)."""
    if outbound_ui(window) is None:
        OutboundUi(window)


def outbound_ui(window: MainWindow) -> OutboundUi | None:
    """The outbound UI installed on the window, if any."""
    return window.findChild(OutboundUi, "outboundUi")
