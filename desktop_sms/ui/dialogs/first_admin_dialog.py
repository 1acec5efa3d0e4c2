"""First start on an empty database: create the office's first administrator."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import ServiceError
from desktop_sms.services.users import UserInfo, UserService
from desktop_sms.ui.widgets.dialog_buttons import action_buttons
from desktop_sms.ui.widgets.error_label import ErrorLabel


class FirstAdminDialog(QDialog):
    """Username, name, mobile and password twice; accepted with `user` set once created."""

    def __init__(self, users: UserService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._users = users
        self.user: UserInfo | None = None
        self.setWindowTitle("Welcome — Desktop SMS")
        self.setMinimumWidth(420)

        intro = QLabel("This database has no users yet. Create the first administrator "
                       "account; administrators add everyone else in Preferences.")
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        self.username = QLineEdit()
        self.name = QLineEdit()
        self.mobile = QLineEdit()
        self.mobile.setPlaceholderText("optional, for reminders")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_again = QLineEdit()
        self.password_again.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("&Username", self.username)
        form.addRow("Full &name", self.name)
        form.addRow("&Mobile phone", self.mobile)
        form.addRow("&Password", self.password)
        form.addRow("Password &again", self.password_again)
        self.error = ErrorLabel()
        self.buttons, self.create_button = action_buttons(self, "&Create administrator",
                                                          self.create_admin)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def create_admin(self) -> None:
        """Create the administrator; refusals are shown under the form."""
        if self.password.text() != self.password_again.text():
            self.error.show_error("The two passwords are not the same.")
            return
        if not self.password.text():
            self.error.show_error("Please choose a password.")
            return
        try:
            user = self._users.add(None, self.username.text(), self.name.text(),
                                   mobile=self.mobile.text() or None, role="admin",
                                   password=self.password.text())
        except ServiceError as exc:
            self.error.show_error(str(exc))
            return
        self.user = user
        self.error.show_error(None)
        self.accept()
