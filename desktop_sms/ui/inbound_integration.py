"""Wires the inbound side into the main window (docs/product.md F7–F9) without editing the window.

`install_inbound(window)` adds SMS → Received (with the needs-review count on its tab), gives
every matter window its Notes (with thumbnails), Documents and SMS log tabs, and refreshes
them when the poller or the dispatcher reports a change, or a message is linked by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QTabBar, QWidget

from desktop_sms.services.notes import list_notes
from desktop_sms.ui.widgets.case_notes_widget import CaseNotesWidget
from desktop_sms.ui.widgets.documents_pane import DocumentsPane, widget_alive
from desktop_sms.ui.widgets.sms_log_widget import SmsLogTurnedOff, SmsLogWidget
from desktop_sms.ui.windows.main_window import MainWindow
from desktop_sms.ui.windows.matter_view import MatterView
from desktop_sms.ui.windows.received_page import ReceivedPage
from desktop_sms.ui.windows.sms_page import SmsPage, sms_page_for

log = logging.getLogger(__name__)

RECEIVED_TAB = "Received"
SMS_LOG_SETTING = "case_sms_log"


@dataclass
class MatterTabs:
    """The inbound tabs of one open matter window."""

    view: MatterView
    notes: CaseNotesWidget
    documents: DocumentsPane
    sms_log: SmsLogWidget | None  # None while the SMS log is turned off


class InboundIntegration(QObject):
    """Owns the Received page and the inbound tabs of matter windows; one per main window."""

    _setting_changed = Signal(str, object)  # hops settings listeners to the GUI thread

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("inboundIntegration")
        self.window = window
        inbound = window.services.inbound
        self.received = inbound.received
        self.linking = inbound.linking
        self._tabs: dict[int, MatterTabs] = {}
        self.sms_log_enabled = bool(window.services.settings.get(SMS_LOG_SETTING))
        self.received_page: ReceivedPage | None = None
        self.badge: QLabel | None = None
        if window.actor.sms_access:  # no SMS page, so no Received Log, without SMS access
            self.received_page = ReceivedPage(
                self.received, self.linking, window.runner, window.actor,
                try_again=lambda actor, failure_id: inbound.ingest.try_again(
                    actor, failure_id, window.services.providers))
            self._sms_page().add_tab(RECEIVED_TAB, self.received_page)
            self.received_page.needs_review_count_changed.connect(self.show_needs_review_count)
            self.received_page.links_changed.connect(self.refresh_matters)

        window.matter_view_opened.connect(self.install_on_view)
        for view in window.matter_views():
            self.install_on_view(view)
        window.background.inbound_changed.connect(self.on_inbound_changed)
        window.background.outbound_changed.connect(self.on_outbound_changed)
        self._setting_changed.connect(self._apply_setting, Qt.ConnectionType.QueuedConnection)
        window.services.settings.subscribe(self._on_setting_changed)

    def _sms_page(self) -> SmsPage:
        return sms_page_for(self.window)

    # --- the Received tab's count ---------------------------------------------------------
    def show_needs_review_count(self, count: int) -> None:
        """Show how many messages need review on the Received tab (a badge; the tab keeps
        its name so other features can still find it by "Received")."""
        page = self._sms_page()
        index = page.tab_index(RECEIVED_TAB)
        if index < 0:
            return
        bar = page.tabs.tabBar()
        if self.badge is None or not widget_alive(self.badge):
            self.badge = QLabel()
            self.badge.setObjectName("needsReviewBadge")
            self.badge.setTextFormat(Qt.TextFormat.PlainText)
            self.badge.setStyleSheet("QLabel#needsReviewBadge { background: #b42318; color: white;"
                                     " border-radius: 8px; padding: 0 6px; font-weight: 600; }")
        self.badge.setText(str(count))
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = self.badge.sizeHint()
        self.badge.setFixedSize(max(hint.width(), hint.height()), hint.height())
        # Set again each time so the tab bar makes room for the new width.
        bar.setTabButton(index, QTabBar.ButtonPosition.RightSide, None)
        bar.setTabButton(index, QTabBar.ButtonPosition.RightSide, self.badge)
        self.badge.setAccessibleName(f"{count} need review")
        self.badge.setVisible(count > 0)
        page.tabs.setTabToolTip(index, f"{count} received message{'s' if count != 1 else ''} "
                                       "need review" if count else "Every received message "
                                                                    "is filed on a case")

    def needs_review_text(self) -> str:
        """The Received tab's title as shown: 'Received (2)', or 'Received'."""
        if self.badge is None or not widget_alive(self.badge) or not self.badge.isVisibleTo(
                self.badge.parentWidget()):
            return RECEIVED_TAB
        return f"{RECEIVED_TAB} ({self.badge.text()})"

    # --- matter windows ------------------------------------------------------------------
    def install_on_view(self, view: MatterView) -> None:
        """Give a matter window its Notes, Documents and SMS log tabs."""
        if view.matter_id in self._tabs and self._tabs[view.matter_id].view is view:
            return
        runner = self.window.runner
        db = self.window.services.db
        # The notes the old pane showed are shown at once (the same read the view's reload()
        # makes); their photos follow from the runner.
        notes = CaseNotesWidget(db, self.received, runner, view.matter_id,
                                notes=list_notes(db, view.matter_id))
        # MatterView.reload() calls notes_pane.set_notes(); this widget takes that call.
        view.notes_pane = notes  # type: ignore[assignment]
        view.set_tab("Notes", notes)
        documents = DocumentsPane(self.received, runner, view.matter_id)
        view.set_tab("Documents", documents)
        tabs = MatterTabs(view, notes, documents, None)
        self._tabs[view.matter_id] = tabs
        self._set_sms_log(tabs)
        view.closed.connect(self._forget)

    def _set_sms_log(self, tabs: MatterTabs) -> None:
        if self.sms_log_enabled:
            from desktop_sms.ui.conversations_ui import build_sms_log  # read state, reply box

            tabs.sms_log = build_sms_log(self.window, self.received, tabs.view.matter_id)
            tabs.view.set_tab("SMS log", tabs.sms_log)
        else:
            tabs.sms_log = None
            tabs.view.set_tab("SMS log", SmsLogTurnedOff())

    def _forget(self, matter_id: int) -> None:
        self._tabs.pop(matter_id, None)

    def tabs_of(self, matter_id: int) -> MatterTabs | None:
        """The inbound tabs of an open matter window."""
        tabs = self._tabs.get(matter_id)
        if tabs is not None and not widget_alive(tabs.view):
            self._tabs.pop(matter_id, None)
            return None
        return tabs

    # --- refreshing ----------------------------------------------------------------------
    def refresh_matters(self, matter_ids: Iterable[int] | None = None) -> None:
        """Re-read notes, documents and SMS log of these open matters (all when None)."""
        wanted = set(self._tabs) if matter_ids is None else set(matter_ids)
        for matter_id in sorted(wanted):
            tabs = self.tabs_of(matter_id)
            if tabs is None:
                continue
            tabs.notes.refresh()
            tabs.documents.refresh()
            if tabs.sms_log is not None:
                tabs.sms_log.refresh()

    def on_inbound_changed(self, report: Any) -> None:
        """The poller stored or filed replies (or fetched late media)."""
        if self.received_page is not None:
            self.received_page.refresh()
        filed = getattr(report, "filed_matter_ids", None)
        if filed is None or getattr(report, "media_completed_ids", None):
            self.refresh_matters(None)  # late media may belong to any open case
        else:
            self.refresh_matters(filed)

    def on_outbound_changed(self) -> None:
        """A text was sent, failed, delivered …: the open SMS logs show new statuses."""
        for matter_id in list(self._tabs):
            tabs = self.tabs_of(matter_id)
            if tabs is not None and tabs.sms_log is not None:
                tabs.sms_log.refresh()

    # --- the case_sms_log setting --------------------------------------------------------
    def _on_setting_changed(self, key: str, value: Any) -> None:
        # Settings listeners run on whichever thread committed the change.
        if key != SMS_LOG_SETTING:
            return
        try:
            self._setting_changed.emit(key, value)
        except RuntimeError:  # the window is gone
            pass

    def _apply_setting(self, key: str, value: Any) -> None:
        enabled = value if isinstance(value, bool) else str(value).strip().lower() in (
            "true", "1", "yes", "on")
        if enabled == self.sms_log_enabled:
            return
        self.sms_log_enabled = enabled
        for matter_id in list(self._tabs):
            tabs = self.tabs_of(matter_id)
            if tabs is not None:
                self._set_sms_log(tabs)


def inbound_integration_of(window: QWidget) -> InboundIntegration | None:
    """The integration installed on a window, if any."""
    return window.findChild(InboundIntegration, "inboundIntegration")


def install_inbound(window: MainWindow) -> None:
    """Add SMS → Received and the inbound tabs of matter windows (once per window)."""
    if inbound_integration_of(window) is not None:
        return
    InboundIntegration(window)
    log.info("inbound views installed")
