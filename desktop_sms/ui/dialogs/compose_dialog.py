"""Actions → Send SMS…: write a text to a matter's client, now or later (docs/product.md F2, F10).

The dialog makes the same checks the send service makes (number, length, consent, opt-out,
time) so the user learns why before pressing Send; the service checks again, and a refusal it
gives is shown as its sentence with the dialog left open. Sending runs on the background
runner; the dialog closes when the text is queued.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QDate, QDateTime, QEvent, QObject, Qt, QTime, QTimer, QTimeZone, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.local_times import (
    AmbiguousLocalTime,
    LocalTimeError,
    NonexistentLocalTime,
    resolve_local_time,
)
from desktop_sms.domain.phones import local_time_zone
from desktop_sms.domain.segments import MAX_BODY_CHARS, count_segments, smart_characters
from desktop_sms.services.calendar import local_zone
from desktop_sms.services.common import Actor, Clock, ServiceError, ValidationError
from desktop_sms.services.consent import QuietHoursError
from desktop_sms.services.container import Services
from desktop_sms.services.conversations import DraftText
from desktop_sms.services.held import hold_decision
from desktop_sms.services.matters import MatterDetail
from desktop_sms.services.outbound import MIN_SCHEDULE_AHEAD, ConsentRequired, OptedOutNumber
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.widgets.template_picker import TemplatePicker

NO_ATTACHMENTS = "Images and documents can't be sent; clients can send them to you"
CONSENT_QUESTION = "Has the client agreed to receive text messages about this case?"
CONSENT_BLOCKER = "Send is available once the client's SMS consent is Yes."
CONSENT_WORDS = {"yes": "Yes", "no": "No", "not_asked": "Not asked"}
DEFAULT_SCHEDULE_AHEAD = timedelta(minutes=10)
TIME_REFRESH_MS = 30_000


def counter_text(text: str) -> str:
    """'42 characters · GSM-7 · 1 segment', as Twilio counts the body."""
    info = count_segments(text)
    chars = "1 character" if info.characters == 1 else f"{info.characters:,} characters"
    segments = "1 segment" if info.segments == 1 else f"{info.segments:,} segments"
    return f"{chars} · {info.encoding} · {segments}"


def clock_time(value: datetime) -> str:
    """'3:12 PM' (no platform-specific strftime flags)."""
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d} {'AM' if value.hour < 12 else 'PM'}"


def to_qdatetime(value: datetime) -> QDateTime:
    """An aware datetime as a QDateTime in the desktop's local time."""
    return QDateTime.fromMSecsSinceEpoch(int(value.timestamp() * 1000))


def from_qdatetime(value: QDateTime) -> datetime:
    """A QDateTime (local time) as an aware UTC datetime, as the services store it."""
    return datetime.fromtimestamp(value.toMSecsSinceEpoch() / 1000, UTC)


def wall_qdatetime(value: datetime, zone: tzinfo) -> QDateTime:
    """An instant as the wall-clock time of ``zone``, held without any Qt zone conversion.

    The picker edits wall-clock times only; `domain.local_times.resolve_local_time` (the one
    rule the command line uses too) turns them into instants, so Qt never moves a time that
    the clock skips or shows twice on its own.
    """
    local = value.astimezone(zone)
    return QDateTime(QDate(local.year, local.month, local.day),
                     QTime(local.hour, local.minute, local.second), QTimeZone.utc())


def wall_time(value: QDateTime) -> datetime:
    """The naive wall-clock time a picker shows."""
    d, t = value.date(), value.time()
    return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), t.second())


SMART_ENCODING_NOTE = ("Your Messaging Service may make these replacements itself "
                       "(Twilio Smart Encoding).")


def _ceil_minute(value: datetime) -> datetime:
    """Round up to the next whole minute (the picker shows no seconds)."""
    seconds = value.timestamp()
    return datetime.fromtimestamp(math.ceil(seconds / 60) * 60, UTC)


