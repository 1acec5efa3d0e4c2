"""Add task… / Add calendar event… (and editing them): title, case, times, attendees, reminders.

Times are typed in the office's local time (the calendar service's zone) and stored in UTC.
The service checks everything again; its refusal sentence is shown under the form.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.reminders import UNITS, ReminderSpec
from desktop_sms.domain.templates import format_offsets, parse_offsets
from desktop_sms.services.calendar import CalendarItemInput, CalendarItemView, CalendarService
from desktop_sms.services.client_reminders import ClientReminderService
from desktop_sms.services.common import Actor, ServiceError, ValidationError
from desktop_sms.services.matters import MatterService
from desktop_sms.services.users import UserInfo
from desktop_sms.ui.widgets.error_label import ErrorLabel

DATETIME_FORMAT = "yyyy-MM-dd HH:mm"


def to_qdatetime(when: datetime, tz: tzinfo) -> QDateTime:
    """A stored time as the wall-clock time of the office zone (no Qt time-zone conversion)."""
    local = when.astimezone(tz)
    return QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute))


def from_qdatetime(value: QDateTime, tz: tzinfo) -> datetime:
    """The wall-clock time shown in an editor, in the office zone."""
    d, t = value.date(), value.time()
    return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=tz)


def _datetime_edit(value: QDateTime) -> QDateTimeEdit:
    edit = QDateTimeEdit(value)
    edit.setDisplayFormat(DATETIME_FORMAT)
    edit.setCalendarPopup(True)
    return edit


class ReminderRow(QWidget):
    """One reminder: 'N minutes/hours/days before', or 'at' a fixed time; with a remove button."""

    remove_requested = Signal(object)  # self

    def __init__(self, spec: ReminderSpec, tz: tzinfo, default_fixed: QDateTime,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tz = tz
        self.mode = QComboBox()
        self.mode.addItems(["Before", "At a fixed time"])
        self.mode.setAccessibleName("Reminder kind")
        self.amount = QSpinBox()
        self.amount.setRange(0, 999)
        self.amount.setAccessibleName("Reminder amount")
        self.unit = QComboBox()
        self.unit.addItems(list(UNITS))
        self.unit.setAccessibleName("Reminder unit")
        before = QWidget()
        before_row = QHBoxLayout(before)
        before_row.setContentsMargins(0, 0, 0, 0)
        before_row.addWidget(self.amount)
        before_row.addWidget(self.unit)
        before_row.addWidget(QLabel("before"))
        self.fixed = _datetime_edit(default_fixed)
        self.fixed.setAccessibleName("Reminder time")
        self.stack = QStackedWidget()
        self.stack.addWidget(before)
        self.stack.addWidget(self.fixed)
        self.mode.currentIndexChanged.connect(self.stack.setCurrentIndex)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.mode)
        row.addWidget(self.stack, 1)
        row.addWidget(self.remove_button)
        self.set_spec(spec)

    def set_spec(self, spec: ReminderSpec) -> None:
        """Show a reminder (an offset in the largest whole unit, or a fixed time)."""
        if spec.fixed_at is not None:
            self.mode.setCurrentIndex(1)
            self.fixed.setDateTime(to_qdatetime(spec.fixed_at, self._tz))
            return
        self.mode.setCurrentIndex(0)
        minutes = spec.offset_minutes or 0
        for unit in ("days", "hours", "minutes"):
            size = UNITS[unit]
            if minutes % size == 0 and minutes // size <= self.amount.maximum():
                self.amount.setValue(minutes // size)
                self.unit.setCurrentText(unit)
                return
        self.amount.setValue(min(minutes, self.amount.maximum()))
        self.unit.setCurrentText("minutes")

    def spec(self) -> ReminderSpec:
        """The reminder as the service takes it."""
        if self.mode.currentIndex() == 1:
            return ReminderSpec.at(from_qdatetime(self.fixed.dateTime(), self._tz))
        return ReminderSpec.before(self.amount.value(), self.unit.currentText())


class CalendarItemDialog(QDialog):
    """Creates a task or an event (or edits one given its view); emits saved(item id)."""

    saved = Signal(int)

    def __init__(self, calendar: CalendarService, matters: MatterService, actor: Actor,
                 users: list[UserInfo], *, kind: str = "task", matter_id: int | None = None,
                 item: CalendarItemView | None = None, parent: QWidget | None = None,
                 client_reminders: ClientReminderService | None = None,
                 template_names: list[str] | None = None) -> None:
        super().__init__(parent)
        self._client_reminders = client_reminders
        self._calendar = calendar
        self._matters = matters
        self._actor = actor
        self._item = item
        self.kind = item.kind if item is not None else kind
        self._tz = calendar.tz
        self.saved_item_id: int | None = None
        what = "task" if self.kind == "task" else "calendar event"
        self.setWindowTitle(f"Edit {what}" if item else f"Add {what}")
        self.setMinimumWidth(520)

        self.title_edit = QLineEdit()
        self.title_edit.setMaxLength(200)
        self.title_edit.setPlaceholderText("e.g. File the answer" if self.kind == "task"
                                           else "e.g. Hearing")
        # The case: fixed when opened from a matter, else typed by number (optional).
        self._matter_id = item.matter_id if item is not None else matter_id
        self._matter_fixed = matter_id is not None and item is None
        self.case_edit = QLineEdit()
        self.case_edit.setPlaceholderText("Case number (optional)")
        if self._matter_id is not None:
            self.case_edit.setText(matters.detail(self._matter_id).case_number)
        self.case_edit.setReadOnly(self._matter_fixed)

        start = self._default_start()
        self.start_edit = _datetime_edit(to_qdatetime(start, self._tz))
        self.end_edit = _datetime_edit(to_qdatetime(start + timedelta(hours=1), self._tz))
        self.start_edit.dateTimeChanged.connect(self._keep_end_after_start)
        self.location_edit = QLineEdit()
        self.location_edit.setMaxLength(200)

        self.attendee_list = QListWidget()
        self.attendee_list.setAccessibleName("Attendees")
        self.attendee_list.setMaximumHeight(120)
        current = set(item.to_input().attendee_ids) if item else {actor.user_id}
        for user in users:
            if not user.active and user.id not in current:
                continue
            label = user.name if user.mobile_e164 else f"{user.name} (no mobile number)"
            entry = QListWidgetItem(label)
            entry.setData(Qt.ItemDataRole.UserRole, user.id)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(Qt.CheckState.Checked if user.id in current
                                else Qt.CheckState.Unchecked)
            self.attendee_list.addItem(entry)

        self.reminder_rows: list[ReminderRow] = []
        self.reminder_box = QVBoxLayout()
        self.reminder_box.setContentsMargins(0, 0, 0, 0)
        self.add_reminder_button = QPushButton("Add &reminder")
        self.add_reminder_button.clicked.connect(lambda: self.add_reminder())
        reminders_widget = QWidget()
        reminders_layout = QVBoxLayout(reminders_widget)
        reminders_layout.setContentsMargins(0, 0, 0, 0)
        reminders_layout.addLayout(self.reminder_box)
        reminders_layout.addWidget(self.add_reminder_button, 0, Qt.AlignmentFlag.AlignLeft)

        form = QFormLayout()
        form.addRow("&Title", self.title_edit)
        form.addRow("&Case", self.case_edit)
        if self.kind == "task":
            form.addRow("&Due", self.start_edit)
        else:
            form.addRow("&Starts", self.start_edit)
            form.addRow("&Ends", self.end_edit)
            form.addRow("&Location", self.location_edit)
        form.addRow("&Attendees", self.attendee_list)
        form.addRow("Text reminders", reminders_widget)
        self._build_client_reminders(form, item, template_names or [])
        hint = QLabel("Each attendee gets a text on the mobile number of their profile.")
        hint.setWordWrap(True)

        self.error = ErrorLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        if item is not None:
            self._load(item)
        else:
            self.add_reminder(ReminderSpec.before(1, "hours"))

    # --- public ------------------------------------------------------------------------
    def add_reminder(self, spec: ReminderSpec | None = None) -> ReminderRow:
        """Add a reminder row (15 minutes before unless told)."""
        default_fixed = self.start_edit.dateTime().addSecs(-3600)
        row = ReminderRow(spec or ReminderSpec.before(15), self._tz, default_fixed)
        row.remove_requested.connect(self._remove_reminder)
        self.reminder_rows.append(row)
        self.reminder_box.addWidget(row)
        return row

    def set_start(self, when: datetime) -> None:
        """Set the due time (task) or start (event)."""
        self.start_edit.setDateTime(to_qdatetime(when, self._tz))

    def set_end(self, when: datetime) -> None:
        self.end_edit.setDateTime(to_qdatetime(when, self._tz))

    def form_input(self) -> CalendarItemInput:
        """What the form holds, as the service takes it."""
        attendees = tuple(
            int(self.attendee_list.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.attendee_list.count())
            if self.attendee_list.item(i).checkState() == Qt.CheckState.Checked)
        start = from_qdatetime(self.start_edit.dateTime(), self._tz)
        reminders = tuple(row.spec() for row in self.reminder_rows)
        if self.kind == "task":
            return CalendarItemInput.task(self.title_edit.text(), start,
                                          matter_id=self._resolve_matter(),
                                          attendee_ids=attendees, reminders=reminders)
        return CalendarItemInput.event(self.title_edit.text(), start,
                                       from_qdatetime(self.end_edit.dateTime(), self._tz),
                                       matter_id=self._resolve_matter(),
                                       location=self.location_edit.text() or None,
                                       attendee_ids=attendees, reminders=reminders)

    def save(self) -> None:
        """Save through the service; on a refusal keep the dialog open and say why."""
        try:
            data = self.form_input()
            self._client_specs(data.matter_id)  # refused before anything is stored
            if self._item is None:
                item_id = self._calendar.create(self._actor, data)
            else:
                item_id = self._item.id
                self._calendar.update(self._actor, item_id, data)
        except ServiceError as exc:
            self.error.show_error(str(exc))
            return
        self._save_client_reminders(item_id)
        self.error.show_error(None)
        self.saved_item_id = item_id
        self.saved.emit(item_id)
        self.accept()

    # --- reminders to the client (docs/templates.md) -----------------------------------
    def _build_client_reminders(self, form: QFormLayout, item: CalendarItemView | None,
                                template_names: list[str]) -> None:
        self.client_offsets_edit = QLineEdit()
        self.client_offsets_edit.setAccessibleName("Remind the client")
        self.client_offsets_edit.setPlaceholderText("e.g. 1d,2h before (blank: none)")
        self.client_template_combo = QComboBox()
        self.client_template_combo.setAccessibleName("Client reminder template")
        self.client_template_combo.addItem("(standard reminder)", None)
        for name in template_names:
            self.client_template_combo.addItem(name, name)
        self.client_status = QLabel()
        self.client_status.setObjectName("clientReminderStatus")
        self.client_status.setTextFormat(Qt.TextFormat.PlainText)
        self.client_status.setWordWrap(True)
        self._loaded_client: tuple[str, str | None] = ("", None)
        if self._client_reminders is None:
            return
        row = QHBoxLayout()
        row.addWidget(self.client_offsets_edit, 1)
        row.addWidget(self.client_template_combo)
        form.addRow("Remind the &client", row)
        form.addRow("", self.client_status)
        if item is not None:
            lines = self._client_reminders.for_item(item.id)
            live = [x for x in lines if x.status != "canceled"]
            self.client_offsets_edit.setText(format_offsets(
                [x.offset_minutes for x in live if x.offset_minutes is not None]))
            self.client_status.setText("\n".join(x.label for x in lines))
            self._loaded_client = (self.client_offsets_edit.text().strip(), None)

    def _client_specs(self, matter_id: int | None) -> list[ReminderSpec] | None:
        """The client reminders asked for; None when they are unchanged (kept as they are)."""
        if self._client_reminders is None:
            return None
        text = self.client_offsets_edit.text().strip()
        template = self.client_template_combo.currentData()
        if (text, template) == self._loaded_client:
            return None
        try:
            minutes = parse_offsets(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if minutes and matter_id is None:
            raise ValidationError("Reminders to the client need a case: fill in the case.")
        return [ReminderSpec(offset_minutes=m) for m in minutes]

    def _save_client_reminders(self, item_id: int) -> None:
        if self._client_reminders is None:
            return
        specs = self._client_specs(self._resolve_matter())
        if specs is None:
            return
        template = self.client_template_combo.currentData()
        body = (self._client_reminders.templates.by_name(str(template)).body
                if template is not None else None)
        try:
            self._client_reminders.set_for_item(self._actor, item_id, specs, body)
        except ServiceError as exc:
            self.error.show_error(f"Saved, but the reminders to the client were not: {exc}")

    # --- internals ---------------------------------------------------------------------
    def _default_start(self) -> datetime:
        """Tomorrow at 9:00 local."""
        today = self._calendar.clock().astimezone(self._tz).date()
        return datetime.combine(today + timedelta(days=1), time(9, 0), tzinfo=self._tz)

    def _load(self, item: CalendarItemView) -> None:
        self.title_edit.setText(item.title)
        self.case_edit.setText(item.case_number or "")
        self.set_start(item.starts_at)
        if item.ends_at is not None:
            self.set_end(item.ends_at)
        self.location_edit.setText(item.location or "")
        for reminder in item.reminders:
            self.add_reminder(reminder.spec)

    def _resolve_matter(self) -> int | None:
        if self._matter_fixed:
            return self._matter_id
        number = self.case_edit.text().strip()
        if not number:
            return None
        try:
            return self._matters.by_number(number).id
        except ServiceError:
            raise ValidationError(f"There is no case numbered '{number}'.") from None

    def _remove_reminder(self, row: ReminderRow) -> None:
        if row in self.reminder_rows:
            self.reminder_rows.remove(row)
            self.reminder_box.removeWidget(row)
            row.deleteLater()

    def _keep_end_after_start(self, value: QDateTime) -> None:
        if self.end_edit.dateTime() <= value:
            self.end_edit.setDateTime(value.addSecs(3600))

