"""SMS → Simulated phone… (sandbox only): be the client, see the office's texts, reply.

Shows the sandbox server's conversation between one phone number and the office number, and
injects a reply (text and an optional image) as an inbound message, so the whole loop can be
tried without a Twilio account. Everything the client writes is shown as plain text.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import ServiceError, ValidationError
from desktop_sms.services.container import Services
from desktop_sms.services.provider_factory import ProviderFactory
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

MAX_MEDIA_BYTES = 5 * 1024 * 1024  # Twilio's limit for one MMS
REFRESH_INTERVAL_MS = 5_000
MATTERS_LISTED = 500
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.gif *.bmp *.webp);;All files (*)"


def inject_reply(providers: ProviderFactory, from_: str, to: str, body: str,
                 attachment: Path | None) -> str:
    """Inject the client's reply into the sandbox (runs on a pool thread); returns its SID."""
    media: list[tuple[str, bytes]] = []
    if attachment is not None:
        try:
            data = attachment.read_bytes()
        except OSError as exc:
            raise ValidationError(f"The file {attachment.name} could not be read "
                                  f"({exc.strerror or exc}).") from None
        if len(data) > MAX_MEDIA_BYTES:
            raise ValidationError(f"{attachment.name} is {len(data) / 1_048_576:.1f} MB; "
                                  "a picture message can carry at most 5 MB.")
        content_type = mimetypes.guess_type(attachment.name)[0] or "application/octet-stream"
        media.append((content_type, data))
    sandbox = providers.sandbox or providers.start_sandbox()
    return sandbox.inject_inbound(from_, to, body, media=media)


def _when(message: dict[str, Any]) -> datetime | None:
    raw = message.get("date_sent") or message.get("date_created")
    try:
        return parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        return None


