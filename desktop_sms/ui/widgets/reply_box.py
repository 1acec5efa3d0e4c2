"""The reply box at the foot of a case's SMS log (docs/conversations.md): answer where you read.

It shows the compose dialog's counter (``counter_text``) and the same blockers (consent,
opt-out, length, number) and quiet-hours warning, and sends through ``OutboundService.send``,
which repeats every check; a refusal is shown as the service's sentence and the text stays.
What is typed is kept as the user's draft for the matter and comes back when the box opens
again. Ctrl+Enter sends. **Template** fills a template for the case into the box, the same
picker as the compose dialog's (``TemplatePicker``); the text can then be edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.phones import (
    InvalidPhoneNumber,
    is_quiet_hours,
    local_time_zone,
    normalize,
)
from desktop_sms.domain.segments import MAX_BODY_CHARS
from desktop_sms.services.common import Actor, Clock, ServiceError
from desktop_sms.services.container import Services
from desktop_sms.services.conversations import DraftText
from desktop_sms.services.matters import MatterDetail
from desktop_sms.ui.dialogs.compose_dialog import CONSENT_BLOCKER, clock_time, counter_text
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.widgets.template_picker import TemplatePicker

DRAFT_SAVE_MS = 700


@dataclass(frozen=True)
class ReplyContext:
    """What the box reads when it opens (on the runner)."""

    detail: MatterDetail
    consent_required: bool
    draft: DraftText | None
    needs_response: bool
    region: str  # the office's default region, for reading typed numbers


def _plain(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


class ReplyBox(QWidget):
    """Type and send a text to the matter's client without leaving the SMS log."""

    sent = Signal(int)  # outbound message id
    loaded = Signal()
    state_changed = Signal()  # needs-response changed (marked done)
    template_applied = Signal(bool)  # True: the filled text is in the box; False: refused

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner, matter_id: int,
                 clock: Clock | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replyBox")
        self._services = services
        self._actor = actor
        self._runner = runner
        self._clock: Clock = clock or services.clock
        self.matter_id = matter_id
        self.detail: MatterDetail | None = None
        self.consent_required = False
        self.needs_response = False
        self._recipient: str | None = None
        self._recipient_e164: str | None = None
        self._opted_out: dict[str, bool] = {}
        self._region: str | None = None  # known once loaded (read on the runner)
        self._sending = False
        self._restoring = False
        self._draft_dirty = False

        self.to_label = _plain(name="replyTo")
        self.status_label = _plain(name="needsResponse")
        self.status_label.setStyleSheet("color: #8a5a00; font-weight: 600;")
        self.done_button = QPushButton("Mark &done")
        self.done_button.setToolTip("Nobody needs to answer this conversation for now")
        self.done_button.clicked.connect(self.mark_done)
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("replyEdit")
        self.edit.setAccessibleName("Reply")
        self.edit.setPlaceholderText("Write a reply… (Ctrl+Enter sends)")
        self.edit.setTabChangesFocus(True)
        self.edit.setMaximumHeight(90)
        self.edit.installEventFilter(self)
        self.counter_label = _plain(name="counterLabel")
        self.warning = _plain(name="quietHoursWarning")
        self.warning.setStyleSheet("color: #8a5a00;")
        self.warning.hide()
        self.error = ErrorLabel()
        self.template_picker = TemplatePicker(services, actor, runner, matter_id, self)
        self.template_combo = self.template_picker.combo
        self.template_error = self.template_picker.error
        self.template_picker.filled.connect(self.edit.setPlainText)  # the counter follows
        self.template_picker.applied.connect(self.template_applied)
        self.send_button = QPushButton("&Send")
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.send_button.clicked.connect(self.send)
        self.send_button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.to_label, 1)
        template_label = QLabel("Te&mplate")
        template_label.setTextFormat(Qt.TextFormat.PlainText)  # every label of the log is plain
        template_label.setBuddy(self.template_combo)
        top.addWidget(template_label)
        top.addWidget(self.template_combo)
        top.addWidget(self.status_label)
        top.addWidget(self.done_button)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addLayout(row)
        layout.addWidget(self.template_error)
        layout.addWidget(self.counter_label)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)

        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_SAVE_MS)
        self._draft_timer.timeout.connect(self.save_draft)
        self.edit.textChanged.connect(self._text_changed)
        self._show_state()
        self.reload()

    # --- loading -----------------------------------------------------------------------
    def reload(self) -> None:
        """Read the matter, its needs-response state and the user's draft (on the runner)."""
        services, actor, matter_id = self._services, self._actor, self.matter_id

        def read() -> ReplyContext:
            return ReplyContext(services.matters.detail(matter_id),
                                bool(services.settings.get("sms_consent_required")),
                                services.conversations.draft(actor, matter_id),
                                matter_id in services.conversations.needs_response([matter_id]),
                                str(services.settings.get("default_region")))

        self._runner.run(read, on_success=self._loaded,
                         on_failure=lambda exc: self._show_error(exc, "The case could not be read"))

    def _loaded(self, ctx: ReplyContext) -> None:
        if not widget_alive(self):
            return
        first = self.detail is None
        self.detail = ctx.detail
        self.consent_required = ctx.consent_required
        self.needs_response = ctx.needs_response
        self._region = ctx.region
        if self._recipient is None:
            self._recipient = (ctx.draft.to_raw if ctx.draft and ctx.draft.to_raw
                               else ctx.detail.mobile_raw or ctx.detail.home_raw)
        if first and ctx.draft is not None and not self.body():
            self._restoring = True
            self.edit.setPlainText(ctx.draft.body)
            self._restoring = False
        self._recipient_changed()
        self.loaded.emit()

    # --- public ------------------------------------------------------------------------
    def body(self) -> str:
        """The reply as typed."""
        return self.edit.toPlainText()

    def recipient(self) -> str | None:
        """The number the reply goes to."""
        return self._recipient

    def set_recipient(self, number: str) -> None:
        """Answer this number (a reply from the client's home phone, say)."""
        self._recipient = number
        self._recipient_changed()

    def send_blockers(self) -> list[str]:
        """Why Send is disabled (empty when it is enabled); the compose dialog's rules."""
        blockers: list[str] = []
        body = self.body()
        if self.detail is None:
            blockers.append("Loading…")
        if not body.strip():
            blockers.append("The message is empty.")
        elif len(body) > MAX_BODY_CHARS:
            blockers.append(f"The message is {len(body):,} characters long; the limit is "
                            f"{MAX_BODY_CHARS:,} characters.")
        if self._recipient_e164 is None:
            blockers.append("The case has no number to text; add the client's mobile first.")
        elif self._opted_out.get(self._recipient_e164):
            blockers.append(f"{self._recipient} replied STOP and has opted out of texts; it "
                            "cannot be texted until the client texts START.")
        if self.consent_required and self.detail is not None and self.detail.consent != "yes":
            blockers.append(CONSENT_BLOCKER)
        if self._sending:
            blockers.append("Sending…")
        return blockers

    def send(self) -> None:
        """Queue the reply through the runner (Send, Ctrl+Enter)."""
        blockers = self.send_blockers()
        if blockers:
            self.error.show_error(blockers[0] if self.body().strip() else None)
            return
        self.error.show_error(None)
        self._sending = True
        self._draft_timer.stop()
        self._update_button()
        services, actor, matter_id = self._services, self._actor, self.matter_id
        to, body = self._recipient or "", self.body()

        def send() -> int:
            message_id = services.outbound.send(actor, matter_id, to, body)
            services.conversations.clear_draft(actor, matter_id)
            return message_id

        self._runner.run(send, on_success=self._on_sent, on_failure=self._on_failed)

    def save_draft(self) -> None:
        """Keep what is typed as the user's draft (on the runner)."""
        self._draft_timer.stop()
        if not self._draft_dirty or self._sending:
            return
        self._draft_dirty = False
        self._runner.run(self._services.conversations.save_draft, self._actor, self.matter_id,
                         self.body(), self._recipient,
                         on_failure=lambda exc: self._show_error(exc, "The draft was not kept"))

    def mark_done(self) -> None:
        """The conversation needs no response for now (for everybody)."""
        self.done_button.setEnabled(False)

        def done(_result: object) -> None:
            if widget_alive(self):
                self.needs_response = False
                self._show_state()
                self.state_changed.emit()

        self._runner.run(self._services.conversations.mark_done, self._actor, self.matter_id,
                         on_success=done,
                         on_failure=lambda exc: self._show_error(exc, "Could not mark it done"))

    def set_needs_response(self, needs: bool) -> None:
        """Show the conversation's needs-response state."""
        self.needs_response = needs
        self._show_state()

    def hideEvent(self, event: QHideEvent) -> None:
        """Closing the case window (or leaving the tab) keeps what was typed at once."""
        if self._draft_dirty:
            self.save_draft()
        super().hideEvent(event)

    # --- keyboard ----------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.send()
            return True
        return super().eventFilter(watched, event)

    # --- reactions ---------------------------------------------------------------------
    def _text_changed(self) -> None:
        self.counter_label.setText(counter_text(self.body()))
        if not self._restoring:
            self._draft_dirty = True
            self._draft_timer.start()
        self._update_button()

    def _recipient_changed(self) -> None:
        self._recipient_e164 = None
        if self._recipient and self._region is not None:
            try:  # the same rule OutboundService.normalize_recipient applies, without a read
                self._recipient_e164 = normalize(self._recipient, self._region)
            except InvalidPhoneNumber:
                self._recipient_e164 = None
        e164 = self._recipient_e164
        if e164 is not None and e164 not in self._opted_out:
            self._runner.run(self._services.outbound.opted_out, e164,
                             on_success=lambda out, n=e164: self._opt_out_known(n, bool(out)))
        self.to_label.setText(f"To {self._recipient}" if self._recipient else "No number to text")
        self._show_quiet_hours()
        self._show_state()
        self._update_button()

    def _opt_out_known(self, e164: str, out: bool) -> None:
        if widget_alive(self):
            self._opted_out[e164] = out
            self._update_button()

    def _show_quiet_hours(self) -> None:
        self.warning.hide()
        zone_name = local_time_zone(self._recipient_e164) if self._recipient_e164 else None
        if not zone_name:
            return
        try:
            local = self._clock().astimezone(ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            return
        if is_quiet_hours(local):
            self.warning.setText(f"It is {clock_time(local)} for the recipient ({zone_name}), "
                                 "outside 8:00–21:00; consider Actions → Send SMS… to schedule "
                                 "it for the daytime.")
            self.warning.show()

    def _show_state(self) -> None:
        self.status_label.setText("Needs a response" if self.needs_response else "")
        self.status_label.setVisible(self.needs_response)
        self.done_button.setVisible(self.needs_response)
        self.done_button.setEnabled(True)

    def _update_button(self) -> None:
        blockers = self.send_blockers()
        self.send_button.setEnabled(not blockers)
        self.send_button.setToolTip("Send (Ctrl+Enter)" if not blockers else blockers[0])
        if not self.body():
            self.counter_label.setText(counter_text(""))

    def _on_sent(self, message_id: int) -> None:
        if not widget_alive(self):
            return
        self._sending = False
        self._restoring = True
        self.edit.clear()
        self._restoring = False
        self._draft_dirty = False
        self.needs_response = False
        self._show_state()
        self._update_button()
        self.sent.emit(message_id)

    def _on_failed(self, exc: BaseException) -> None:
        if not widget_alive(self):
            return
        self._sending = False
        self._show_error(exc, "The text could not be queued")
        if "opted out" in str(exc) and self._recipient_e164 is not None:
            self._opted_out[self._recipient_e164] = True
        self._update_button()

    def _show_error(self, exc: BaseException, prefix: str) -> None:
        if widget_alive(self):
            self.error.show_error(str(exc) if isinstance(exc, ServiceError)
                                  else f"{prefix}: {exc}")
