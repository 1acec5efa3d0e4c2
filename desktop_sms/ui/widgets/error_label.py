"""An inline error line for forms: plain text, hidden while there is nothing to say."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class ErrorLabel(QLabel):
    """Shows a service's refusal sentence under a form, as plain text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorLabel")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setStyleSheet("color: #b00020;")
        self.setVisible(False)

    def show_error(self, text: str | None) -> None:
        """Show the message, or hide the line for None."""
        self.setText(text or "")
        self.setVisible(bool(text))
