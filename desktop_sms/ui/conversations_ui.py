"""Wires conversations into the main window (docs/conversations.md) without editing it.

``install_conversations(window)`` adds SMS → Sent and SMS → Search, read state and Reply on
Home, Reply… on the Received Log, unread marks on the case list and on each case's SMS log
tab, and opens cases at a message. ``build_sms_log`` makes a case's SMS log with the reply box
(the inbound integration calls it whenever it (re)creates the tab).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCursor, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QTabBar, QWidget

from desktop_sms.services.conversations import ReplyTarget
from desktop_sms.services.received import ReceivedLog
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.reply_box import ReplyBox
from desktop_sms.ui.widgets.sms_log_widget import SmsLogWidget
from desktop_sms.ui.windows.home_page import HomePage
from desktop_sms.ui.windows.matter_view import MatterView
from desktop_sms.ui.windows.search_page import SearchPage
from desktop_sms.ui.windows.sent_page import SentPage
from desktop_sms.ui.windows.sms_page import SmsPage, sms_page_for

if TYPE_CHECKING:
    from desktop_sms.ui.windows.main_window import MainWindow

log = logging.getLogger(__name__)

SENT_TAB = "Sent"
SEARCH_TAB = "Search"
SMS_LOG_TAB = "SMS log"


@dataclass(frozen=True)
class Counts:
    """What the unread marks show (read on the runner)."""

    unread_mine: int
    unread_by_matter: dict[int, int]
    needs_response: set[int]


def build_sms_log(window: MainWindow, received: ReceivedLog, matter_id: int) -> SmsLogWidget:
    """A case's SMS log: read state for the user and, with SMS access, the reply box."""
    actor = window.actor
    services = window.services
    if not actor.sms_access:
        return SmsLogWidget(received, window.runner, matter_id)
    widget = SmsLogWidget(received, window.runner, matter_id,
                          conversations=services.conversations, actor=actor)
    box = ReplyBox(services, actor, window.runner, matter_id, parent=widget)
    widget.set_footer(box)
    box.sent.connect(lambda _id: window.background.outbound_changed.emit())
    ui = conversations_ui_of(window)
    if ui is not None:
        widget.read_changed.connect(lambda _m: ui.refresh_counts())
        box.state_changed.connect(ui.refresh_counts)
        box.sent.connect(lambda _id: ui.refresh_counts())
    return widget


