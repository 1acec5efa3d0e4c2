"""The Notes tab of a matter: its case notes as read-only plain text (never rich text)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from desktop_sms.services.notes import NoteRow


def local_time(value: datetime) -> str:
    """A stored (UTC) time in the desktop's local time, to the minute."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


class NotesPane(QWidget):
    """Lists case notes newest first; client text is shown verbatim, never interpreted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Case notes")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)

    def set_notes(self, notes: list[NoteRow]) -> None:
        """Show these notes (an empty list says so)."""
        if not notes:
            self.text.setPlainText("No notes on this case yet.")
            return
        blocks = []
        for note in notes:
            head = f"{local_time(note.created_at)} — {note.subject}"
            if note.author:
                head += f" ({note.author})"
            if note.withdrawn:
                head += " [withdrawn]"
            blocks.append(head + ("\n" + note.body if note.body else ""))
        self.text.setPlainText("\n\n".join(blocks))

    def plain_text(self) -> str:
        """What the pane shows."""
        return self.text.toPlainText()
