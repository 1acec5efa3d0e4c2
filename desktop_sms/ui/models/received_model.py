"""Qt item model of the SMS Received Log (docs/product.md F8): one row per inbound message, newest first.

Every cell is plain display text; the default delegate never interprets it as HTML, and no
client text goes into tooltips (Qt would guess tooltips to be rich text).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from desktop_sms.services.received import ReceivedRow
from desktop_sms.ui.widgets.notes_pane import local_time

COLUMNS = ("Received", "From", "Text", "Media", "Cases", "Rule", "Review")
TEXT_CHARS = 160  # the view elides further to the column's width
NEEDS_REVIEW = "needs review"

ModelIndex = QModelIndex | QPersistentModelIndex


def one_line(text: str, limit: int = TEXT_CHARS) -> str:
    """The text on one line (line breaks shown as spaces), cut with '…' past limit."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class ReceivedTableModel(QAbstractTableModel):
    """Rows of the Received Log; `row_at(i)` gives the ReceivedRow behind a row."""

    ROW_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ReceivedRow] = []

    # --- data ----------------------------------------------------------------------------
    def set_rows(self, rows: list[ReceivedRow]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[ReceivedRow]:
        """The rows shown, in order."""
        return list(self._rows)

    def row_at(self, row: int) -> ReceivedRow | None:
        """The message of a row (None out of range)."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, inbound_id: int) -> int:
        """The row showing a message, or -1."""
        for i, r in enumerate(self._rows):
            if r.id == inbound_id:
                return i
        return -1

    @staticmethod
    def cells(r: ReceivedRow) -> tuple[str, ...]:
        """The display text of each column for one message."""
        media = str(r.media_count) if r.media_count else ""
        if r.media_pending:
            media = f"{media} (fetching)" if media else "fetching"
        elif r.media_note:
            media = f"{media} ({r.media_note})" if media else r.media_note
        return (local_time(r.received_at), r.from_display, one_line(r.text), media,
                ", ".join(r.case_numbers), ", ".join(lk.rule_label for lk in r.links),
                NEEDS_REVIEW if r.needs_review else "")

    # --- Qt overrides --------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = self.row_at(index.row()) if index.isValid() else None
        if r is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells(r)[index.column()]
        if role == self.ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.cells(r)[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[index.column()] == "Media":
            return int(Qt.AlignmentFlag.AlignCenter)
        if (role == Qt.ItemDataRole.FontRole and r.needs_review
                and COLUMNS[index.column()] == "Review"):
            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None
