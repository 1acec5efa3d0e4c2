"""The Calendar page and a matter's Tasks & events tab: items with their reminders' status.

Lists here are small (a few weeks of one office's tasks and events), so a QTreeWidget is
enough: one row per item, one child row per reminder, one grandchild per attendee's text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.calendar import CalendarItemView, CalendarService, DeliveryStatus
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.ui.text import plain_tooltip
from desktop_sms.ui.widgets.calendar_views import CalendarViews

COLUMNS = ("When", "What", "Case", "Attendees / text status")
ITEM_ID_ROLE = Qt.ItemDataRole.UserRole
STATUS_TEXT = {
    "pending": "waiting",
    "claimed": "being handed to the queue",
    "sending": "sending",
    "scheduled": "scheduled",
    "held": "held by Twilio",
    "holding": "being handed to Twilio",
    "queued": "queued to send",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "not delivered",
    "failed": "failed",
    "missed": "missed (not sent)",
    "canceled": "canceled",
}
DEFAULT_DAYS = 30


def delivery_text(d: DeliveryStatus) -> str:
    """'sent', 'not sent: no mobile number on profile', 'failed: <why>'."""
    if d.state in ("no_mobile", "canceled") and d.detail:
        return d.detail
    text = STATUS_TEXT.get(d.status, d.status)
    return f"{text}: {d.detail}" if d.detail else text


def reminder_summary(item: CalendarItemView) -> str:
    """One line for an item's reminders: '1 day before: sent · 15 minutes before: waiting'."""
    parts: list[str] = []
    for r in item.reminders:
        states = sorted({delivery_text(d) for d in r.deliveries})
        parts.append(f"{r.description}: {', '.join(states) or 'no attendee'}")
    return " · ".join(parts)


def _plain_item(texts: list[str]) -> QTreeWidgetItem:
    row = QTreeWidgetItem(texts)
    for column, text in enumerate(texts):
        row.setToolTip(column, plain_tooltip(text))
    return row


