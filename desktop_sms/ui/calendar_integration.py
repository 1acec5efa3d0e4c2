"""Plugs tasks, events and reminders into the main window (the lead calls install_calendar).

It puts the Calendar page in place, fills each matter window's Tasks & events tab, answers
its Actions → Add task… / Add calendar event…, builds the Home page's upcoming block, and
keeps all of them fresh when items change (on any thread) or reminder texts change state.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.dialogs.calendar_item_dialog import CalendarItemDialog
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.upcoming_widget import UpcomingWidget
from desktop_sms.ui.windows.calendar_page import CalendarPage, MatterCalendarTab

log = logging.getLogger(__name__)

TAB_NAME = "Tasks & events"


class CalendarIntegration(QObject):
    """The calendar feature's views for one main window and one signed-in user."""

    changed = Signal()  # an item was saved or deleted, or a reminder text changed state
    _refresh_requested = Signal()  # emitted on any thread; delivered queued on ours

    def __init__(self, window: Any, services: Services, actor: Actor,
                 runner: TaskRunner | None = None) -> None:
        super().__init__(window)
        self._window = window
        self._services = services
        self._actor = actor
        self._runner = runner
        self.dialog: CalendarItemDialog | None = None
        self.page = CalendarPage(services.calendar, actor)
        self.page.tree.client_lines = services.client_reminders.for_items
        self.page.add_requested.connect(lambda kind: self.open_item_dialog(kind, parent=window))
        self.page.edit_requested.connect(
            lambda item_id: self.open_item_dialog(item_id=item_id, parent=window))
        self.changed.connect(self.page.refresh)
        window.set_page("Calendar", self.page)

        # Service listeners run on whatever thread saved: hop to the GUI thread by a signal.
        self._refresh_requested.connect(self.changed, Qt.ConnectionType.QueuedConnection)
        services.calendar.subscribe(self._on_service_change)
        background = getattr(window, "background", None)
        if background is not None and hasattr(background, "outbound_changed"):
            background.outbound_changed.connect(self.changed)

        window.matter_view_opened.connect(self.attach_matter_view)
        for view in window.matter_views():
            self.attach_matter_view(view)
            view.update_actions()

    # --- building blocks the lead places ------------------------------------------------
    def build_matter_tab(self, matter_id: int, parent: QWidget | None = None) -> MatterCalendarTab:
        """The Tasks & events tab of a matter (Add / Edit / Delete over its items)."""
        tab = MatterCalendarTab(self._services.calendar, self._actor, matter_id, parent)
        tab.tree.client_lines = self._services.client_reminders.for_items
        tab.add_requested.connect(
            lambda kind: self.open_item_dialog(kind, matter_id=matter_id, parent=tab.window()))
        tab.edit_requested.connect(
            lambda item_id: self.open_item_dialog(item_id=item_id, parent=tab.window()))
        self.changed.connect(tab.refresh)
        return tab

    def build_upcoming_widget(self, parent: QWidget | None = None,
                              days: int = 7) -> UpcomingWidget:
        """The Home page's "my upcoming tasks and events" block."""
        widget = UpcomingWidget(self._services.calendar, self._actor.user_id, days, parent)
        widget.edit_requested.connect(
            lambda item_id: self.open_item_dialog(item_id=item_id, parent=self._window))
        self.changed.connect(widget.refresh)
        return widget

    def attach_matter_view(self, view: Any) -> None:
        """Answer a matter window's Add task… / Add calendar event… and fill its tab."""
        matter_id = int(view.matter_id)
        view.add_task_requested.connect(
            lambda mid: self.open_item_dialog("task", matter_id=mid, parent=view))
        view.add_event_requested.connect(
            lambda mid: self.open_item_dialog("event", matter_id=mid, parent=view))
        view.set_tab(TAB_NAME, self.build_matter_tab(matter_id))

    def open_item_dialog(self, kind: str = "task", *, matter_id: int | None = None,
                         item_id: int | None = None,
                         parent: QWidget | None = None) -> CalendarItemDialog:
        """Add a task or event (preset to a matter), or edit one; non-blocking."""
        calendar = self._services.calendar
        item = calendar.get(item_id) if item_id is not None else None
        dialog = CalendarItemDialog(calendar, self._services.matters, self._actor,
                                    self._services.users.list(), kind=kind, matter_id=matter_id,
                                    item=item, parent=parent or self._window,
                                    client_reminders=self._services.client_reminders,
                                    template_names=[t.name for t in
                                                    self._services.templates.list()])
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _id: self.changed.emit())
        self.dialog = dialog
        dialog.open()
        return dialog

    def refresh(self) -> None:
        """Re-read every calendar view."""
        self.changed.emit()

    def _on_service_change(self) -> None:
        try:
            self._refresh_requested.emit()
        except RuntimeError:  # the window is gone; nothing to refresh
            pass


def install_calendar(window: Any, services: Services, actor: Actor,
                     runner: TaskRunner | None = None) -> CalendarIntegration:
    """Put the Calendar page in the window and wire its matter windows (once per window)."""
    existing = window.findChild(CalendarIntegration)
    if existing is not None:
        return existing
    return CalendarIntegration(window, services, actor, runner)
