"""The Home page's block: my upcoming tasks and events, with their reminders' status."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_sms.services.calendar import CalendarService
from desktop_sms.services.common import ServiceError
from desktop_sms.ui.windows.calendar_page import CalendarTree

DEFAULT_DAYS = 7


class UpcomingWidget(QWidget):
    """The signed-in user's tasks and events of the next days; emits edit_requested(item id).

    It has no heading of its own: the Home page's "My upcoming tasks and events" box is it.
    """

    edit_requested = Signal(int)

    def __init__(self, calendar: CalendarService, user_id: int | None, days: int = DEFAULT_DAYS,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("upcomingWidget")
        self._calendar = calendar
        self._user_id = user_id
        self._days = days
        self.tree = CalendarTree(calendar)
        self.tree.setAccessibleName("Upcoming tasks and events")
        self.tree.edit_requested.connect(self.edit_requested)
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        """Read my items from now to `days` ahead (events still running count)."""
        if self._user_id is None:
            self.tree.set_items([])
            self.message.setText("Reminders are for signed-in users.")
            return
        now = self._calendar.clock()
        try:
            items = self._calendar.upcoming(self._user_id, now, now + timedelta(days=self._days))
        except ServiceError as exc:
            self.message.setText(str(exc))
            return
        self.tree.set_items(items)
        self.message.setText("" if items else
                             f"Nothing in the next {self._days} days.")
