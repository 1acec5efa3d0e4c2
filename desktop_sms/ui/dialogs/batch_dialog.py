"""Cases → Text selected…: one text (typed or from a template) to many clients
(docs/templates.md).

Preview shows each recipient's filled text and segments, and who is skipped and why; Send
writes one message per recipient through the batch service. Every database call runs on the
background runner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.batches import BatchPreview, BatchResult
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.ui.dialogs.compose_dialog import from_qdatetime, to_qdatetime
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel

TYPED = "(none: type the text)"


def _item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)  # plain text: client data is never rich text
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class BatchDialog(QDialog):
    """Preview and send one text to many cases; emits batch_sent(BatchResult)."""

    preview_ready = Signal(object)  # BatchPreview
    batch_sent = Signal(object)  # BatchResult
    templates_loaded = Signal()

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner,
                 matter_ids: list[int], filter_text: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.actor = actor
        self.runner = runner
        self.matter_ids = list(matter_ids)
        self.filter_text = filter_text
        self.preview: BatchPreview | None = None
        self.setObjectName("batchDialog")
        self.setWindowTitle("Text selected cases")
        self.resize(820, 600)

        self.scope_label = QLabel()
        self.scope_label.setTextFormat(Qt.TextFormat.PlainText)
        self.template_combo = QComboBox()
        self.template_combo.setAccessibleName("Template")
        self.template_combo.addItem(TYPED, None)
        self.body_edit = QPlainTextEdit()
        self.body_edit.setAccessibleName("Message")
        self.body_edit.setPlaceholderText("Type the text; merge fields such as "
                                          "{client_first_name} are filled per client")
        self.body_edit.setMaximumHeight(100)
        self.preview_button = QPushButton("&Preview")
        self.sending_table = _table(["Case", "Client", "To", "Segments", "Text"])
        self.skipped_table = _table(["Case", "Client", "Skipped because"])
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.send_now_radio = QRadioButton("Send &now")
        self.schedule_radio = QRadioButton("Schedule for &later")
        self.send_now_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.send_now_radio)
        group.addButton(self.schedule_radio)
        self.when_edit = QDateTimeEdit()
        self.when_edit.setCalendarPopup(True)
        self.when_edit.setDisplayFormat("yyyy-MM-dd h:mm AP")
        self.when_edit.setDateTime(to_qdatetime(services.clock() + timedelta(hours=1)))
        self.when_edit.setEnabled(False)
        self.schedule_radio.toggled.connect(self.when_edit.setEnabled)
        self.error = ErrorLabel()
        self.send_button = QPushButton("&Send")
        self.send_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Te&mplate", self.template_combo)
        form.addRow("&Message", self.body_edit)
        when = QHBoxLayout()
        when.addWidget(self.send_now_radio)
        when.addWidget(self.schedule_radio)
        when.addWidget(self.when_edit, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scope_label)
        layout.addLayout(form)
        layout.addWidget(self.preview_button)
        layout.addWidget(QLabel("Will be texted"))
        layout.addWidget(self.sending_table, 2)
        layout.addWidget(QLabel("Skipped"))
        layout.addWidget(self.skipped_table, 1)
        layout.addWidget(self.summary)
        layout.addLayout(when)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.template_combo.currentIndexChanged.connect(self._changed)
        self.body_edit.textChanged.connect(self._changed)
        self.preview_button.clicked.connect(self.run_preview)
        self.send_button.clicked.connect(self.send)
        self._changed()
        self.runner.run(services.templates.list, on_success=self._templates_loaded,
                        on_failure=self._failed)
        if not self.matter_ids:
            self.runner.run(services.matters.page, filter_text, None, limit=5000,
                            on_success=self._scope_loaded, on_failure=self._failed)
        else:
            self._show_scope()

    # --- input -------------------------------------------------------------------------
    def _templates_loaded(self, rows: Any) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        for row in rows:
            self.template_combo.addItem(row.name, row.name)
        self.templates_loaded.emit()

    def _scope_loaded(self, rows: Any) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        self.matter_ids = [r.id for r in rows]
        self._show_scope()

    def _show_scope(self) -> None:
        n = len(self.matter_ids)
        where = f" (every case matching '{self.filter_text}')" if self.filter_text else ""
        self.scope_label.setText(f"{n} case{'' if n == 1 else 's'}{where}")

    def template_name(self) -> str | None:
        data = self.template_combo.currentData()
        return str(data) if data is not None else None

    def _changed(self) -> None:
        typed = self.template_name() is None
        self.body_edit.setEnabled(typed)
        self.preview = None
        self.send_button.setEnabled(False)

    def _kwargs(self) -> dict[str, Any]:
        name = self.template_name()
        return ({"template_name": name} if name is not None
                else {"body": self.body_edit.toPlainText()})

    def send_at(self) -> datetime | None:
        return from_qdatetime(self.when_edit.dateTime()) if self.schedule_radio.isChecked() \
            else None

    # --- preview / send ----------------------------------------------------------------
    def run_preview(self) -> None:
        """Fill and check every recipient in the background; the tables show the result."""
        self.error.show_error(None)
        self.runner.run(self.services.batches.preview, self.actor, self.matter_ids,
                        send_at=self.send_at(), **self._kwargs(),
                        on_success=self._show_preview, on_failure=self._failed)

    def _show_preview(self, preview: Any) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        self.preview = preview
        going, skipped = preview.sending, preview.skipped
        self.sending_table.setRowCount(len(going))
        for row, r in enumerate(going):
            for col, text in enumerate([r.case_number, r.client_name, r.to, str(r.segments),
                                        r.text]):
                self.sending_table.setItem(row, col, _item(text))
        self.skipped_table.setRowCount(len(skipped))
        for row, r in enumerate(skipped):
            for col, text in enumerate([r.case_number, r.client_name, r.reason]):
                self.skipped_table.setItem(row, col, _item(text))
        segments = sum(r.segments for r in going)
        self.summary.setText(f"{len(going)} text(s), {segments} segment(s); "
                             f"{len(skipped)} skipped.")
        self.send_button.setEnabled(bool(going))
        self.preview_ready.emit(preview)

    def send(self) -> None:
        """Write the batch (the service checks every recipient again)."""
        if self.preview is None:
            return
        self.send_button.setEnabled(False)
        self.runner.run(self.services.batches.send, self.actor, self.matter_ids,
                        send_at=self.send_at(), **self._kwargs(),
                        on_success=self._sent, on_failure=self._failed)

    def _sent(self, result: Any) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        assert isinstance(result, BatchResult)
        self.batch_sent.emit(result)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        self.error.show_error(str(exc))
        self.send_button.setEnabled(self.preview is not None)
