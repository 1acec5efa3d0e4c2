"""Month and week views of the Calendar page's items, beside its list.

Month: a QCalendarWidget where days with a task or event are bold and underlined (their titles
in the day's tooltip, as plain text). Week: a grid of the seven days (Monday first) of the day
chosen in the month, one "h:mm AP title" per cell, in the office's time zone. Both show the
items the list loaded (the page's date range); nothing here reads the database.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta, tzinfo

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QFont, QTextCharFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCalendarWidget,
    QHeaderView,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QWidget,
)

from desktop_sms.services.calendar import CalendarItemView
from desktop_sms.ui.text import plain_tooltip

ITEM_ID_ROLE = Qt.ItemDataRole.UserRole


def week_start(day: date) -> date:
    """The Monday of day's week."""
    return day - timedelta(days=day.weekday())


def item_line(item: CalendarItemView, tz: tzinfo) -> str:
    """'9:30 AM Hearing' — the local start time and the title."""
    local = item.starts_at.astimezone(tz)
    return f"{local.strftime('%I:%M %p').lstrip('0')} {item.title}"


class CalendarViews(QTabWidget):
    """Month and Week tabs over a list of items; `item_activated(id)` on a double click."""

    item_activated = Signal(int)

    def __init__(self, tz: tzinfo, today: date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("calendarViews")
        self.setAccessibleName("Month and week")
        self._tz = tz
        self._by_day: dict[date, list[CalendarItemView]] = {}
        self.month = QCalendarWidget()
        self.month.setObjectName("monthView")
        self.month.setAccessibleName("Month")
        self.month.setGridVisible(True)
        self.month.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.month.setSelectedDate(QDate(today.year, today.month, today.day))
        for inner in self.month.findChildren(QTableView):  # the grid that takes the focus
            inner.setAccessibleName("Month")
        self.week = QTableWidget(0, 7)
        self.week.setObjectName("weekView")
        self.week.setAccessibleName("Week")
        self.week.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.week.verticalHeader().setVisible(False)
        self.week.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.week.setWordWrap(True)
        self.addTab(self.month, "&Month")
        self.addTab(self.week, "&Week")
        self.month.selectionChanged.connect(self._show_week)
        self.month.activated.connect(lambda _d: self.setCurrentWidget(self.week))
        self.week.cellDoubleClicked.connect(self._activated)
        self._show_week()

    def set_items(self, items: list[CalendarItemView]) -> None:
        """Show these items: mark their days in the month, fill the chosen week."""
        for day in self._by_day:
            self.month.setDateTextFormat(QDate(day.year, day.month, day.day), QTextCharFormat())
        by_day: dict[date, list[CalendarItemView]] = defaultdict(list)
        for item in sorted(items, key=lambda i: i.starts_at):
            by_day[item.starts_at.astimezone(self._tz).date()].append(item)
        self._by_day = dict(by_day)
        marked = QTextCharFormat()
        marked.setFontWeight(QFont.Weight.Bold)
        marked.setFontUnderline(True)
        for day, day_items in self._by_day.items():
            fmt = QTextCharFormat(marked)
            fmt.setToolTip(plain_tooltip("\n".join(item_line(i, self._tz) for i in day_items)))
            self.month.setDateTextFormat(QDate(day.year, day.month, day.day), fmt)
        self._show_week()

    def marked_days(self) -> list[date]:
        """The days that have at least one item, in order."""
        return sorted(self._by_day)

    def show_day(self, day: date) -> None:
        """Choose a day in the month (the week view follows)."""
        self.month.setSelectedDate(QDate(day.year, day.month, day.day))

    def week_days(self) -> list[date]:
        """The seven days the week view shows."""
        start = week_start(self.month.selectedDate().toPython())  # type: ignore[arg-type]
        return [start + timedelta(days=k) for k in range(7)]

    def week_cells(self) -> dict[date, list[str]]:
        """What each day of the week view lists."""
        out: dict[date, list[str]] = {}
        for column, day in enumerate(self.week_days()):
            lines = []
            for row in range(self.week.rowCount()):
                cell = self.week.item(row, column)
                if cell is not None and cell.text():
                    lines.append(cell.text())
            out[day] = lines
        return out

    def _show_week(self) -> None:
        days = self.week_days()
        self.week.setHorizontalHeaderLabels([d.strftime("%a %d %b") for d in days])
        rows = max((len(self._by_day.get(d, [])) for d in days), default=0)
        self.week.clearContents()
        self.week.setRowCount(rows)
        for column, day in enumerate(days):
            for row, item in enumerate(self._by_day.get(day, [])):
                cell = QTableWidgetItem(item_line(item, self._tz))
                cell.setData(ITEM_ID_ROLE, item.id)
                cell.setToolTip(plain_tooltip(item.title))
                self.week.setItem(row, column, cell)

    def _activated(self, row: int, column: int) -> None:
        cell = self.week.item(row, column)
        if cell is not None and cell.data(ITEM_ID_ROLE) is not None:
            self.item_activated.emit(int(cell.data(ITEM_ID_ROLE)))
