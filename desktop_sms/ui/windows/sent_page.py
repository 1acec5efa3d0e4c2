"""SMS → Sent (docs/conversations.md): every text sent from a case, with its final status and,
for failures, the reason in words; filtered by user, case, dates and status."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.services.conversations import SentRow
from desktop_sms.services.users import UserInfo
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.widgets.notes_pane import local_time
from desktop_sms.ui.widgets.sms_log_widget import STATE_MARK, STATUS_TEXT

COLUMNS = ("Time", "Case", "Client", "To", "By", "Status", "Message", "Reason")
STATUS_CHOICES = (("Any status", None), ("Delivered", ["delivered"]), ("Sent", ["sent"]),
                  ("Failed or not delivered", ["failed", "undelivered", "missed"]),
                  ("Scheduled", ["scheduled"]), ("Canceled", ["canceled"]),
                  ("Waiting to send", ["queued", "sending"]))


def local_day_start(day: QDate) -> datetime:
    """Midnight at the start of a local calendar day, as aware UTC."""
    naive = datetime.combine(day.toPython(), time())  # type: ignore[arg-type]
    return naive.astimezone().astimezone(UTC)


class SentPage(QWidget):
    """The Sent tab of the SMS page."""

    refreshed = Signal(int)  # rows shown
    open_matter_requested = Signal(int, int)  # matter id, outbound id

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sentPage")
        self._services = services
        self._actor = actor
        self._runner = runner
        self._generation = 0
        self.rows: list[SentRow] = []

        self.user_combo = QComboBox()
        self.user_combo.setAccessibleName("Sent by")
        self.user_combo.addItem("Anyone", None)
        self.case_edit = QLineEdit()
        self.case_edit.setPlaceholderText("Case number")
        self.case_edit.setAccessibleName("Case number")
        self.case_edit.returnPressed.connect(self.refresh)
        today = QDate.currentDate()
        self.dates_check = QCheckBox("From")
        self.from_edit = QDateEdit(today.addDays(-30))
        self.to_edit = QDateEdit(today)
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.dates_check.toggled.connect(self.from_edit.setEnabled)
        self.dates_check.toggled.connect(self.to_edit.setEnabled)
        self.status_combo = QComboBox()
        self.status_combo.setAccessibleName("Status")
        for text, states in STATUS_CHOICES:
            self.status_combo.addItem(text, states)
        self.apply_button = QPushButton("&Show")
        self.apply_button.clicked.connect(self.refresh)
        self.user_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.status_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        filters = QHBoxLayout()
        filters.addWidget(QLabel("By"))
        filters.addWidget(self.user_combo)
        filters.addWidget(self.case_edit)
        filters.addWidget(self.dates_check)
        filters.addWidget(self.from_edit)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.to_edit)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.apply_button)
        filters.addStretch(1)

        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("sentTable")
        self.table.setAccessibleName("Sent texts")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.error = ErrorLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.count_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.error)
        self._runner.run(services.users.list, on_success=self._users_loaded)

    def _users_loaded(self, users: list[UserInfo]) -> None:
        if not widget_alive(self):
            return
        for user in users:
            self.user_combo.addItem(user.name, user.id)

    def set_dates(self, start: QDate, end: QDate) -> None:
        """Filter by local days start … end (both included)."""
        self.dates_check.setChecked(True)
        self.from_edit.setDate(start)
        self.to_edit.setDate(end)

    def refresh(self) -> None:
        """Read the sent texts with the filters (on the runner)."""
        self._generation += 1
        generation = self._generation
        since = until = None
        if self.dates_check.isChecked():
            since = local_day_start(self.from_edit.date())
            until = local_day_start(self.to_edit.date()) + timedelta(days=1)
        states = self.status_combo.currentData()
        self._runner.run(self._services.conversations.sent, self._actor,
                         author_id=self.user_combo.currentData(),
                         case_number=self.case_edit.text().strip() or None,
                         since=since, until=until, states=states,
                         on_success=lambda rows: self._loaded(generation, rows),
                         on_failure=lambda exc: self._failed(generation, exc))

    def _loaded(self, generation: int, rows: list[SentRow]) -> None:
        if not widget_alive(self) or generation != self._generation:
            return
        self.error.show_error(None)
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            status = STATE_MARK.get(row.state, "") + STATUS_TEXT.get(row.state, row.state)
            values = (local_time(row.at), row.case_number or "", row.client_name or "",
                      row.to_display, row.author or "", status, " ".join(row.body.split()),
                      row.reason or "")
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c == 6:
                    item.setToolTip(row.body)
                self.table.setItem(r, c, item)
        self.count_label.setText(f"{len(rows)} text{'s' if len(rows) != 1 else ''}")
        self.refreshed.emit(len(rows))

    def _failed(self, generation: int, exc: BaseException) -> None:
        if widget_alive(self) and generation == self._generation:
            self.error.show_error(f"The sent texts could not be read: {exc}")

    def row_texts(self, row: int) -> list[str]:
        """The cells of a row as shown."""
        return [self.table.item(row, c).text() for c in range(self.table.columnCount())]

    def open_row(self, row: int) -> None:
        """Open the case at that text."""
        if 0 <= row < len(self.rows) and self.rows[row].matter_id is not None:
            self.open_matter_requested.emit(self.rows[row].matter_id, self.rows[row].id)