class CalendarTree(QTreeWidget):
    """Items, their reminders and each attendee's text status; emits edit_requested(item id)."""

    edit_requested = Signal(int)

    def __init__(self, calendar: CalendarService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._calendar = calendar
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.itemActivated.connect(self._on_activated)
        self.items: list[CalendarItemView] = []
        # Reminders texted to clients (docs/templates.md): item ids → lines with a `label`.
        self.client_lines: Callable[[list[int]], dict[int, list[Any]]] | None = None

    def set_items(self, items: list[CalendarItemView]) -> None:
        """Show these items (reminders expanded), keeping the selected item selected."""
        selected = self.selected_item_id()
        self.items = items
        self.clear()
        fmt = self._calendar.format_time
        client = self.client_lines([i.id for i in items]) if self.client_lines and items else {}
        for item in items:
            when = fmt(item.starts_at)
            if item.ends_at is not None:
                when += f" – {fmt(item.ends_at)}"
            what = f"{item.kind_label}: {item.title}"
            if item.location:
                what += f" ({item.location})"
            attendees = ", ".join(a.name for a in item.attendees) or "nobody"
            top = _plain_item([when, what, item.case_number or "", attendees])
            top.setData(0, ITEM_ID_ROLE, item.id)
            for r in item.reminders:
                child = _plain_item([fmt(r.remind_at), f"Text reminder {r.description}", "",
                                     "; ".join(f"{d.user_name}: {delivery_text(d)}"
                                               for d in r.deliveries)])
                child.setData(0, ITEM_ID_ROLE, item.id)
                for d in r.deliveries:
                    leaf = _plain_item(["", d.user_name, "", delivery_text(d)])
                    leaf.setData(0, ITEM_ID_ROLE, item.id)
                    child.addChild(leaf)
                top.addChild(child)
            for line in client.get(item.id, []):
                child = _plain_item([fmt(line.remind_at) if line.remind_at else "",
                                     f"Client reminder {line.description}",
                                     item.case_number or "",
                                     f"{line.status}: {line.detail}" if line.detail
                                     else line.status])
                child.setData(0, ITEM_ID_ROLE, item.id)
                top.addChild(child)
            self.addTopLevelItem(top)
            top.setExpanded(True)
            if item.id == selected:
                self.setCurrentItem(top)

    def selected_item_id(self) -> int | None:
        """The task or event of the selected row (any of its rows)."""
        row = self.currentItem()
        value = row.data(0, ITEM_ID_ROLE) if row is not None else None
        return int(value) if value is not None else None

    def select_item(self, item_id: int) -> bool:
        """Select an item's row; False when it is not shown."""
        for i in range(self.topLevelItemCount()):
            row = self.topLevelItem(i)
            if row.data(0, ITEM_ID_ROLE) == item_id:
                self.setCurrentItem(row)
                return True
        return False

    def item_view(self, item_id: int) -> CalendarItemView | None:
        return next((i for i in self.items if i.id == item_id), None)

    def _on_activated(self, row: QTreeWidgetItem, _column: int) -> None:
        value = row.data(0, ITEM_ID_ROLE)
        if value is not None:
            self.edit_requested.emit(int(value))


class _ItemListBase(QWidget):
    """Add / Edit / Delete buttons over a CalendarTree (shared by the page and the matter tab)."""

    add_requested = Signal(str)  # "task" / "event"
    edit_requested = Signal(int)  # item id

    def __init__(self, calendar: CalendarService, actor: Actor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._calendar = calendar
        self._actor = actor
        self.tree = CalendarTree(calendar)
        self.tree.setAccessibleName("Tasks and events")
        self.tree.edit_requested.connect(self.edit_requested)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.add_task_button = QPushButton("Add &task…")
        self.add_task_button.clicked.connect(lambda: self.add_requested.emit("task"))
        self.add_event_button = QPushButton("Add calendar &event…")
        self.add_event_button.clicked.connect(lambda: self.add_requested.emit("event"))
        self.edit_button = QPushButton("E&dit…")
        self.edit_button.clicked.connect(self._edit_selected)
        self.delete_button = QPushButton("De&lete…")
        self.delete_button.clicked.connect(self.confirm_delete)
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.confirm_box: QMessageBox | None = None

    def button_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for button in (self.add_task_button, self.add_event_button, self.edit_button,
                       self.delete_button):
            row.addWidget(button)
        row.addStretch(1)
        return row

    def refresh(self) -> None:
        """Read the items again from the service."""
        try:
            items = self.load()
        except ServiceError as exc:
            self.message.setText(str(exc))
            return
        self.tree.set_items(items)
        self.message.setText(self.empty_text() if not items else "")
        self._update_buttons()

    def load(self) -> list[CalendarItemView]:
        """The items to show; each concrete view (Calendar page, matter tab) says which.

        An abstract method: Qt's metaclass rules out abc.ABC here, so a missing override fails
        loudly instead of showing an empty list.
        """
        raise NotImplementedError(f"{type(self).__name__} must define load()")

    def empty_text(self) -> str:
        return "Nothing here."

    def confirm_delete(self) -> QMessageBox | None:
        """Ask (non-blocking) before deleting the selected item; its reminders are canceled."""
        item_id = self.tree.selected_item_id()
        view = self.tree.item_view(item_id) if item_id is not None else None
        if view is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Question, f"Delete {view.kind_label.lower()}",
                          f"Delete '{view.title}'? Its text reminders that have not gone out "
                          "yet are canceled.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda result: self._delete_answered(view.id, result))
        self.confirm_box = box
        box.open()
        return box

    def _delete_answered(self, item_id: int, result: int) -> None:
        self.confirm_box = None
        if result != QMessageBox.StandardButton.Yes.value:
            return
        try:
            self._calendar.delete(self._actor, item_id)
        except ServiceError as exc:
            self.message.setText(str(exc))
        self.refresh()

    def _edit_selected(self) -> None:
        item_id = self.tree.selected_item_id()
        if item_id is not None:
            self.edit_requested.emit(item_id)

    def _update_buttons(self) -> None:
        has = self.tree.selected_item_id() is not None
        self.edit_button.setEnabled(has)
        self.delete_button.setEnabled(has)


class CalendarPage(_ItemListBase):
    """Calendar: upcoming tasks and events, mine or everybody's, over a date range."""

    def __init__(self, calendar: CalendarService, actor: Actor,
                 parent: QWidget | None = None) -> None:
        super().__init__(calendar, actor, parent)
        self.setObjectName("calendarPage")
        heading = QLabel("Calendar")
        heading.setObjectName("pageHeading")
        self.scope = QComboBox()
        self.scope.addItems(["My tasks and events", "Everybody's"])
        self.scope.setAccessibleName("Whose tasks and events")
        today = calendar.clock().astimezone(calendar.tz).date()
        self.from_date = QDateEdit(QDate(today.year, today.month, today.day))
        self.to_date = QDateEdit(QDate(today.year, today.month, today.day).addDays(DEFAULT_DAYS))
        for edit, name in ((self.from_date, "From date"), (self.to_date, "To date")):
            edit.setAccessibleName(name)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.scope.currentIndexChanged.connect(lambda _i: self.refresh())
        self.from_date.dateChanged.connect(lambda _d: self.refresh())
        self.to_date.dateChanged.connect(lambda _d: self.refresh())

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.scope)
        filters.addWidget(QLabel("from"))
        filters.addWidget(self.from_date)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.to_date)
        filters.addWidget(self.refresh_button)
        filters.addStretch(1)

        # Month and week views beside the list, over the same items.
        self._loaded: list[CalendarItemView] = []
        self.views = CalendarViews(calendar.tz, today)
        self.views.item_activated.connect(self.edit_requested)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(filters)
        layout.addLayout(self.button_row())
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        """Read the items again; the list, the month and the week show them."""
        super().refresh()
        self.views.set_items(self._loaded)

    def set_mine(self, mine: bool) -> None:
        """Show only the signed-in user's items (True) or everybody's."""
        self.scope.setCurrentIndex(0 if mine else 1)

    def is_mine(self) -> bool:
        return self.scope.currentIndex() == 0

    def load(self) -> list[CalendarItemView]:
        tz = self._calendar.tz
        start_day = self.from_date.date().toPython()
        end_day = self.to_date.date().toPython()
        start = datetime.combine(start_day, time(0, 0), tzinfo=tz)
        end = datetime.combine(end_day + timedelta(days=1), time(0, 0), tzinfo=tz)
        user_id = self._actor.user_id if self.is_mine() else None
        self._loaded = self._calendar.upcoming(user_id, start, end)
        return self._loaded

    def empty_text(self) -> str:
        return "No tasks or events in these dates."


class MatterCalendarTab(_ItemListBase):
    """A matter's Tasks & events tab: every item of the case with its reminders."""

    def __init__(self, calendar: CalendarService, actor: Actor, matter_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(calendar, actor, parent)
        self.setObjectName("matterCalendarTab")
        self.matter_id = matter_id
        layout = QVBoxLayout(self)
        layout.addLayout(self.button_row())
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        self.refresh()

    def load(self) -> list[CalendarItemView]:
        return self._calendar.for_matter(self.matter_id)

    def empty_text(self) -> str:
        return "No tasks or events on this case yet. Use Actions → Add task… to add one."
