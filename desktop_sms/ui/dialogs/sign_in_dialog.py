"""Sign-in at start-up; remembers the last username on this desktop."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import ServiceError
from desktop_sms.services.local_config import LocalConfig
from desktop_sms.services.users import UserInfo, UserService
from desktop_sms.ui.widgets.error_label import ErrorLabel


class SignInDialog(QDialog):
    """Username and password; accepted with `user` set once the service says they are right."""

    def __init__(self, users: UserService, config: LocalConfig | None = None,
                 config_file: Path | None = None, username: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._users = users
        self._config = config if config is not None else LocalConfig()
        self._config_file = config_file
        self.user: UserInfo | None = None
        self.setWindowTitle("Sign in — Desktop SMS")
        self.setMinimumWidth(360)

        heading = QLabel("Sign in to Desktop SMS")
        heading.setObjectName("pageHeading")
        self.username = QLineEdit(username or self._config.last_username or "")
        self.username.setAccessibleName("Username")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        form = QFormLayout()
        form.addRow("&Username", self.username)
        form.addRow("&Password", self.password)
        self.error = ErrorLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setText("&Sign in")
        self.buttons.accepted.connect(self.sign_in)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        (self.password if self.username.text() else self.username).setFocus()

    def sign_in(self) -> None:
        """Check the password; on success remember the username and accept."""
        try:
            user = self._users.authenticate(self.username.text(), self.password.text())
        except ServiceError as exc:
            self.error.show_error(str(exc))
            self.password.clear()
            self.password.setFocus()
            return
        self.user = user
        self.error.show_error(None)
        self._config.last_username = user.username
        try:
            self._config.save(self._config_file)
        except OSError:
            pass  # remembering the name is a convenience; signing in must not fail over it
        self.accept()
