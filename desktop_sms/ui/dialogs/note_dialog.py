"""Add note… on a case window: a subject and a plain-text body, saved on the task runner.

The note is added by desktop_sms/services/notes.py add_note (audited as note.add); a refusal
is shown under the form as one sentence and nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QFormLayout, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from desktop_sms.db.database import Database
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.notes import NOTE_SUBJECT_MAX, add_note
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.dialog_buttons import action_buttons
from desktop_sms.ui.widgets.documents_pane import widget_alive
from desktop_sms.ui.widgets.error_label import ErrorLabel


class NoteDialog(QDialog):
    """Write a note on one case; emits saved(note id) once stored, then closes."""

    saved = Signal(int)

    def __init__(self, db: Database, actor: Actor, runner: TaskRunner, matter_id: int,
                 case_number: str, clock: Callable[[], datetime],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noteDialog")
        self.setWindowTitle(f"Add note — {case_number}")
        self._db = db
        self._actor = actor
        self._runner = runner
        self._clock = clock
        self.matter_id = matter_id
        self.subject = QLineEdit()
        self.subject.setMaxLength(NOTE_SUBJECT_MAX)
        self.subject.setAccessibleName("Subject")
        self.body = QPlainTextEdit()
        self.body.setAccessibleName("Note")
        self.body.setTabChangesFocus(True)
        self.error = ErrorLabel()
        self.buttons, self.save_button = action_buttons(self, "&Save note", self.save)
        form = QFormLayout()
        form.addRow("&Subject", self.subject)
        form.addRow("&Note", self.body)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(480, 320)

    def save(self) -> None:
        """Store the note on the runner; the dialog stays open with a sentence on refusal."""
        self.save_button.setEnabled(False)
        self.error.show_error(None)
        self._runner.run(add_note, self._db, self._actor, self.matter_id, self.subject.text(),
                         self.body.toPlainText(), self._clock(),
                         on_success=self._saved, on_failure=self._failed)

    def _saved(self, note_id: int) -> None:
        if not widget_alive(self):
            return
        self.saved.emit(note_id)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        if not widget_alive(self):
            return
        self.save_button.setEnabled(True)
        self.error.show_error(str(exc) if isinstance(exc, ServiceError)
                              else f"The note could not be saved: {exc}")
