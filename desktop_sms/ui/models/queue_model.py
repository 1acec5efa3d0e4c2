"""Qt table model over SMS → Queue rows (scheduled, queued, sending, missed, recently failed)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from desktop_sms.domain.phones import DEFAULT_REGION, format_display
from desktop_sms.domain.states import CHECKING_LABEL, HELD_QUEUE_TEXT
from desktop_sms.services.outbound import QueueRow
from desktop_sms.ui.text import plain_tooltip

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("Send time", "State", "Recipient", "Case", "Client", "Author", "Error", "Message")
STATE_LABELS = {
    "scheduled": "Scheduled",
    "queued": "Queued",
    "sending": "Sending",
    "missed": "Missed",
    "failed": "Failed",
    "held": HELD_QUEUE_TEXT[0].upper() + HELD_QUEUE_TEXT[1:],
    "holding": "Being handed to Twilio to hold",
    "canceled": "Canceled",  # by a STOP: the error column says "client opted out"
}


def _one_line(text: str, limit: int = 80) -> str:
    """The first line of a text, shortened for a table cell."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class QueueTableModel(QAbstractTableModel):
    """Holds the rows OutboundService.queue() returned; the page refreshes it off the GUI thread.

    Recipients show as people read them ("(212) 555-0130"), formatted for the office's default
    region as the other views do.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[QueueRow] = []
        self._region = DEFAULT_REGION

    def set_rows(self, rows: list[QueueRow], region: str | None = None) -> None:
        """Replace every row; region is the default_region setting (kept when None)."""
        self.beginResetModel()
        self._rows = list(rows)
        if region:
            self._region = region
        self.endResetModel()

    def row_at(self, row: int) -> QueueRow | None:
        """The message on a row, or None."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rows(self) -> list[QueueRow]:
        """Every row, in table order."""
        return list(self._rows)

    def row_of(self, message_id: int) -> int:
        """The table row of a message, or -1."""
        for i, r in enumerate(self._rows):
            if r.id == message_id:
                return i
        return -1

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = self.row_at(index.row())
        if r is None or not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(r, index.column(), self._region)
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == 7:
                return plain_tooltip(r.body)
            if index.column() == 6 and r.error:
                return plain_tooltip(r.error)
            if index.column() == 0:
                return r.send_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        if role == Qt.ItemDataRole.UserRole:
            return r.id
        return None

    @staticmethod
    def _cell(r: QueueRow, column: int, region: str = DEFAULT_REGION) -> str:
        if column == 0:
            return r.send_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if column == 1:
            if r.checking:
                return CHECKING_LABEL
            return STATE_LABELS.get(r.state, r.state)
        if column == 2:
            return format_display(r.to, region)
        if column == 3:
            return r.case_number or "—"
        if column == 4:
            return r.client_name or "—"
        if column == 5:
            return r.author or "—"
        if column == 6:
            return r.error or ""
        return _one_line(r.body)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
