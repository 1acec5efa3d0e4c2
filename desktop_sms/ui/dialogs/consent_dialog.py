"""Record a client's SMS consent (or its revocation) in two steps: choose, then confirm.

The answer is saved only after "Confirm"; a misclick on Yes or No saves nothing. The consent
instructions shown are the ones whose version the record keeps (services/consent.py).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.consent import METHOD_LABELS
from desktop_sms.services.container import Services
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.error_label import ErrorLabel

PERSON_METHODS = ("verbal", "written")


def _plain(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class ConsentDialog(QDialog):
    """Choose the answer and method, then confirm; emits recorded(matter id) once saved."""

    recorded = Signal(int)

    def __init__(self, services: Services, actor: Actor, runner: TaskRunner, matter_id: int,
                 case_number: str, instructions: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consentDialog")
        self.setWindowTitle(f"SMS consent — {case_number}")
        self._services = services
        self._actor = actor
        self._runner = runner
        self.matter_id = matter_id
        self.case_number = case_number
        self.instructions = _plain(instructions)
        self.yes = QRadioButton("&Yes")
        self.no = QRadioButton("&No")
        group = QButtonGroup(self)
        group.addButton(self.yes)
        group.addButton(self.no)
        self.method = QComboBox()
        for key in PERSON_METHODS:
            self.method.addItem(METHOD_LABELS[key], key)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Optional note (where, which form)")
        self.confirm_text = _plain()
        self.confirm_text.setObjectName("consentConfirmText")
        self.confirm_button = QPushButton("&Confirm")
        self.confirm_button.setVisible(False)
        self.error = ErrorLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.record_button = QPushButton("&Record…")
        self.record_button.setEnabled(False)
        self.buttons.addButton(self.record_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)

        radios = QHBoxLayout()
        radios.addWidget(self.yes)
        radios.addWidget(self.no)
        form = QFormLayout()
        form.addRow("Answer", radios)
        form.addRow("Method", self.method)
        form.addRow("Note", self.note)
        layout = QVBoxLayout(self)
        layout.addWidget(self.instructions)
        layout.addLayout(form)
        layout.addWidget(self.confirm_text)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        for widget in (self.yes, self.no):
            widget.toggled.connect(self._changed)
        self.method.currentIndexChanged.connect(self._changed)
        self.record_button.clicked.connect(self.ask_confirmation)
        self.confirm_button.clicked.connect(self.confirm)

    def answer(self) -> str | None:
        """"yes", "no" or None when nothing is chosen."""
        return "yes" if self.yes.isChecked() else "no" if self.no.isChecked() else None

    def ask_confirmation(self) -> None:
        """The confirmation step: say what will be recorded and show Confirm."""
        answer = self.answer()
        if answer is None:
            return
        method = METHOD_LABELS[str(self.method.currentData())]
        self.confirm_text.setText(f"Record that the client of case {self.case_number} said "
                                  f"{answer.upper()} ({method})? This is kept in the case's "
                                  "consent history.")
        self.confirm_button.setVisible(True)
        self.confirm_button.setEnabled(True)

    def confirm(self) -> None:
        """Save the answer through the background runner."""
        answer = self.answer()
        if answer is None or not self.confirm_button.isVisible():
            return
        self.confirm_button.setEnabled(False)
        self._runner.run(self._services.consent.record, self._actor, self.matter_id, answer,
                         str(self.method.currentData()), self.note.text(),
                         on_success=self._saved, on_failure=self._failed)

    def _changed(self) -> None:
        self.record_button.setEnabled(self.answer() is not None)
        self.confirm_button.setVisible(False)  # a changed choice must be confirmed again
        self.confirm_text.setText("")

    def _saved(self, _result: object) -> None:
        self.recorded.emit(self.matter_id)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.confirm_button.setEnabled(True)
        self.error.show_error(str(exc) if isinstance(exc, ServiceError)
                              else f"The answer could not be saved: {exc}")
