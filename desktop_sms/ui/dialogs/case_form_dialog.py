"""New case… / Edit case…: a simple form; the service's validation sentence is shown inline."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.matters import STAGES, MatterInput, MatterService
from desktop_sms.ui.widgets.error_label import ErrorLabel
from desktop_sms.ui.widgets.optional_date_edit import OptionalDateEdit


class CaseFormDialog(QDialog):
    """Creates a matter, or edits one when given its id; emits saved(matter id)."""

    saved = Signal(int)

    def __init__(self, matters: MatterService, actor: Actor, matter_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._matters = matters
        self._actor = actor
        self._matter_id = matter_id
        self.saved_matter_id: int | None = None
        self.setWindowTitle("Edit case" if matter_id else "New case")
        self.setMinimumWidth(420)

        self.case_number = QLineEdit()
        self.case_number.setPlaceholderText("e.g. 24-000123")
        self.client_name = QLineEdit()
        self.stage = QComboBox()
        self.stage.addItems(list(STAGES))
        self.stage.setCurrentText("intake")
        self.mobile = QLineEdit()
        self.mobile.setPlaceholderText("(212) 555-0123")
        self.home = QLineEdit()
        self.intake_date = OptionalDateEdit()
        self.intake_date.set_value(matters.clock().date())
        self.date_opened = OptionalDateEdit()

        form = QFormLayout()
        form.addRow("Case &number", self.case_number)
        form.addRow("&Client", self.client_name)
        form.addRow("&Stage", self.stage)
        form.addRow("&Mobile phone", self.mobile)
        form.addRow("&Home phone", self.home)
        form.addRow("&Intake date", self.intake_date)
        form.addRow("Date &opened", self.date_opened)

        self.error = ErrorLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        if matter_id is not None:
            self._load(matter_id)

    def _load(self, matter_id: int) -> None:
        d = self._matters.detail(matter_id)
        self.case_number.setText(d.case_number)
        self.client_name.setText(d.client_name)
        self.stage.setCurrentText(d.stage)
        self.mobile.setText(d.mobile_raw or "")
        self.home.setText(d.home_raw or "")
        self.intake_date.set_value(d.intake_date)
        self.date_opened.set_value(d.date_opened)

    def form_input(self) -> MatterInput:
        """What the form holds, as the service takes it."""
        return MatterInput(
            case_number=self.case_number.text(), client_name=self.client_name.text(),
            stage=self.stage.currentText(), mobile=self.mobile.text() or None,
            home=self.home.text() or None, intake_date=self.intake_date.value(),
            date_opened=self.date_opened.value())

    def save(self) -> None:
        """Save through the service; on a refusal keep the dialog open and say why."""
        try:
            matter_id = self._matters.save(self._actor, self.form_input(), self._matter_id)
        except ServiceError as exc:
            self.error.show_error(str(exc))
            return
        self.error.show_error(None)
        self.saved_matter_id = matter_id
        self.saved.emit(matter_id)
        self.accept()
