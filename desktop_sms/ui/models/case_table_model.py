"""The case list as a Qt table model: a row count plus 200-row windows fetched on demand."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from desktop_sms.services.matters import MatterRow
from desktop_sms.ui.text import plain_tooltip

WINDOW = 200
MAX_WINDOWS = 20  # at most 4,000 rows held, however far the user scrolls

COLUMNS: tuple[tuple[str, str], ...] = (
    ("case_number", "Case number"),
    ("client_name", "Client"),
    ("stage", "Stage"),
    ("mobile", "Mobile"),
    ("home", "Home phone"),
    ("intake_date", "Intake date"),
    ("date_opened", "Date opened"),
    ("primary", "Primary assignee"),
    ("texts", "Texts"),  # "Opted out" after a STOP
)

ModelIndex = QModelIndex | QPersistentModelIndex
MATTER_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class MatterQueries(Protocol):
    """What the model needs of MatterService (a stub in tests can count the calls)."""

    def count(self, text: str = "", mine_user_id: int | None = None) -> int: ...

    def page(self, text: str = "", mine_user_id: int | None = None, *, offset: int = 0,
             limit: int = 200, sort: str = "case_number",
             descending: bool = True) -> list[MatterRow]: ...


def _display(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class CaseTableModel(QAbstractTableModel):
    """All matters matching a filter; only the windows being looked at are in memory."""

    filter_changed = Signal()

    def __init__(self, matters: MatterQueries, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._matters = matters
        self._text = ""
        self._mine: int | None = None
        self._windows: OrderedDict[int, list[MatterRow]] = OrderedDict()
        self._sort = ("case_number", True)  # (MatterRow field, descending): done by the query
        self._count = self._matters.count(self._text, self._mine)

    # --- filter --------------------------------------------------------------------------
    def set_filter(self, text: str, mine_user_id: int | None = None) -> None:
        """Show the matters matching text (number, client, any phone form) and/or one user's."""
        if text == self._text and mine_user_id == self._mine:
            return
        self._text, self._mine = text, mine_user_id
        self.refresh()
        self.filter_changed.emit()

    def set_sort(self, key: str, descending: bool) -> None:
        """Order the list by a column key of COLUMNS (the query sorts, every row not just the
        ones in memory); the cached windows are dropped."""
        if (key, descending) == self._sort:
            return
        self.beginResetModel()
        self._sort = (key, descending)
        self._windows.clear()
        self.endResetModel()

    def sort_order(self) -> tuple[str, bool]:
        """(column key, descending) the list is ordered by."""
        return self._sort

    def filter_text(self) -> str:
        """The current filter text."""
        return self._text

    def refresh(self) -> None:
        """Re-count and drop every cached window (after an import or an edit)."""
        self.beginResetModel()
        self._windows.clear()
        self._count = self._matters.count(self._text, self._mine)
        self.endResetModel()

    # --- rows ----------------------------------------------------------------------------
    def row_at(self, row: int) -> MatterRow | None:
        """The matter shown on a row (fetching its window if needed)."""
        if not 0 <= row < self._count:
            return None
        start = row - row % WINDOW
        window = self._windows.get(start)
        if window is None:
            if self._sort == ("case_number", True):  # the default order: no sort arguments
                window = self._matters.page(self._text, self._mine, offset=start, limit=WINDOW)
            else:
                window = self._matters.page(self._text, self._mine, offset=start, limit=WINDOW,
                                            sort=self._sort[0], descending=self._sort[1])
            self._windows[start] = window
            while len(self._windows) > MAX_WINDOWS:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(start)
        offset = row - start
        # The table may have changed under us (another desktop); a short window is tolerated.
        return window[offset] if offset < len(window) else None

    def matter_id_at(self, row: int) -> int | None:
        """The id of the matter on a row."""
        item = self.row_at(row)
        return item.id if item else None

    def cached_row_count(self) -> int:
        """How many rows are in memory now (for tests and benchmarks)."""
        return sum(len(w) for w in self._windows.values())

    # --- Qt model interface --------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1] if 0 <= section < len(COLUMNS) else None
        return None

    def set_marks(self, unread: dict[int, int], needs_response: set[int]) -> None:
        """Per matter: unread replies for the user, and whether it needs a response
        (shown as a mark before the first column, and in its tool tip)."""
        self._unread = dict(unread)
        self._needs_response = set(needs_response)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0))

    def mark_text(self, matter_id: int) -> str:
        """'2 unread · needs a response', or '' for a matter with nothing new."""
        parts = []
        unread = getattr(self, "_unread", {}).get(matter_id, 0)
        if unread:
            parts.append(f"{unread} unread")
        if matter_id in getattr(self, "_needs_response", set()):
            parts.append("needs a response")
        return " · ".join(parts)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.column() == 0 and role == Qt.ItemDataRole.DecorationRole:
            row = self.row_at(index.row())
            mark = self.mark_text(row.id) if row is not None else ""
            return (QColor("#1d5fa8") if "unread" in mark
                    else QColor("#b26b00") if mark else None)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, MATTER_ID_ROLE):
            return None
        item = self.row_at(index.row())
        if item is None:
            return None
        if role == MATTER_ID_ROLE:
            return item.id
        shown = _display(getattr(item, COLUMNS[index.column()][0]))
        if role == Qt.ItemDataRole.ToolTipRole:
            mark = self.mark_text(item.id) if index.column() == 0 else ""
            return plain_tooltip(f"{shown} — {mark}" if mark else shown)
        return shown

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