class SimulatedPhoneWindow(QWidget):
    """A pretend phone talking to the office number through the in-process sandbox."""

    reply_sent = Signal(str)  # SID of the injected inbound message
    conversation_refreshed = Signal()

    def __init__(self, services: Services, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("simulatedPhone")
        self.setWindowTitle("Simulated phone — Desktop SMS")
        self.resize(440, 620)
        self._services = services
        self._runner = runner
        self._sending = False
        self.attachment: Path | None = None
        self.file_dialog: QFileDialog | None = None

        self.number_combo = QComboBox()
        self.number_combo.setEditable(True)
        self.number_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.number_combo.setAccessibleName("This phone's number")
        self.number_combo.setToolTip("Pick a client's mobile or type any number")
        self.office_combo = QComboBox()
        self.office_combo.setEditable(True)
        self.office_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.office_combo.setAccessibleName("Office number")
        for number in services.settings.get("office_numbers"):
            self.office_combo.addItem(str(number))

        self.conversation = QListWidget()
        self.conversation.setObjectName("conversation")
        self.conversation.setWordWrap(True)
        self.conversation.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.conversation.setAccessibleName("Conversation")

        self.reply_edit = QPlainTextEdit()
        self.reply_edit.setPlaceholderText("Type the client's reply")
        self.reply_edit.setAccessibleName("Reply")
        self.reply_edit.setMaximumHeight(90)
        self.attach_button = QPushButton("Attach &image…")
        self.attachment_label = QLabel()
        self.attachment_label.setTextFormat(Qt.TextFormat.PlainText)
        self.remove_attachment_button = QPushButton("Remove")
        self.send_button = QPushButton("&Send reply")
        self.status_label = QLabel()
        self.status_label.setObjectName("phoneStatus")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.error = ErrorLabel()

        form = QFormLayout()
        form.addRow("This &phone", self.number_combo)
        form.addRow("&Office number", self.office_combo)
        attach_row = QHBoxLayout()
        attach_row.addWidget(self.attach_button)
        attach_row.addWidget(self.attachment_label, 1)
        attach_row.addWidget(self.remove_attachment_button)
        send_row = QHBoxLayout()
        send_row.addStretch(1)
        send_row.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.conversation, 1)
        layout.addWidget(self.reply_edit)
        layout.addLayout(attach_row)
        layout.addLayout(send_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error)

        self._fill_numbers()
        self.number_combo.editTextChanged.connect(lambda _t: self.refresh())
        self.number_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.office_combo.editTextChanged.connect(lambda _t: self.refresh())
        self.reply_edit.textChanged.connect(self._update_send_button)
        self.attach_button.clicked.connect(self.choose_attachment)
        self.remove_attachment_button.clicked.connect(lambda: self.set_attachment(None))
        self.send_button.clicked.connect(self.send_reply)

        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(REFRESH_INTERVAL_MS)
        self.refresh_timer.timeout.connect(self._periodic_refresh)
        self.refresh_timer.start()

        self.set_attachment(None)
        if services.providers.sandbox is None:
            self.status_label.setText("Starting the sandbox…")
            runner.run(services.providers.start_sandbox,
                       on_success=lambda _server: self._sandbox_started(),
                       on_failure=self._on_failure)
        else:
            self.refresh()

    # --- numbers -------------------------------------------------------------------------
    def _fill_numbers(self) -> None:
        """Offer the clients' mobiles; the edit text is the number, the label says whose."""
        for row in self._services.matters.page("", limit=MATTERS_LISTED):
            if row.mobile:
                self.number_combo.addItem(row.mobile)
                index = self.number_combo.count() - 1
                self.number_combo.setItemData(index, f"{row.client_name} ({row.case_number})",
                                              Qt.ItemDataRole.ToolTipRole)
        self.number_combo.setCurrentIndex(0 if self.number_combo.count() else -1)

    def set_number(self, text: str) -> None:
        """Be this phone number (as if typed)."""
        self.number_combo.setCurrentText(text)

    def phone_number(self) -> str | None:
        """E.164 of this phone, or None when the text is not a number."""
        return self._normalize(self.number_combo.currentText())

    def office_number(self) -> str | None:
        """E.164 of the office number replies go to, or None."""
        return self._normalize(self.office_combo.currentText())

    def _normalize(self, text: str) -> str | None:
        if not text.strip():
            return None
        try:
            return self._services.outbound.normalize_recipient(text)
        except ServiceError:
            return None

    # --- conversation --------------------------------------------------------------------
    def _sandbox_started(self) -> None:
        self.status_label.setText("")
        self.refresh()

    def _periodic_refresh(self) -> None:
        if self.isVisible():
            self.refresh()

    def conversation_messages(self) -> list[dict[str, Any]]:
        """The sandbox's messages between this phone and the office number, oldest first."""
        sandbox = self._services.providers.sandbox
        phone = self.phone_number()
        if sandbox is None or phone is None:
            return []
        office = self.office_number()
        found: list[dict[str, Any]] = []
        for m in sandbox.messages():
            if m["direction"] == "inbound":
                if m["from"] == phone and (office is None or m["to"] == office):
                    found.append(m)
            elif m["to"] == phone and (office is None or not m["from"] or m["from"] == office):
                found.append(m)
        return list(reversed(found))  # messages() is newest first

    def refresh(self) -> None:
        """Show the conversation again (the sandbox keeps it in memory)."""
        self.conversation.clear()
        if self._services.providers.sandbox is None:
            self.conversation.addItem("The sandbox has not started yet.")
        elif self.phone_number() is None:
            self.conversation.addItem("Pick a client's mobile or type a phone number.")
        else:
            messages = self.conversation_messages()
            if not messages:
                self.conversation.addItem("No texts with the office yet.")
            for m in messages:
                self.conversation.addItem(self._item(m))
            self.conversation.scrollToBottom()
        self._update_send_button()
        self.conversation_refreshed.emit()

    @staticmethod
    def _item(message: dict[str, Any]) -> QListWidgetItem:
        mine = message["direction"] == "inbound"  # sent by this phone
        when = _when(message)
        stamp = when.astimezone().strftime("%Y-%m-%d %H:%M") if when else ""
        who = "Me" if mine else "Office"
        head = f"{who} · {stamp}" + ("" if mine else f" · {message.get('status', '')}")
        text = f"{head}\n{message.get('body') or ''}"
        media = int(message.get("num_media") or 0)
        if media:
            text += "\n[1 attachment]" if media == 1 else f"\n[{media} attachments]"
        # QListWidgetItem text is always plain: client text is never interpreted.
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, message.get("sid"))
        if mine:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def conversation_texts(self) -> list[str]:
        """The conversation as shown, one string per message."""
        return [self.conversation.item(i).text() for i in range(self.conversation.count())]

    # --- reply ---------------------------------------------------------------------------
    def choose_attachment(self) -> QFileDialog:
        """Pick an image to send with the reply (non-blocking file dialog)."""
        dialog = QFileDialog(self, "Attach an image", str(Path.home()), IMAGE_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda path: self.set_attachment(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def set_attachment(self, path: Path | None) -> None:
        """Send this file with the reply (None: no attachment)."""
        self.attachment = path
        self.attachment_label.setText(path.name if path else "No attachment")
        self.remove_attachment_button.setVisible(path is not None)
        self._update_send_button()

    def send_reply(self) -> None:
        """Inject the typed reply (and attachment) as a text from this phone to the office."""
        phone, office = self.phone_number(), self.office_number()
        if phone is None:
            self.error.show_error("Pick or type a valid phone number for this phone.")
            return
        if office is None:
            self.error.show_error("Type the office number the reply goes to.")
            return
        body = self.reply_edit.toPlainText()
        if not body.strip() and self.attachment is None:
            self.error.show_error("Type a reply or attach an image.")
            return
        self.error.show_error(None)
        self._sending = True
        self._update_send_button()
        self._runner.run(inject_reply, self._services.providers, phone, office, body,
                         self.attachment, on_success=self._on_sent, on_failure=self._on_failure)

    def _on_sent(self, sid: str) -> None:
        self._sending = False
        self.reply_edit.clear()
        self.set_attachment(None)
        self.status_label.setText("Reply sent to the office.")
        self.refresh()
        self.reply_sent.emit(sid)

    def _on_failure(self, exc: BaseException) -> None:
        self._sending = False
        self.status_label.setText("")
        self.error.show_error(str(exc) if isinstance(exc, ServiceError)
                              else f"The sandbox did not take the reply: {exc}")
        self._update_send_button()

    def _update_send_button(self) -> None:
        has_content = bool(self.reply_edit.toPlainText().strip()) or self.attachment is not None
        self.send_button.setEnabled(has_content and not self._sending
                                    and self.phone_number() is not None)
