"""The Home page (SPEC F12): replies on my cases (the alert block), then my upcoming work."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.alerts import AlertRow, AlertService
from desktop_sms.services.common import Actor, Clock, utcnow
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

COLUMNS = ("Received", "Case", "Client", "From", "Message")
EMPTY_TEXT = "No new replies on your cases."
DISMISS_NOTE = "Dismiss removes an alert for everyone who can see it."


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
    refreshed = Signal(int)  # rows shown after a refresh

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
        self.open_button.clicked.connect(self.open_selected)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.error = ErrorLabel()
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.dismiss_button)
        note = QLabel(DISMISS_NOTE)
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setStyleSheet("color: #5f6368;")
        buttons.addWidget(note, 1)

        alert_block = QVBoxLayout()
        alert_block.addWidget(self.heading)
        alert_block.addWidget(self.empty_label)
        alert_block.addWidget(self.table, 1)
        alert_block.addLayout(buttons)
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
        self.runner.run(self.alerts.visible_to, self.actor.user_id,
                        on_success=lambda rows: self._loaded(generation, rows),
                        on_failure=lambda exc: self._failed(generation, exc))

    def _loaded(self, generation: int, rows: list[AlertRow]) -> None:
        if generation != self._generation:
            return
        self.error.show_error(None)
        self._show_rows(rows)
        self.refreshed.emit(len(rows))

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

    def dismiss_selected(self) -> None:
        """Dismiss the selected alert for everybody (in the background), then reload."""
        alert = self.selected_alert()
        if alert is None:
            return
        self.dismiss_button.setEnabled(False)
        self.runner.run(self.alerts.dismiss, self.actor, alert.id,
                        on_success=lambda _changed: self.refresh(),
                        on_failure=self._dismiss_failed)

    def _dismiss_failed(self, exc: BaseException) -> None:
        self.error.show_error(str(exc))
        self.refresh()

    def _update_buttons(self) -> None:
        has = self.selected_alert() is not None
        self.open_button.setEnabled(has)
        self.dismiss_button.setEnabled(has)
