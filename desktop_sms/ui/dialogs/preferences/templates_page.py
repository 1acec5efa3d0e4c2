"""Preferences → Templates: texts with merge fields (admins), the office name, and the pace
(docs/templates.md)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.templates import FIELDS
from desktop_sms.services.common import Actor
from desktop_sms.services.settings import SettingsService
from desktop_sms.services.templates import TemplateRow, TemplateService
from desktop_sms.ui.dialogs.preferences.base import SettingsPage, note_label
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel

FIELDS_NOTE = "Merge fields: " + ", ".join("{" + f + "}" for f in FIELDS) + "."


class TemplatesPage(SettingsPage):
    """The template list with an editor; Save template / Delete act at once (admins)."""

    title = "Templates"
    templates_changed = Signal()  # after a load, a save or a delete

    def __init__(self, settings: SettingsService, templates: TemplateService, actor: Actor,
                 runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        self.templates = templates
        self.actor = actor
        self.runner = runner
        self.rows: list[TemplateRow] = []

        self.list = QListWidget()
        self.list.setAccessibleName("Templates")
        self.list.setMaximumHeight(140)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Template name")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setAccessibleName("Template text")
        self.body_edit.setPlaceholderText("Hi {client_first_name}, …")
        self.body_edit.setMaximumHeight(110)
        self.template_error = ErrorLabel()
        self.new_button = QPushButton("&New")
        self.save_template_button = QPushButton("Save &template")
        self.delete_button = QPushButton("&Delete")
        for widget in (self.name_edit, self.body_edit, self.new_button,
                       self.save_template_button, self.delete_button):
            self.editable_widget(widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.save_template_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        box = QGroupBox("Templates")
        column = QVBoxLayout(box)
        column.addWidget(self.list)
        form = QFormLayout()
        form.addRow("&Name", self.name_edit)
        form.addRow("Te&xt", self.body_edit)
        column.addLayout(form)
        column.addWidget(note_label(FIELDS_NOTE))
        column.addWidget(self.template_error)
        column.addLayout(buttons)
        self.body.addWidget(box)

        self.office_name = QLineEdit()
        self.rate = QLineEdit()
        self.rate.setAccessibleName("Texts per second at most")
        for widget in (self.office_name, self.rate):
            self.editable_widget(widget)
        office = QGroupBox("Texts to many clients")
        office_form = QFormLayout(office)
        office_form.addRow("Office name", self.office_name)
        office_form.addRow("Texts per second", self.rate)
        office_form.addRow("", note_label("1 for a single long code; more for a Messaging "
                                          "Service with a pool of numbers."))
        office_form.addRow("", note_label("Batches skip recipients inside their quiet hours; "
                                          "a client reminder that would fall in them goes "
                                          "just before (quiet hours: the Compose page)."))
        self.body.addWidget(office)
        self.bind("office_name", self.office_name.text, self.office_name.setText)
        self.bind("max_messages_per_second", self.rate.text, self.rate.setText)

        self.list.currentRowChanged.connect(self._show_row)
        self.new_button.clicked.connect(self._new)
        self.save_template_button.clicked.connect(self.save_template)
        self.delete_button.clicked.connect(self.delete_template)

    def load(self) -> None:
        super().load()
        self.reload()

    def reload(self) -> None:
        """Read the templates in the background."""
        self.runner.run(self.templates.list, on_success=self._templates_arrived,
                        on_failure=self._failed)

    def _templates_arrived(self, rows: Any) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        self.rows = list(rows)
        selected = self.name_edit.text().strip()
        self.list.blockSignals(True)
        self.list.clear()
        for row in self.rows:
            self.list.addItem(QListWidgetItem(row.name))
        self.list.blockSignals(False)
        for index, row in enumerate(self.rows):
            if row.name == selected:
                self.list.setCurrentRow(index)
        self.templates_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        self.template_error.show_error(str(exc))

    def _show_row(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            self.name_edit.setText(self.rows[index].name)
            self.body_edit.setPlainText(self.rows[index].body)
            self.template_error.show_error(None)

    def _new(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.name_edit.clear()
        self.body_edit.clear()

    def _current_id(self) -> int | None:
        index = self.list.currentRow()
        return self.rows[index].id if 0 <= index < len(self.rows) else None

    def save_template(self) -> None:
        """Save the edited template (refusals shown under it, nothing stored)."""
        self.template_error.show_error(None)
        self.runner.run(self.templates.save, self.actor, self.name_edit.text(),
                        self.body_edit.toPlainText(), self._current_id(),
                        on_success=self._saved_one, on_failure=self._failed)

    def _saved_one(self, _template_id: object) -> None:
        if widget_alive(self):
            self.reload()

    def delete_template(self) -> None:
        template_id = self._current_id()
        if template_id is None:
            return
        self.runner.run(self.templates.delete, self.actor, template_id,
                        on_success=self._deleted, on_failure=self._failed)

    def _deleted(self, _result: object) -> None:
        if not widget_alive(self):  # closed before the answer came
            return
        self._new()
        self.reload()
