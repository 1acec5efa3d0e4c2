"""The Home page (docs/product.md F12): replies on my cases (the alert block), then my upcoming work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.alerts import AlertRow, AlertService
from desktop_sms.services.common import Actor, Clock, utcnow
from desktop_sms.services.conversations import ConversationService
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

COLUMNS = ("Received", "Case", "Client", "From", "Message")
EMPTY_TEXT = "No new replies on your cases."
DISMISS_NOTE = "Dismiss removes an alert for everyone who can see it."
DISMISS_QUESTION = ("Dismiss this alert for everyone who can see it? The reply stays on the "
                    "case's SMS log.")
UNDO_MS = 8_000
STATE_COLUMN = "State"


@dataclass
class HomeSnapshot:
    """One load of the Home block: the alerts and, with conversations, their read state."""

    rows: list[AlertRow]
    read: set[int] = field(default_factory=set)  # inbound ids the user has read
    needs_response: set[int] = field(default_factory=set)  # matter ids
    unread: int = 0  # unread replies on the user's cases


def when_text(when: datetime, now: datetime) -> str:
    """'14:05' today, else 'Mon 2 Mar 14:05' (local time)."""
    local = when.astimezone() if when.tzinfo else when
    today = now.astimezone().date() if now.tzinfo else now.date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return f"{local:%a} {local.day} {local:%b %H:%M}"


class HomePage(QWidget):
    """The signed-in user's alerts, newest first; Open shows the matter, Dismiss is for all."""

    count_changed = Signal(int)  # open alerts the user sees (the Home navigation entry)
    open_matter_requested = Signal(int)  # matter id
    reply_requested = Signal(int, int)  # matter id, inbound id
    refreshed = Signal(int)  # rows shown after a refresh
    undo_finished = Signal(bool)  # True: the dismissal was undone

    def __init__(self, alerts: AlertService, actor: Actor, runner: TaskRunner,
                 clock: Clock = utcnow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("homePage")
        self.alerts = alerts
        self.actor = actor
        self.runner = runner
        self.clock = clock
        self._rows: list[AlertRow] = []
        self._generation = 0
        self._count = -1
        self.conversations: ConversationService | None = None
        self.snapshot = HomeSnapshot([])
        self.confirm_box: QMessageBox | None = None
        self.undo_alert_id: int | None = None
        self.undo_timer = QTimer(self)  # tests fire timeout themselves instead of waiting
        self.undo_timer.setSingleShot(True)
        self.undo_timer.setInterval(UNDO_MS)
        self.undo_timer.timeout.connect(self._undo_expired)

        self.heading = QLabel("Replies on your cases")
        self.heading.setObjectName("homeAlertsHeading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.heading.setFont(font)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("alertsTable")
        self.table.setAccessibleName("Replies on your cases")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("homeAlertsEmpty")
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.open_button = QPushButton("&Open case")
        self.dismiss_button = QPushButton("&Dismiss")
        self.dismiss_button.setToolTip(DISMISS_NOTE)
        self.reply_button = QPushButton("&Reply")
        self.reply_button.setToolTip("Answer in the case's SMS log")
        self.reply_button.setVisible(False)
        self.open_button.clicked.connect(self.open_selected)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.reply_button.clicked.connect(self.reply_selected)
        self.error = ErrorLabel()
        self.unread_label = QLabel()
        self.unread_label.setObjectName("homeUnread")
        self.unread_label.setTextFormat(Qt.TextFormat.PlainText)
        self.unread_label.setVisible(False)
        self.undo_label = QLabel()
        self.undo_label.setObjectName("undoLabel")
        self.undo_label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton("&Undo")
        self.undo_button.clicked.connect(self.undo_dismiss)
        self.undo_bar = QWidget()
        self.undo_bar.setObjectName("undoBar")
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(0, 0, 0, 0)
        undo_row.addWidget(self.undo_label)
        undo_row.addWidget(self.undo_button)
        undo_row.addStretch(1)
        self.undo_bar.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reply_button)
        buttons.addWidget(self.dismiss_button)
        note = QLabel(DISMISS_NOTE)
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setStyleSheet("color: #5f6368;")
        buttons.addWidget(note, 1)

        alert_block = QVBoxLayout()
        alert_block.addWidget(self.heading)
        alert_block.addWidget(self.unread_label)
        alert_block.addWidget(self.empty_label)
        alert_block.addWidget(self.table, 1)
        alert_block.addLayout(buttons)
        alert_block.addWidget(self.undo_bar)
        alert_block.addWidget(self.error)

        self.upcoming_box = QGroupBox("My upcoming tasks and events")
        self.upcoming_box.setObjectName("homeUpcoming")
        self._upcoming_layout = QVBoxLayout(self.upcoming_box)
        self.upcoming_widget: QWidget = QLabel("Your tasks and calendar events will appear here.")
        self._upcoming_layout.addWidget(self.upcoming_widget)

        layout = QVBoxLayout(self)
        layout.addLayout(alert_block, 3)
        layout.addWidget(self.upcoming_box, 2)
        self._show_rows([])

    # --- the upcoming area (filled by the reminders feature) --------------------------
    def set_upcoming_widget(self, widget: QWidget) -> None:
        """Show widget in the "My upcoming tasks and events" area, replacing what was there."""
        old = self.upcoming_widget
        self._upcoming_layout.replaceWidget(old, widget)
        if old is not widget:
            old.deleteLater()
        self.upcoming_widget = widget

    # --- alerts -----------------------------------------------------------------------
    def count(self) -> int:
        """Open alerts shown."""
        return len(self._rows)

    def alert_rows(self) -> list[AlertRow]:
        """The alerts shown, newest first."""
        return list(self._rows)

    def refresh(self) -> None:
        """Reload the user's alerts on the background runner (late answers are dropped)."""
        if self.actor.user_id is None:
            return
        self._generation += 1
        generation = self._generation
        self.runner.run(self._load, self.actor.user_id,
                        on_success=lambda snap: self._loaded(generation, snap),
                        on_failure=lambda exc: self._failed(generation, exc))

    def _load(self, user_id: int) -> HomeSnapshot:
        """Runs on the runner: alerts, and with conversations their read/needs-response state."""
        rows = self.alerts.visible_to(user_id)
        conv = self.conversations
        if conv is None:
            return HomeSnapshot(rows)
        return HomeSnapshot(
            rows, conv.read_ids(user_id, [r.inbound_id for r in rows if r.inbound_id]),
            conv.needs_response(sorted({r.matter_id for r in rows})),
            conv.unread_count(user_id))

    def set_conversations(self, conversations: ConversationService) -> None:
        """Show read and needs-response state (a State column) and offer Reply."""
        self.conversations = conversations
        self.table.setColumnCount(len(COLUMNS) + 1)
        self.table.setHorizontalHeaderLabels([*COLUMNS, STATE_COLUMN])
        self.reply_button.setVisible(True)
        self.refresh()

    def state_text(self, row: AlertRow) -> str:
        """'New · Needs a response' for an alert, as the State column shows it."""
        parts = []
        if row.inbound_id is not None and row.inbound_id not in self.snapshot.read:
            parts.append("New")
        if row.matter_id in self.snapshot.needs_response:
            parts.append("Needs a response")
        return " · ".join(parts)

    def _loaded(self, generation: int, snap: HomeSnapshot) -> None:
        if generation != self._generation:
            return
        self.error.show_error(None)
        self.snapshot = snap
        self._show_rows(snap.rows)
        if self.conversations is not None:
            self.unread_label.setText(
                f"{snap.unread} unread repl{'y' if snap.unread == 1 else 'ies'} on your cases"
                if snap.unread else "No unread replies on your cases.")
            self.unread_label.setVisible(True)
        self.refreshed.emit(len(snap.rows))

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.error.show_error(f"The alerts could not be loaded: {exc}")

    def _show_rows(self, rows: list[AlertRow]) -> None:
        selected = self.selected_alert()
        self._rows = rows
        now = self.clock()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            when = row.received_at or row.created_at
            values = (when_text(when, now), row.case_number, row.client_name, row.sender,
                      row.snippet)
            for c, text in enumerate(values):
                # QTableWidgetItem text is plain: client text is never rendered as rich text
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row.id)
                if c == 0:
                    local = when.astimezone() if when.tzinfo else when
                    item.setToolTip(local.strftime("%Y-%m-%d %H:%M"))
                self.table.setItem(r, c, item)
            if self.conversations is not None:
                state = self.state_text(row)
                item = QTableWidgetItem(state)
                item.setData(Qt.ItemDataRole.UserRole, row.id)
                self.table.setItem(r, len(COLUMNS), item)
                if "New" in state:  # unread rows in bold, as an inbox shows them
                    for c in range(len(COLUMNS) + 1):
                        cell = self.table.item(r, c)
                        font = cell.font()
                        font.setBold(True)
                        cell.setFont(font)
            if selected is not None and row.id == selected.id:
                self.table.selectRow(r)
        if rows and self.selected_alert() is None:
            self.table.selectRow(0)
        self.heading.setText(f"Replies on your cases ({len(rows)})" if rows
                             else "Replies on your cases")
        self.table.setVisible(bool(rows))
        self.empty_label.setVisible(not rows)
        self._update_buttons()
        if len(rows) != self._count:
            self._count = len(rows)
            self.count_changed.emit(len(rows))

    def selected_alert(self) -> AlertRow | None:
        """The alert of the selected row."""
        model = self.table.selectionModel()
        indexes = model.selectedRows() if model is not None else []
        if not indexes or indexes[0].row() >= len(self._rows):
            return None
        return self._rows[indexes[0].row()]

    def select_alert(self, alert_id: int) -> None:
        """Select an alert's row by id."""
        for r, row in enumerate(self._rows):
            if row.id == alert_id:
                self.table.selectRow(r)
                return
        raise KeyError(alert_id)

    def open_row(self, row: int) -> None:
        """Open the matter of the alert in that row."""
        if 0 <= row < len(self._rows):
            self.open_matter_requested.emit(self._rows[row].matter_id)

    def open_selected(self) -> None:
        """Open the selected alert's matter."""
        alert = self.selected_alert()
        if alert is not None:
            self.open_matter_requested.emit(alert.matter_id)

    def reply_selected(self) -> None:
        """Reply: open the alert's case at its SMS log with the reply box."""
        alert = self.selected_alert()
        if alert is not None:
            self.reply_requested.emit(alert.matter_id, alert.inbound_id or 0)

    def dismiss_selected(self) -> QMessageBox | None:
        """Ask, then dismiss the selected alert for everybody; Undo is offered for a while."""
        alert = self.selected_alert()
        if alert is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Question, "Dismiss alert", DISMISS_QUESTION,
                          QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        dismiss = box.addButton("&Dismiss", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: object) -> None:
            self.confirm_box = None
            if button is dismiss:
                self.dismiss(alert.id)

        box.buttonClicked.connect(answered)
        self.confirm_box = box
        box.open()
        return box

    def dismiss(self, alert_id: int) -> None:
        """Dismiss for everybody (in the background), reload, and offer Undo."""
        self.dismiss_button.setEnabled(False)

        def done(changed: object) -> None:
            if changed:
                self.undo_alert_id = alert_id
                self.undo_label.setText("Alert dismissed for everyone.")
                self.undo_bar.setVisible(True)
                self.undo_timer.start()
            self.refresh()

        self.runner.run(self.alerts.dismiss, self.actor, alert_id,
                        on_success=done, on_failure=self._dismiss_failed)

    def undo_dismiss(self) -> None:
        """Undo the last dismissal (while the Undo bar shows)."""
        alert_id = self.undo_alert_id
        if alert_id is None:
            return
        self._hide_undo()

        def done(changed: object) -> None:
            self.refresh()
            self.undo_finished.emit(bool(changed))

        self.runner.run(self.alerts.undo_dismiss, self.actor, alert_id,
                        on_success=done, on_failure=self._dismiss_failed)

    def _undo_expired(self) -> None:
        self._hide_undo()
        self.undo_finished.emit(False)

    def _hide_undo(self) -> None:
        self.undo_timer.stop()
        self.undo_alert_id = None
        self.undo_bar.setVisible(False)

    def _dismiss_failed(self, exc: BaseException) -> None:
        self.error.show_error(str(exc))
        self.refresh()

    def _update_buttons(self) -> None:
        has = self.selected_alert() is not None
        self.open_button.setEnabled(has)
        self.dismiss_button.setEnabled(has)
        self.reply_button.setEnabled(has)
