"""One matter in its own window: header, Actions menu and the Notes / Documents / SMS log / Tasks tabs.

Later features plug in without editing this file: connect to ``send_sms_requested``,
``add_task_requested`` or ``add_event_requested`` (the Actions entries enable themselves once
connected) and replace a tab's placeholder with ``set_tab(name, widget)``.
"""

from __future__ import annotations

from PySide6.QtCore import SIGNAL, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.consent import ClientTextStatus
from desktop_sms.services.container import Services
from desktop_sms.services.matters import MatterDetail
from desktop_sms.services.notes import list_notes
from desktop_sms.ui.dialogs.case_form_dialog import CaseFormDialog
from desktop_sms.ui.dialogs.consent_dialog import ConsentDialog
from desktop_sms.ui.dialogs.note_dialog import NoteDialog
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.named_tabs import NamedTabs
from desktop_sms.ui.widgets.notes_pane import NotesPane, local_time
from desktop_sms.ui.widgets.placeholder_page import PlaceholderPage

TAB_NAMES = ("Notes", "Documents", "SMS log", "Tasks & events")
COMING_SOON = "Coming soon"
CONSENT_TEXT = {"yes": "Yes", "no": "No", "not_asked": "Not asked"}


def _plain_label(text: str = "") -> QLabel:
    """A label that never interprets its text as HTML (client data goes in these)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


def consent_text(detail: MatterDetail) -> str:
    """'Yes — recorded by Pat on 2024-05-01 10:00', or 'Not asked'."""
    text = CONSENT_TEXT.get(detail.consent, detail.consent)
    if detail.consent != "not_asked" and (detail.consent_by or detail.consent_at):
        text += " — recorded"
        if detail.consent_by:
            text += f" by {detail.consent_by}"
        if detail.consent_at:
            text += f" on {local_time(detail.consent_at)}"
    return text


class MatterView(QWidget):
    """A matter's window; one per matter, kept by the main window."""

    send_sms_requested = Signal(int)
    add_task_requested = Signal(int)
    add_event_requested = Signal(int)
    matter_changed = Signal(int)  # the case was edited here: lists showing it should refresh
    closed = Signal(int)

    def __init__(self, services: Services, actor: Actor, matter_id: int,
                 parent: QWidget | None = None, runner: TaskRunner | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self._runner = runner if runner is not None else TaskRunner(self)
        self.consent_dialog: ConsentDialog | None = None
        self.ask_box: QMessageBox | None = None
        self.text_status: ClientTextStatus | None = None
        self.setObjectName("matterView")
        self._services = services
        self._actor = actor
        self.matter_id = matter_id
        self.detail: MatterDetail | None = None
        self.form_dialog: CaseFormDialog | None = None
        self.resize(820, 600)

        self.case_number_label = _plain_label()
        self.case_number_label.setObjectName("pageHeading")
        self.client_label = _plain_label()
        self.client_label.setObjectName("clientName")
        self.stage_label = _plain_label()
        self.mobile_label = _plain_label()
        self.home_label = _plain_label()
        self.consent_label = _plain_label()
        self.assignees_label = _plain_label()
        self.texts_label = _plain_label()
        self.texts_label.setObjectName("textsStatus")
        self.consent_history_label = _plain_label()
        self.consent_history_label.setObjectName("consentHistory")

        self.actions_button = QToolButton()
        self.actions_button.setText("&Actions")
        self.actions_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.actions_menu = QMenu(self.actions_button)
        self.actions_menu.setToolTipsVisible(True)
        self.send_sms_action = self._action("Send SMS…", self.send_sms_requested)
        self.add_task_action = self._action("Add task…", self.add_task_requested)
        self.add_event_action = self._action("Add calendar event…", self.add_event_requested)
        self.actions_menu.addSeparator()
        self.record_consent_action = QAction("Record SMS consent…", self)
        self.record_consent_action.triggered.connect(self.record_consent)
        self.actions_menu.addAction(self.record_consent_action)
        self.ask_by_text_action = QAction("Ask by text…", self)
        self.ask_by_text_action.triggered.connect(self.ask_by_text)
        self.actions_menu.addAction(self.ask_by_text_action)
        self.edit_action = QAction("Edit case…", self)
        self.edit_action.triggered.connect(self.edit_case)
        self.actions_menu.addAction(self.edit_action)
        self.actions_menu.aboutToShow.connect(self.update_actions)
        self.actions_button.setMenu(self.actions_menu)

        title_row = QHBoxLayout()
        title_col = QVBoxLayout()
        title_col.addWidget(self.case_number_label)
        title_col.addWidget(self.client_label)
        title_row.addLayout(title_col, 1)
        # Add note… beside Actions; Ctrl+W closes the case window (as in other desktop apps).
        self.note_dialog: NoteDialog | None = None
        self.add_note_button = QPushButton("Add &note…")
        self.add_note_button.setObjectName("addNoteButton")
        self.add_note_button.clicked.connect(self.add_note)
        title_row.addWidget(self.add_note_button, 0, Qt.AlignmentFlag.AlignTop)
        self.close_shortcut = QShortcut(QKeySequence("Ctrl+W"), self)
        self.close_shortcut.activated.connect(self.close)
        title_row.addWidget(self.actions_button, 0, Qt.AlignmentFlag.AlignTop)

        facts = QFormLayout()
        facts.addRow("Stage", self.stage_label)
        facts.addRow("Mobile", self.mobile_label)
        facts.addRow("Home phone", self.home_label)
        facts.addRow("SMS consent", self.consent_label)
        facts.addRow("Texts", self.texts_label)
        facts.addRow("Consent history", self.consent_history_label)
        facts.addRow("Assigned", self.assignees_label)

        self.tabs = NamedTabs()
        self.notes_pane = NotesPane()
        self.set_tab("Notes", self.notes_pane)
        self.set_tab("Documents", PlaceholderPage(
            "Documents", "Documents of this case will appear here."))
        self.set_tab("SMS log", PlaceholderPage(
            "SMS log", "Texts sent from and filed on this case will appear here."))
        self.set_tab("Tasks & events", PlaceholderPage(
            "Tasks & events", "Tasks and calendar events of this case will appear here."))

        layout = QVBoxLayout(self)
        layout.addLayout(title_row)
        layout.addLayout(facts)
        layout.addWidget(self.tabs, 1)
        self.reload()

    # --- public hooks ------------------------------------------------------------------
    def set_tab(self, name: str, widget: QWidget) -> None:
        """Put widget in the named tab (replacing its placeholder), or add a new tab."""
        self.tabs.put(name, widget)

    def tab(self, name: str) -> QWidget | None:
        """The widget of a tab, or None."""
        return self.tabs.named(name)

    def tab_index(self, name: str) -> int:
        """The index of a tab by its name, or -1."""
        return self.tabs.index_of(name)

    def tab_names(self) -> list[str]:
        """The tabs, in order."""
        return self.tabs.names()

    def reload(self) -> None:
        """Read the matter and its notes again and show them."""
        d = self._services.matters.detail(self.matter_id)
        self.detail = d
        self.setWindowTitle(f"{d.case_number} — {d.client_name} — Desktop SMS")
        self.case_number_label.setText(f"Case {d.case_number}")
        self.client_label.setText(d.client_name)
        self.stage_label.setText(d.stage)
        self.mobile_label.setText(d.mobile_raw or "—")
        self.home_label.setText(d.home_raw or "—")
        self.consent_label.setText(consent_text(d))
        self._show_text_status(self._services.consent.status(self.matter_id))
        self.assignees_label.setText(
            ", ".join(f"{name} ({kind})" for name, kind, _ in d.assignees) or "Nobody")
        self.notes_pane.set_notes(list_notes(self._services.db, self.matter_id))
        self.update_actions()

    def update_actions(self) -> None:
        """Enable each Actions entry whose signal a feature has connected; else 'coming soon'."""
        for action, signature in ((self.send_sms_action, "send_sms_requested(int)"),
                                  (self.add_task_action, "add_task_requested(int)"),
                                  (self.add_event_action, "add_event_requested(int)")):
            connected = self.receivers(SIGNAL(signature)) > 0
            action.setEnabled(connected)
            action.setToolTip("" if connected else COMING_SOON)

    def edit_case(self) -> CaseFormDialog:
        """Open the case form on this matter (non-blocking)."""
        dialog = CaseFormDialog(self._services.matters, self._actor, self.matter_id, parent=self)
        dialog.saved.connect(self._on_saved)
        dialog.finished.connect(dialog.deleteLater)
        self.form_dialog = dialog
        dialog.open()
        return dialog

    def add_note(self) -> NoteDialog:
        """Open Add note… on this matter (non-blocking); the notes reload once it is saved."""
        d = self.detail
        assert d is not None
        dialog = NoteDialog(self._services.db, self._actor, self._runner, self.matter_id,
                            d.case_number, self._services.clock, parent=self)
        dialog.saved.connect(lambda _id: self._on_saved(self.matter_id))
        dialog.finished.connect(dialog.deleteLater)
        self.note_dialog = dialog
        dialog.open()
        return dialog

    def record_consent(self) -> ConsentDialog:
        """Open the two-step consent dialog (choose, then confirm) for this matter."""
        d = self.detail
        assert d is not None
        dialog = ConsentDialog(self._services, self._actor, self._runner, self.matter_id,
                               d.case_number, str(self._services.settings.get(
                                   "sms_consent_instructions")), parent=self)
        dialog.recorded.connect(lambda _id: self._on_saved(self.matter_id))
        dialog.finished.connect(dialog.deleteLater)
        self.consent_dialog = dialog
        dialog.open()
        return dialog

    def ask_by_text(self) -> QMessageBox:
        """Confirm, then queue the office's consent request to the client's mobile."""
        box = QMessageBox(QMessageBox.Icon.Question, "Ask by text",
                          "Send the consent request to the client's mobile?\n\n"
                          + self._services.consent.request_text(),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.accepted.connect(self._send_consent_request)
        box.finished.connect(box.deleteLater)
        self.ask_box = box
        box.open()
        return box

    # --- internals ---------------------------------------------------------------------
    def _send_consent_request(self) -> None:
        self._runner.run(self._services.consent.ask_by_text, self._actor, self.matter_id,
                         on_success=lambda _id: self._on_saved(self.matter_id),
                         on_failure=self._consent_request_failed)

    def _consent_request_failed(self, exc: BaseException) -> None:
        self.texts_label.setText(str(exc) if isinstance(exc, ServiceError)
                                 else f"The consent request could not be sent: {exc}")

    def _show_text_status(self, status: ClientTextStatus) -> None:
        self.text_status = status
        if status.opted_out:
            scope = ("no number of this client can be texted" if status.scope == "client"
                     else "that number can't be texted")
            self.texts_label.setText(f"Opted out — {status.stop_sentence()} ({scope}.)")
            if status.consent == "yes":
                self.consent_label.setText(self.consent_label.text()
                                           + " — but the client has since replied STOP")
            self.texts_label.setStyleSheet("color: #a40000; font-weight: bold;")
        else:
            requested = (f"; consent asked by text on {local_time(status.request_sent_at)}"
                         if status.request_sent_at else "")
            self.texts_label.setText("Allowed" + requested)
            self.texts_label.setStyleSheet("")
        self.consent_history_label.setText(
            "\n".join(h.line() for h in status.history) or "No answer recorded")
        can_ask = (status.consent == "not_asked" and status.request_sent_at is None
                   and not status.opted_out and bool(self.detail and self.detail.mobile_e164))
        self.ask_by_text_action.setEnabled(can_ask)

    def _action(self, text: str, signal: SignalInstance) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda: signal.emit(self.matter_id))
        self.actions_menu.addAction(action)
        return action

    def _on_saved(self, _matter_id: int) -> None:
        self.reload()
        self.matter_changed.emit(self.matter_id)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit(self.matter_id)
        super().closeEvent(event)