class ConversationsUi(QObject):
    """The window's conversation pieces; one per main window."""

    counts_changed = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("conversationsUi")
        self.window = window
        services, actor = window.services, window.actor
        self.conversations = services.conversations
        self.counts = Counts(0, {}, set())
        self.sent_page: SentPage | None = None
        self.search_page: SearchPage | None = None
        self.reply_button: QPushButton | None = None
        self.reply_menu: QMenu | None = None
        self._badges: dict[int, QLabel] = {}
        self._generation = 0
        self._count_timer = QTimer(self)  # coalesces bursts of changes into one read
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(0)
        self._count_timer.timeout.connect(self._read_counts)

        if actor.sms_access:
            page = self._sms_page()
            self.sent_page = SentPage(services, actor, window.runner)
            self.sent_page.open_matter_requested.connect(
                lambda m, i: self.open_at_message(m, "outbound", i))
            page.add_tab(SENT_TAB, self.sent_page)
            page.tabs.currentChanged.connect(self._sms_tab_changed)
            self.search_page = SearchPage(services.conversations, actor, window.runner)
            self.search_page.open_message_requested.connect(self.open_at_message)
            page.add_tab(SEARCH_TAB, self.search_page)
            window.background.outbound_changed.connect(self._outbound_changed)
            self._install_received_reply()
            self.search_action = QAction("&Search messages…", window)
            self.search_action.setObjectName("searchMessagesAction")
            self.search_action.setShortcut(QKeySequence("Ctrl+Shift+F"))
            self.search_action.triggered.connect(self.show_search)
            window.sms_menu.addAction(self.search_action)

        home = window.page("Home")
        if isinstance(home, HomePage) and actor.sms_access:
            home.set_conversations(services.conversations)
            home.reply_requested.connect(self.open_reply)
        window.background.inbound_changed.connect(lambda _report: self.refresh_counts())
        window.matter_view_opened.connect(self.install_on_view)
        for view in window.matter_views():
            self.install_on_view(view)
        window.cases_page.model.modelReset.connect(self._apply_case_marks)
        self.refresh_counts()

    def _sms_page(self) -> SmsPage:
        return sms_page_for(self.window)

    # --- counts --------------------------------------------------------------------------
    def refresh_counts(self) -> None:
        """Read the unread and needs-response marks again (soon, on the runner)."""
        self._count_timer.start()

    def _read_counts(self) -> None:
        user_id = self.window.actor.user_id
        if user_id is None or not self.window.actor.sms_access:
            return
        self._generation += 1
        generation = self._generation
        conv = self.conversations

        def read() -> Counts:
            return Counts(conv.unread_count(user_id), conv.unread_by_matter(user_id),
                          conv.needs_response())

        self.window.runner.run(read, on_success=lambda c: self._show_counts(generation, c))

    def _show_counts(self, generation: int, counts: Counts) -> None:
        if generation != self._generation:
            return
        self.counts = counts
        page = self._sms_page()
        heading = page.findChild(QLabel, "pageHeading")
        if heading is not None:
            heading.setText(f"SMS — {counts.unread_mine} unread repl"
                            f"{'y' if counts.unread_mine == 1 else 'ies'} on your cases"
                            if counts.unread_mine else "SMS")
        for view in self.window.matter_views():
            self._show_tab_badge(view)
        self._apply_case_marks()
        home = self.window.page("Home")
        if isinstance(home, HomePage) and home.conversations is not None:
            home.refresh()
        self.counts_changed.emit()

    def _apply_case_marks(self) -> None:
        model = self.window.cases_page.model
        marks = getattr(model, "set_marks", None)
        if callable(marks):
            marks(self.counts.unread_by_matter, self.counts.needs_response)

    def sms_log_tab_text(self, matter_id: int) -> str:
        """The SMS log tab's title as shown: 'SMS log (2)' with two unread replies."""
        badge = self._badges.get(matter_id)
        if badge is None or not widget_alive(badge) or badge.isHidden():
            return SMS_LOG_TAB
        return f"{SMS_LOG_TAB} ({badge.text()})"

    def _show_tab_badge(self, view: MatterView) -> None:
        index = view.tab_index(SMS_LOG_TAB)
        if index < 0 or not widget_alive(view):
            return
        count = self.counts.unread_by_matter.get(view.matter_id, 0)
        badge = self._badges.get(view.matter_id)
        if badge is None or not widget_alive(badge):
            badge = QLabel()
            badge.setObjectName("unreadBadge")
            badge.setTextFormat(Qt.TextFormat.PlainText)
            badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
            badge.setStyleSheet("QLabel#unreadBadge { background: #1d5fa8; color: white;"
                                " border-radius: 8px; padding: 0 6px; font-weight: 600; }")
            self._badges[view.matter_id] = badge
        badge.setText(str(count))
        bar = view.tabs.tabBar()
        bar.setTabButton(index, QTabBar.ButtonPosition.RightSide, None)
        bar.setTabButton(index, QTabBar.ButtonPosition.RightSide, badge)
        badge.setAccessibleName(f"{count} unread")
        badge.setVisible(count > 0)
        view.tabs.setTabToolTip(index, f"{count} unread repl{'y' if count == 1 else 'ies'}"
                                if count else "")

    # --- matter windows ------------------------------------------------------------------
    def install_on_view(self, view: MatterView) -> None:
        """Actions → Export conversation…, and the SMS log tab's unread badge."""
        if self.window.actor.sms_access and view.findChild(QObject, "exportAction") is None:
            from desktop_sms.ui.export_conversation import add_export_action

            add_export_action(self.window, view)
        self._show_tab_badge(view)

    def sms_log_of(self, matter_id: int) -> SmsLogWidget | None:
        """The open SMS log widget of a matter."""
        view = self.window.matter_view(matter_id)
        tab = view.tab(SMS_LOG_TAB) if view is not None else None
        return tab if isinstance(tab, SmsLogWidget) else None

    def open_at_message(self, matter_id: int, direction: str, message_id: int) -> MatterView:
        """Open a case at its SMS log, scrolled to a message and outlined."""
        view = self.window.open_matter(matter_id)
        view.tabs.setCurrentIndex(view.tab_index(SMS_LOG_TAB))
        log_widget = self.sms_log_of(matter_id)
        if log_widget is not None:
            log_widget.focus_message(direction, message_id)
        return view

    def open_reply(self, matter_id: int, inbound_id: int = 0) -> ReplyBox | None:
        """Reply: the case's SMS log at that reply, the reply box answering its number."""
        view = self.open_at_message(matter_id, "inbound", inbound_id)
        log_widget = self.sms_log_of(matter_id)
        box = log_widget.footer if log_widget is not None else None
        if not isinstance(box, ReplyBox):
            return None
        if inbound_id:
            self.window.runner.run(self.conversations.reply_number, inbound_id,
                                   on_success=lambda number, b=box: self._answer(b, number))
        box.edit.setFocus()
        view.activateWindow()
        return box

    @staticmethod
    def _answer(box: ReplyBox, number: str) -> None:
        if widget_alive(box):
            box.set_recipient(number)

    # --- SMS page ------------------------------------------------------------------------
    def show_search(self) -> SearchPage | None:
        """SMS → Search messages… (Ctrl+Shift+F): the Search tab with its box focused."""
        if self.search_page is None:
            return None
        self.window.show_page("SMS")
        self._sms_page().show_tab(SEARCH_TAB)
        self.search_page.search_edit.setFocus()
        self.search_page.search_edit.selectAll()
        return self.search_page

    def _sms_tab_changed(self, _index: int) -> None:
        page = self._sms_page()
        current = page.tabs.currentWidget()
        if current is not None and current is self.sent_page:
            self.sent_page.refresh()

    def _outbound_changed(self) -> None:
        if self.sent_page is not None and self.sent_page.isVisible():
            self.sent_page.refresh()
        self.refresh_counts()

    def _install_received_reply(self) -> None:
        from desktop_sms.ui.windows.received_page import ReceivedPage

        page = self._sms_page().tab("Received")
        if not isinstance(page, ReceivedPage):
            return
        button = QPushButton("&Reply…")
        button.setObjectName("receivedReply")
        button.setToolTip("Answer the selected reply in its case's SMS log")
        button.clicked.connect(lambda: self.reply_to_received(page))
        top = page.layout()
        first = top.itemAt(0) if top is not None else None
        row = first.layout() if first is not None else None
        if row is not None:
            row.addWidget(button)  # type: ignore[attr-defined]
        self.reply_button = button

    def reply_to_received(self, page: Any) -> QMenu | None:
        """Reply… on the Received Log: the selected reply's case (or a choice of cases)."""
        msg = page.selected_message()
        if msg is None:
            return None
        targets = [ReplyTarget(lk.matter_id, lk.case_number, "") for lk in msg.links]
        selected = page.selected_link()
        if selected is not None and len(targets) > 1:
            targets = [t for t in targets if t.matter_id == selected.matter_id]
        if not targets:
            page._show_error("This reply is not filed on a case yet; use Link to case… first.")
            return None
        if len(targets) == 1:
            self.open_reply(targets[0].matter_id, msg.id)
            return None
        menu = QMenu(page)
        menu.setObjectName("replyCaseMenu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for target in targets:
            action = menu.addAction(f"Reply on case {target.case_number}")
            action.triggered.connect(
                lambda _c=False, m=target.matter_id, i=msg.id: self.open_reply(m, i))
        self.reply_menu = menu
        menu.popup(QCursor.pos())
        return menu


def conversations_ui_of(window: QWidget) -> ConversationsUi | None:
    """The conversations UI installed on a window, if any."""
    return window.findChild(ConversationsUi, "conversationsUi")


def install_conversations(window: MainWindow) -> ConversationsUi:
    """Add the conversation features to the window (once)."""
    found = conversations_ui_of(window)
    if found is not None:
        return found
    ui = ConversationsUi(window)
    log.info("conversation views installed")
    return ui