def consent_summary(detail: MatterDetail) -> str:
    """'Yes — recorded by Pat Paralegal on 2026-03-02 10:00', or 'Not asked'."""
    text = CONSENT_WORDS.get(detail.consent, detail.consent)
    if detail.consent != "not_asked" and detail.consent_by:
        text += f" — recorded by {detail.consent_by}"
        if detail.consent_at:
            text += f" on {detail.consent_at.astimezone().strftime('%Y-%m-%d %H:%M')}"
    return text


def _plain_label(text: str = "", object_name: str = "") -> QLabel:
    """A word-wrapped label that never interprets its text as HTML (client data goes in it)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if object_name:
        label.setObjectName(object_name)
    return label


def closed_case_warning(stage: str) -> str:
    """The warning shown above a text on a case that is no longer open ('' when it is)."""
    if stage in ("closed", "rejected"):
        return (f"This case is {stage}. Check that the client should still get texts "
                "about it before you send.")
    return ""


class ComposeDialog(QDialog):
    """Compose and send (or schedule) one text from a matter; emits message_queued(id)."""

    message_queued = Signal(int)
    consent_changed = Signal(int)  # matter id: the matter's header should be read again
    templates_loaded = Signal()
    template_applied = Signal(bool)  # True: the filled text is in the box; False: refused

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner, matter_id: int,
                 clock: Clock | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._services = services
        self._outbound = services.outbound
        self._actor = actor
        self._runner = runner
        self._clock: Clock = clock or services.clock
        self.matter_id = matter_id
        self.message_id: int | None = None
        self.detail = services.matters.detail(matter_id)
        self.consent_required = bool(services.settings.get("sms_consent_required"))
        # What decides whether Twilio holds a scheduled text (read off the GUI thread).
        self._hold_inputs: tuple[str | None, timedelta] | None = None
        self._opted_out: dict[str, bool] = {}
        # The client's opt-out state per number and the office's override rule.
        self.text_status = services.consent.status(matter_id)
        self.override_allowed = bool(services.settings.get("allow_opt_out_override"))
        self.quiet_policy = services.consent.policy()
        self._pending_consent: str | None = None
        self._recipient_e164: str | None = None
        self._sending = False
        self._saving_consent = False
        self._zone: tzinfo = local_zone()
        self._chosen_reading: tuple[datetime, datetime] | None = None  # wall time, instant
        self.ambiguity_box: QMessageBox | None = None
        self._smart_encoding = bool(str(services.settings.get("messaging_service_sid") or ""))

        self.setObjectName("composeDialog")
        self.setWindowTitle(f"Send SMS — {self.detail.case_number}")
        self.setMinimumWidth(560)

        # --- header -----------------------------------------------------------------------
        self.heading = _plain_label(object_name="pageHeading")
        self.consent_header = _plain_label(object_name="consentHeader")
        # Texting on a closed (or rejected) case is allowed, but said plainly first.
        self.closed_case_warning = _plain_label(
            closed_case_warning(self.detail.stage), "closedCaseWarning")
        self.closed_case_warning.setStyleSheet("color: #8a5a00; font-weight: 600;")
        self.closed_case_warning.setVisible(bool(self.closed_case_warning.text()))

        # --- To ---------------------------------------------------------------------------
        self.to_combo = QComboBox()
        self.to_combo.setEditable(True)
        self.to_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.to_combo.setAccessibleName("To")
        line = self.to_combo.lineEdit()
        if line is not None:
            line.setPlaceholderText("(212) 555-0123")
        if self.detail.mobile_raw:
            self.to_combo.addItem(self.detail.mobile_raw, "Client's mobile")
        if self.detail.home_raw:
            self.to_combo.addItem(self.detail.home_raw, "Home phone")
        self.to_combo.setCurrentText(self.detail.mobile_raw or "")
        self.recipient_kind = _plain_label(object_name="recipientKind")
        self.recipient_error = ErrorLabel()
        self.opt_out_label = ErrorLabel()
        self.opt_out_label.setObjectName("optOutLabel")
        self.recipient_time = _plain_label(object_name="recipientTime")
        self.quiet_hours_warning = _plain_label(object_name="quietHoursWarning")
        self.quiet_hours_warning.setStyleSheet("color: #8a5a00;")
        self.quiet_hours_warning.setVisible(False)
        self.client_stop_label = ErrorLabel()
        self.client_stop_label.setObjectName("clientStopLabel")
        self.override_reason = QLineEdit()
        self.override_reason.setPlaceholderText("Reason for texting this number anyway")
        self.override_reason.setVisible(False)
        self.override_reason.textChanged.connect(lambda _t: self._update_send_button())
        # Send now inside quiet hours: a confirmation with a reason.
        self.quiet_box = QGroupBox("Send during quiet hours?")
        self.quiet_text = _plain_label(object_name="quietConfirmText")
        self.quiet_reason = QLineEdit()
        self.quiet_reason.setPlaceholderText("Why it can't wait (kept in the audit log)")
        self.quiet_send_button = QPushButton("Send &anyway")
        self.quiet_send_button.setEnabled(False)
        self.quiet_reason.textChanged.connect(
            lambda t: self.quiet_send_button.setEnabled(bool(t.strip())))
        self.quiet_send_button.clicked.connect(self.send_in_quiet_hours)
        quiet_layout = QVBoxLayout(self.quiet_box)
        quiet_layout.addWidget(self.quiet_text)
        quiet_layout.addWidget(self.quiet_reason)
        quiet_layout.addWidget(self.quiet_send_button)
        self.quiet_box.setVisible(False)

        # --- message ----------------------------------------------------------------------
        self.body_edit = QPlainTextEdit()
        self.body_edit.setAccessibleName("Message")
        self.body_edit.setPlaceholderText("Type the text to send")
        self.body_edit.setTabChangesFocus(True)
        self.body_edit.setMinimumHeight(120)
        self.body_edit.installEventFilter(self)  # Ctrl+Enter sends from inside the text
        self.counter_label = _plain_label(object_name="counterLabel")
        self.smart_label = _plain_label(object_name="smartCharactersLabel")
        self.smart_label.setVisible(False)
        self.plain_quotes_button = QPushButton("Use &plain quotes")
        self.plain_quotes_button.setAutoDefault(False)
        self.plain_quotes_button.setVisible(False)
        self.plain_quotes_button.clicked.connect(self.use_plain_quotes)
        self.body_error = ErrorLabel()
        self.attachments_note = _plain_label(NO_ATTACHMENTS, "attachmentsNote")
        # Template picker (docs/templates.md): the text is filled for this case, then editable.
        self.template_picker = TemplatePicker(services, actor, runner, matter_id, self)
        self.template_combo = self.template_picker.combo
        self.template_error = self.template_picker.error
        self.template_picker.filled.connect(self.body_edit.setPlainText)  # the counter follows
        self.template_picker.applied.connect(self.template_applied)
        self.template_picker.templates_loaded.connect(self.templates_loaded)

        # --- consent ----------------------------------------------------------------------
        # Titled by what it asks: the header above already reads "SMS consent: …".
        self.consent_box = QGroupBox("Ask the client now")
        self.consent_instructions = _plain_label(
            str(services.settings.get("sms_consent_instructions")), "consentInstructions")
        self.consent_question = _plain_label(CONSENT_QUESTION)
        self.consent_yes = QRadioButton("&Yes")
        self.consent_no = QRadioButton("N&o")
        self.consent_group = QButtonGroup(self)
        self.consent_group.addButton(self.consent_yes)
        self.consent_group.addButton(self.consent_no)
        self.consent_error = ErrorLabel()
        self.consent_confirm_text = _plain_label(object_name="consentConfirmText")
        self.consent_confirm_button = QPushButton("&Confirm answer")
        self.consent_confirm_button.setVisible(False)
        self.consent_confirm_button.clicked.connect(self.confirm_consent)
        radios = QHBoxLayout()
        radios.addWidget(self.consent_yes)
        radios.addWidget(self.consent_no)
        radios.addStretch(1)
        consent_layout = QVBoxLayout(self.consent_box)
        consent_layout.addWidget(self.consent_instructions)
        consent_layout.addWidget(self.consent_question)
        consent_layout.addLayout(radios)
        consent_layout.addWidget(self.consent_confirm_text)
        consent_layout.addWidget(self.consent_confirm_button)
        consent_layout.addWidget(self.consent_error)
        # A recorded answer is not asked again (changed on the case: Record SMS consent…).
        self.consent_box.setVisible(self.consent_required and self.detail.consent == "not_asked")
        self.consent_yes.clicked.connect(lambda: self._answer_consent("yes"))
        self.consent_no.clicked.connect(lambda: self._answer_consent("no"))

        # --- when -------------------------------------------------------------------------
        self.send_now_radio = QRadioButton("Send &now")
        self.schedule_radio = QRadioButton("Schedule for &later")
        self.send_now_radio.setChecked(True)
        self.when_group = QButtonGroup(self)
        self.when_group.addButton(self.send_now_radio)
        self.when_group.addButton(self.schedule_radio)
        self.when_edit = QDateTimeEdit()
        self.when_edit.setCalendarPopup(True)
        self.when_edit.setDisplayFormat("yyyy-MM-dd h:mm AP")
        self.when_edit.setTimeZone(QTimeZone.utc())  # wall-clock times; see wall_qdatetime
        self.when_edit.setAccessibleName("Send at (local time)")
        self.when_edit.setToolTip("Your local time; at least one minute from now")
        self.when_edit.setEnabled(False)
        self._reset_schedule_limits(default=True)
        when_row = QHBoxLayout()
        when_row.addWidget(self.send_now_radio)
        when_row.addWidget(self.schedule_radio)
        when_row.addWidget(self.when_edit, 1)
        when_row.addWidget(QLabel("your local time"))
        self.path_label = _plain_label(object_name="pathLabel")
        self.path_label.setWordWrap(True)
        self.path_label.setVisible(False)

        # --- buttons ----------------------------------------------------------------------
        self.error = ErrorLabel()
        self.send_hint = _plain_label(object_name="sendHint")
        self.send_hint.setVisible(False)
        self.send_button = QPushButton("&Send")
        self.send_button.setDefault(False)
        self.send_button.setAutoDefault(False)
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        self.send_button.clicked.connect(self.send)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)  # Enter in the To box must not close the dialog

        # --- layout -----------------------------------------------------------------------
        to_row = QHBoxLayout()
        to_row.addWidget(self.to_combo, 1)
        to_row.addWidget(self.recipient_kind)
        to_label = QLabel("&To")
        to_label.setBuddy(self.to_combo)
        # Never narrower than its text (a style's form spacing clipped it to "Tc").
        to_label.setMinimumWidth(to_label.sizeHint().width())
        self.to_label = to_label
        form = QFormLayout()
        form.addRow(to_label, to_row)
        form.addRow("", self.recipient_error)
        form.addRow("", self.opt_out_label)
        form.addRow("", self.client_stop_label)
        form.addRow("", self.override_reason)
        form.addRow("", self.recipient_time)
        form.addRow("", self.quiet_hours_warning)
        form.addRow("Te&mplate", self.template_combo)
        form.addRow("", self.template_error)
        form.addRow("&Message", self.body_edit)
        form.addRow("", self.counter_label)
        smart_row = QHBoxLayout()
        smart_row.addWidget(self.smart_label, 1)
        smart_row.addWidget(self.plain_quotes_button)
        form.addRow("", smart_row)
        form.addRow("", self.body_error)
        form.addRow("", self.attachments_note)
        form.addRow("When", when_row)
        form.addRow("", self.path_label)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.closed_case_warning)
        layout.addWidget(self.consent_header)
        layout.addWidget(self.consent_box)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.quiet_box)
        layout.addWidget(self.send_hint)
        layout.addWidget(self.buttons)

        self.to_combo.editTextChanged.connect(self._recipient_changed)
        self.to_combo.currentIndexChanged.connect(lambda _i: self._recipient_changed())
        self.body_edit.textChanged.connect(self._body_changed)
        self.schedule_radio.toggled.connect(self._when_changed)
        self.when_edit.dateTimeChanged.connect(lambda _v: self._update_recipient_time())
        self.when_edit.dateTimeChanged.connect(lambda _v: self._update_path())

        # The recipient's clock moves while the dialog is open.
        self.time_timer = QTimer(self)
        self.time_timer.setInterval(TIME_REFRESH_MS)
        self.time_timer.timeout.connect(self._update_recipient_time)
        self.time_timer.start()

        self._show_detail()
        self._recipient_changed()
        self._body_changed()
        self.body_edit.setFocus()
        self._runner.run(services.held.hold_inputs, on_success=self._hold_inputs_loaded)
        self._init_drafts()

    # --- public --------------------------------------------------------------------------
    def body(self) -> str:
        """The message as typed (plain text)."""
        return self.body_edit.toPlainText()

    def recipient(self) -> str:
        """The number as typed in To."""
        return self.to_combo.currentText().strip()

    def send_at(self) -> datetime | None:
        """None for Send now, else the picked local time in UTC.

        A time the clock skips reads as the next valid time and a time it shows twice as its
        first occurrence (or the one the user chose); `resolve_send_at` refuses or asks instead.
        """
        if not self.schedule_radio.isChecked():
            return None
        try:
            return self.resolve_send_at()
        except NonexistentLocalTime as exc:
            return exc.next_valid.astimezone(UTC)
        except AmbiguousLocalTime as exc:
            return exc.earlier.astimezone(UTC)

    def resolve_send_at(self) -> datetime | None:
        """The picked time as an instant by the one clock-change rule.

        Raises:
            NonexistentLocalTime: the clock skips the picked time (names the next valid one).
            AmbiguousLocalTime: the clock shows it twice and the user has not said which.
        """
        if not self.schedule_radio.isChecked():
            return None
        wall = wall_time(self.when_edit.dateTime())
        if self._chosen_reading is not None and self._chosen_reading[0] == wall:
            return self._chosen_reading[1]
        return resolve_local_time(wall, self._zone)

    def set_send_at(self, when: datetime) -> None:
        """Choose Schedule for later at this time (clamped to the picker's minimum)."""
        self.schedule_radio.setChecked(True)
        self.when_edit.setDateTime(wall_qdatetime(when, self._zone))

    def set_send_at_wall_time(self, wall: datetime) -> None:
        """Choose Schedule for later at this wall-clock time, as typed into the picker."""
        self.schedule_radio.setChecked(True)
        self.when_edit.setDateTime(QDateTime(
            QDate(wall.year, wall.month, wall.day), QTime(wall.hour, wall.minute),
            QTimeZone.utc()))

    def use_plain_quotes(self) -> None:
        """Replace curly quotes, dashes, ellipses and odd spaces with plain ones (one click)."""
        advice = smart_characters(self.body())
        if advice is not None:
            self.body_edit.setPlainText(advice.plain_text)

    def send_blockers(self) -> list[str]:
        """Why Send is disabled right now (empty when it is enabled)."""
        blockers: list[str] = []
        body = self.body()
        if not body.strip():
            blockers.append("The message is empty.")
        elif len(body) > MAX_BODY_CHARS:
            blockers.append(self.body_error.text())
        if self._recipient_e164 is None:
            blockers.append(self.recipient_error.text() or "Type the number to text.")
        elif self._opted_out.get(self._recipient_e164):
            blockers.append(self.opt_out_label.text())
        elif self._client_blocked() and not (self.override_allowed
                                             and self.override_reason.text().strip()):
            blockers.append(self.client_stop_label.text())
        if self.consent_required and self.detail.consent != "yes":
            blockers.append(CONSENT_BLOCKER)
        if self._saving_consent:
            blockers.append("Saving the consent answer…")
        if self._sending:
            blockers.append("Sending…")
        return blockers

    def send(self) -> None:
        """Queue or schedule the text through the runner (Send button, Ctrl+Enter)."""
        if self.send_blockers():
            self._update_send_button()
            return
        try:
            send_at = self.resolve_send_at()
        except AmbiguousLocalTime as exc:
            self._ask_which_reading(exc)
            return
        except LocalTimeError as exc:
            self.error.show_error(str(exc))
            return
        try:
            self._outbound.check_send_at(send_at)
        except ValidationError as exc:
            self.error.show_error(str(exc))
            return
        self.error.show_error(None)
        self._sending = True
        self._update_send_button()
        self._submit(send_at, None)

    def send_in_quiet_hours(self) -> None:
        """The confirmation step's "Send anyway": send now with the typed reason (audited)."""
        reason = self.quiet_reason.text().strip()
        if not reason or self.send_blockers():
            return
        self.quiet_box.setVisible(False)
        self._sending = True
        self._update_send_button()
        self._submit(None, reason)

    def _submit(self, send_at: datetime | None, quiet_reason: str | None) -> None:
        override = self.override_reason.text().strip() if self._client_blocked() else None
        self._runner.run(lambda: self._outbound.send(
            self._actor, self.matter_id, self.recipient(), self.body(), send_at,
            override_quiet_hours=quiet_reason, override_opt_out=override or None),
            on_success=self._on_sent, on_failure=self._on_send_failed)

    def _client_blocked(self) -> bool:
        """The recipient is another number of a client who replied STOP (scope `client`)."""
        e164 = self._recipient_e164
        number = self.text_status.number(e164) if e164 else None
        return bool(number and number.blocked and not number.opted_out)

    def _ask_which_reading(self, exc: AmbiguousLocalTime) -> None:
        """Ask which of the two occurrences of a doubled time is meant (non-blocking)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Which time?", str(exc).split(" Give ")[0],
                          QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        first = box.addButton(f"First: {clock_time(exc.earlier)} {exc.earlier.tzname()}",
                              QMessageBox.ButtonRole.AcceptRole)
        second = box.addButton(f"Second: {clock_time(exc.later)} {exc.later.tzname()}",
                               QMessageBox.ButtonRole.AcceptRole)
        readings = {first: exc.earlier, second: exc.later}

        def chosen(button: object) -> None:
            instant = readings.get(button)  # type: ignore[call-overload]
            if instant is None:
                return
            self._chosen_reading = (exc.typed, instant.astimezone(UTC))
            self.send()

        box.buttonClicked.connect(chosen)
        self.ambiguity_box = box
        box.open()

    # --- keyboard ------------------------------------------------------------------------
    @staticmethod
    def _is_send_key(event: QKeyEvent) -> bool:
        return (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A key filter rather than a QShortcut: QPlainTextEdit would otherwise take the
        # Return, and shortcuts only fire in the active window.
        if (watched is self.body_edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and self._is_send_key(event)):
            self.send()
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._is_send_key(event):
            self.send()
            return
        super().keyPressEvent(event)

    # --- reactions -----------------------------------------------------------------------
    def _show_detail(self) -> None:
        d = self.detail
        self.heading.setText(f"Text {d.client_name} — case {d.case_number}")
        summary = consent_summary(d)
        self.consent_header.setText(f"SMS consent: {summary}")
        # Show the stored answer without emitting clicks.
        self.consent_group.setExclusive(False)
        self.consent_yes.setChecked(d.consent == "yes")
        self.consent_no.setChecked(d.consent == "no")
        self.consent_group.setExclusive(True)
        self._update_send_button()

    def _recipient_changed(self) -> None:
        text = self.recipient()
        index = self.to_combo.findText(text)
        self.recipient_kind.setText(str(self.to_combo.itemData(index)) if index >= 0 and text
                                    else "Other number" if text else "")
        self._recipient_e164 = None
        error: str | None = None
        if not text:
            error = "Type the number to text."
        else:
            try:
                self._recipient_e164 = self._outbound.normalize_recipient(text)
            except ValidationError as exc:
                error = str(exc)
        self.recipient_error.show_error(error)
        e164 = self._recipient_e164
        if e164 is not None and e164 not in self._opted_out:
            self._opted_out[e164] = self._outbound.opted_out(e164)
        self._show_opt_out()
        self._update_recipient_time()
        self._update_send_button()

    def _show_opt_out(self) -> None:
        e164 = self._recipient_e164
        if e164 is not None and self._opted_out.get(e164):
            self.opt_out_label.show_error(
                f"{self.recipient()} replied STOP and has opted out of texts; it cannot be "
                "texted until the client texts START.")
        else:
            self.opt_out_label.show_error(None)
        if self._client_blocked():
            tail = (" To text this number anyway, give a reason (kept in the audit log)."
                    if self.override_allowed else
                    " The office does not allow texting a client who opted out.")
            self.client_stop_label.show_error(self.text_status.stop_sentence() + tail)
        else:
            self.client_stop_label.show_error(None)
        self.override_reason.setVisible(self._client_blocked() and self.override_allowed)

    def _update_recipient_time(self) -> None:
        e164 = self._recipient_e164
        self.quiet_hours_warning.setVisible(False)
        if e164 is None:
            self.recipient_time.setText("")
            self.recipient_time.setVisible(False)
            return
        self.recipient_time.setVisible(True)
        zone_name = local_time_zone(e164)
        try:
            zone = ZoneInfo(zone_name) if zone_name else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            self.recipient_time.setText("Recipient's local time: unknown for this number")
            return
        scheduled = self.send_at()
        local = (scheduled or self._clock()).astimezone(zone)
        prefix = "Recipient's local time at the scheduled time" if scheduled else \
            "Recipient's local time"
        self.recipient_time.setText(f"{prefix}: {clock_time(local)} ({zone_name})")
        moment = scheduled or self._clock()
        window = self.quiet_policy.window_for(e164)
        if window is not None and self.quiet_policy.is_quiet(moment, e164):
            allowed = self.quiet_policy.next_allowed(moment, e164)
            self.quiet_hours_warning.setText(
                f"That is inside the recipient's quiet hours ({window.label()} their time); "
                f"texts can go from {self.quiet_policy.local_label(allowed, e164)}.")
            self.quiet_hours_warning.setVisible(True)

    def _body_changed(self) -> None:
        body = self.body()
        self.counter_label.setText(counter_text(body))
        advice = smart_characters(body)
        if advice is not None:
            note = advice.sentence() + "."
            if self._smart_encoding:
                note += " " + SMART_ENCODING_NOTE
            self.smart_label.setText(note)
        self.smart_label.setVisible(advice is not None)
        self.plain_quotes_button.setVisible(advice is not None)
        if len(body) > MAX_BODY_CHARS:
            self.body_error.show_error(
                f"The message is {len(body):,} characters long; the limit is "
                f"{MAX_BODY_CHARS:,} characters. Shorten it by {len(body) - MAX_BODY_CHARS:,}.")
        else:
            self.body_error.show_error(None)
        self._update_send_button()

    def _when_changed(self, scheduled: bool) -> None:
        if scheduled:
            self._reset_schedule_limits(default=False)
        self.when_edit.setEnabled(scheduled)
        self.send_button.setText("&Schedule" if scheduled else "&Send")
        self._update_recipient_time()
        self._update_path()

    def _hold_inputs_loaded(self, inputs: tuple[str | None, timedelta]) -> None:
        self._hold_inputs = inputs
        self._update_path()

    def _update_path(self) -> None:
        """Say whether the scheduled text will be held by Twilio or wait in our queue, and why."""
        send_at = self.send_at()
        if send_at is None or self._hold_inputs is None:
            self.path_label.setVisible(False)
            return
        service_sid, min_lead = self._hold_inputs
        decision = hold_decision(send_at, self._clock(), service_sid, min_lead)
        self.path_label.setText(decision.reason)
        self.path_label.setVisible(True)

    def _reset_schedule_limits(self, default: bool) -> None:
        """Minimum one minute from now; a fresh picker starts a few minutes ahead."""
        now = self._clock()
        minimum = _ceil_minute(now + MIN_SCHEDULE_AHEAD)
        self.when_edit.setMinimumDateTime(wall_qdatetime(minimum, self._zone))
        if default:
            self.when_edit.setDateTime(
                wall_qdatetime(_ceil_minute(now + DEFAULT_SCHEDULE_AHEAD), self._zone))

    def _update_send_button(self) -> None:
        blockers = self.send_blockers()
        self.send_button.setEnabled(not blockers)
        self.send_button.setToolTip("Send (Ctrl+Enter)" if not blockers else blockers[0])
        self.send_hint.setText(CONSENT_BLOCKER)
        self.send_hint.setVisible(CONSENT_BLOCKER in blockers)
        self.consent_box.setEnabled(not self._saving_consent and not self._sending)

    def _answer_consent(self, answer: str) -> None:
        """The first step: a click only asks for confirmation; nothing is saved yet."""
        if self._saving_consent or answer == self.detail.consent:
            return
        self._pending_consent = answer
        self.consent_confirm_text.setText(
            f"Record that the client said {answer.upper()} (verbal)? It is kept in the case's "
            "consent history and not asked again.")
        self.consent_confirm_button.setVisible(True)

    def confirm_consent(self) -> None:
        """The second step: save the chosen answer (method verbal) through the runner."""
        answer = self._pending_consent
        if answer is None or self._saving_consent:
            return
        self.consent_confirm_button.setVisible(False)
        self._saving_consent = True
        self.consent_error.show_error(None)
        self._update_send_button()
        services = self._services

        def save() -> MatterDetail:
            services.consent.record(self._actor, self.matter_id, answer, "verbal")
            return services.matters.detail(self.matter_id)

        self._runner.run(save, on_success=self._on_consent_saved,
                         on_failure=self._on_consent_failed)

    def _on_consent_saved(self, detail: MatterDetail) -> None:
        self._saving_consent = False
        self.detail = detail
        self._show_detail()
        self.consent_changed.emit(self.matter_id)

    def _on_consent_failed(self, exc: BaseException) -> None:
        self._saving_consent = False
        self.consent_error.show_error(str(exc) if isinstance(exc, ServiceError)
                                      else f"The answer could not be saved: {exc}")
        self._show_detail()

    def _on_sent(self, message_id: int) -> None:
        self._sending = False
        self.message_id = message_id
        self._runner.run(self._services.conversations.clear_draft, self._actor, self.matter_id)
        self.message_queued.emit(message_id)
        self.accept()

    def _on_send_failed(self, exc: BaseException) -> None:
        self._sending = False
        if isinstance(exc, OptedOutNumber) and self._recipient_e164 is not None:
            self._opted_out[self._recipient_e164] = True
            self._show_opt_out()
        if isinstance(exc, QuietHoursError):
            if self.send_at() is None:
                self.quiet_text.setText(str(exc))
                self.quiet_reason.clear()
                self.quiet_box.setVisible(True)
                self._update_send_button()
                return
            self.set_send_at(exc.next_allowed)  # the next allowed time, offered
        if isinstance(exc, ConsentRequired):
            # Someone else may have changed the answer; show what is stored now.
            try:
                self.detail = self._services.matters.detail(self.matter_id)
            except ServiceError:
                pass
            self._show_detail()
        self.error.show_error(str(exc) if isinstance(exc, ServiceError)
                              else f"The text could not be queued: {exc}")
        self._update_send_button()

    # --- drafts (docs/conversations.md) ----------------------------------------------------
    def _init_drafts(self) -> None:
        """Bring back the user's draft to this matter, and ask before closing with typed text."""
        self.close_question: QMessageBox | None = None
        self._closing_decided = False
        self.draft_restored = False
        self._runner.run(self._services.conversations.draft, self._actor, self.matter_id,
                         on_success=self._draft_loaded)

    def _draft_loaded(self, draft: DraftText | None) -> None:
        if draft is None or not widget_alive(self) or self.body():
            return
        self.body_edit.setPlainText(draft.body)
        if draft.to_raw:
            self.to_combo.setCurrentText(draft.to_raw)
        self.draft_restored = True

    def reject(self) -> None:
        """Cancel, Esc or the close box: with typed text, ask to keep it as a draft first."""
        if self._closing_decided or self.message_id is not None or not self.body().strip():
            super().reject()
            return
        if self.close_question is not None:
            self.close_question.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Close without sending?",
                          "The text has not been sent. Keep it as a draft for this case?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        keep = box.addButton("&Keep draft", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)

        def answered(button: object) -> None:
            self.close_question = None
            conv = self._services.conversations
            if button is keep:
                self._runner.run(conv.save_draft, self._actor, self.matter_id, self.body(),
                                 self.recipient())
            elif button is discard:
                self._runner.run(conv.clear_draft, self._actor, self.matter_id)
            else:
                return
            self._closing_decided = True
            super(ComposeDialog, self).reject()

        box.buttonClicked.connect(answered)
        self.close_question = box
        box.open()
