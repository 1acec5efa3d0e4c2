"""The audit log for administrators (docs/product.md F14): who did what, when, filterable by text and action."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
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

from desktop_sms.services.audit import AuditRow, AuditService
from desktop_sms.services.common import Actor
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

COLUMNS = ("When", "Who", "What happened", "What", "Target", "Detail")
ACTION_LABELS = {
    "alert.dismiss": "Alert dismissed",
    "consent.record": "Consent recorded",
    "inbound.link": "Reply linked to a case",
    "inbound.unlink": "Reply unlinked",
    "matter.add": "Case added",
    "matter.assign": "Case assigned",
    "matter.stage": "Case stage changed",
    "matters.import": "Cases imported",
    "setting.change": "Setting changed",
    "sms.cancel": "Text canceled",
    "sms.schedule": "Text scheduled",
    "sms.send_missed": "Missed text sent",
    "user.add": "User added",
    "user.edit": "User changed",
    "user.password": "Password set",
}
FILTER_DELAY_MS = 250


def action_label(action: str) -> str:
    """The words for an action id (the id itself when it has none yet)."""
    return ACTION_LABELS.get(action, action)


class AuditLogWindow(QWidget):
    """A table of audit entries, newest first; queries run on the background runner."""

    refreshed = Signal(int)  # rows shown

    def __init__(self, audit: AuditService, actor: Actor, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.audit = audit
        self.actor = actor
        self.runner = runner
        self._generation = 0
        self._rows: list[AuditRow] = []
        self.setWindowTitle("Audit log — Desktop SMS")
        self.setObjectName("auditLogWindow")
        self.resize(900, 520)

        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Filter by user, case, setting or detail")
        self.text_filter.setClearButtonEnabled(True)
        self.action_filter = QComboBox()
        self.action_filter.addItem("All actions", "")
        for action in sorted(ACTION_LABELS, key=action_label):
            self.action_filter.addItem(action_label(action), action)
        self.refresh_button = QPushButton("&Refresh")
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error = ErrorLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("auditTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(FILTER_DELAY_MS)
        self._debounce.timeout.connect(self.refresh)
        self.text_filter.textChanged.connect(lambda _text: self._debounce.start())
        self.action_filter.currentIndexChanged.connect(lambda _index: self.refresh())
        self.refresh_button.clicked.connect(self.refresh)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.action_filter)
        filters.addWidget(self.text_filter, 1)
        filters.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.error)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)

    def set_action(self, action: str) -> None:
        """Choose the action filter by id ('' for all)."""
        index = self.action_filter.findData(action)
        if index < 0:
            self.action_filter.addItem(action_label(action), action)
            index = self.action_filter.count() - 1
        self.action_filter.setCurrentIndex(index)

    def refresh(self) -> None:
        """Query with the current filters (off the GUI thread); stale answers are ignored."""
        self._debounce.stop()
        self._generation += 1
        generation = self._generation
        text = self.text_filter.text().strip()
        action = str(self.action_filter.currentData() or "") or None
        self.runner.run(self.audit.entries, self.actor, text=text, action=action,
                        on_success=lambda rows: self._show(generation, rows),
                        on_failure=lambda exc: self._failed(generation, exc))

    def rows(self) -> list[AuditRow]:
        """The entries shown."""
        return list(self._rows)

    def _show(self, generation: int, rows: list[AuditRow]) -> None:
        if generation != self._generation:
            return
        self.error.show_error(None)
        self._rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            when = row.at.astimezone() if row.at.tzinfo else row.at
            values = (when.strftime("%Y-%m-%d %H:%M:%S"), row.username, row.sentence,
                      action_label(row.action), row.target, row.detail)
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)  # plain text: details may quote what people typed
                if c == 3:
                    item.setToolTip(row.action)
                self.table.setItem(r, c, item)
        self.count_label.setText(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
        self.refreshed.emit(len(rows))

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.error.show_error(str(exc))
        self.refreshed.emit(-1)
