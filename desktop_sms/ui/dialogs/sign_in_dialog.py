"""Sign-in at start-up; remembers the last username on this desktop."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.db.errors import describe_error
from desktop_sms.services.common import ServiceError
from desktop_sms.services.local_config import LocalConfig
from desktop_sms.services.users import PasswordNotSet, UserInfo, UserService
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.widgets.dialog_buttons import action_buttons
from desktop_sms.ui.widgets.error_label import ErrorLabel

FIRST_SIGN_IN_TEXT = ("First sign-in: type the setup code your administrator gave you, then "
                      "choose a password.")
SETUP_CODE_BUTTON = "First sign-in? Use a setup &code"
PASSWORD_BUTTON = "I have a &password"


def _sentence(exc: BaseException) -> str:
    """A refusal's own sentence, or one for a database error (never its SQL)."""
    return str(exc) if isinstance(exc, ServiceError) else describe_error(exc)


class SignInDialog(QDialog):
    """Username and password; accepted with `user` set once the service says they are right.

    A user added without a password claims the account with the one-time setup code an
    administrator was shown (services/users.py): "First sign-in? Use a setup code" swaps the
    password field for "Setup code", "Choose a password" and "Repeat it". A setup code typed
    into the password field leads to the same fields, the code filled in.
    """

    def __init__(self, users: UserService, config: LocalConfig | None = None,
                 config_file: Path | None = None, username: str | None = None,
                 parent: QWidget | None = None, runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self._users = users
        # the password check (database + Argon2) runs off the GUI thread
        self.runner = runner if runner is not None else TaskRunner(self)
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
        self.new_password = QLineEdit()
        self.new_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_password.setAccessibleName("Choose a password")
        self.new_password_again = QLineEdit()
        self.new_password_again.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_password_again.setAccessibleName("Repeat it")
        self.setup_code = QLineEdit()
        self.setup_code.setAccessibleName("Setup code")
        self.setup_code.setPlaceholderText("XXXXX-XXXXX")
        self.first_sign_in_button = QPushButton(SETUP_CODE_BUTTON)
        self.first_sign_in_button.setObjectName("firstSignInButton")
        self.first_sign_in_button.setFlat(True)
        self.first_sign_in_button.setAutoDefault(False)
        self.first_sign_in_button.clicked.connect(
            lambda: self._show_first_password(not self.choosing_password))
        self.first_sign_in_note = QLabel(FIRST_SIGN_IN_TEXT)
        self.first_sign_in_note.setObjectName("firstSignInNote")
        self.first_sign_in_note.setTextFormat(Qt.TextFormat.PlainText)
        self.first_sign_in_note.setWordWrap(True)
        self._form = QFormLayout()
        self._form.addRow("&Username", self.username)
        self._form.addRow("&Password", self.password)
        self._form.addRow("Setup c&ode", self.setup_code)
        self._form.addRow("&Choose a password", self.new_password)
        self._form.addRow("&Repeat it", self.new_password_again)
        self.choosing_password = False
        self.error = ErrorLabel()
        self.buttons, self.sign_in_button = action_buttons(self, "&Sign in",
                                                           self.sign_in)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.first_sign_in_note)
        layout.addLayout(self._form)
        layout.addWidget(self.first_sign_in_button)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._show_first_password(False)
        (self.password if self.username.text() else self.username).setFocus()

    def _show_first_password(self, choosing: bool, code: str = "") -> None:
        """Swap between the password field and the setup code with a first password."""
        self.choosing_password = choosing
        self.first_sign_in_note.setVisible(choosing)
        self.first_sign_in_button.setText(PASSWORD_BUTTON if choosing else SETUP_CODE_BUTTON)
        self._form.setRowVisible(self.password, not choosing)
        self._form.setRowVisible(self.setup_code, choosing)
        self._form.setRowVisible(self.new_password, choosing)
        self._form.setRowVisible(self.new_password_again, choosing)
        self.new_password.clear()
        self.new_password_again.clear()
        self.setup_code.setText(code)
        self.password.clear()
        self.error.show_error(None)
        if choosing:
            (self.new_password if code else self.setup_code).setFocus()
        elif self.isVisible():
            self.password.setFocus()

    def sign_in(self) -> None:
        """Check the password (or set the first one) on the runner; on success remember the
        username and accept."""
        if self.runner.is_busy():
            return
        if self.choosing_password:
            self._set_first_password()
            return
        self.sign_in_button.setEnabled(False)
        typed = self.password.text()
        self.runner.run(self._users.authenticate, self.username.text(), typed,
                        on_success=self._signed_in,
                        on_failure=lambda exc: self._refused(exc, typed))

    def _refused(self, exc: BaseException, typed: str) -> None:
        self.sign_in_button.setEnabled(True)
        if isinstance(exc, PasswordNotSet):  # the setup code was typed as the password
            self._show_first_password(True, typed)
            return
        self.error.show_error(_sentence(exc))
        self.password.clear()
        self.password.setFocus()

    def _set_first_password(self) -> None:
        if not self.setup_code.text().strip():
            self.error.show_error("Please type the setup code your administrator gave you.")
            self.setup_code.setFocus()
            return
        if not self.new_password.text():
            self.error.show_error("Please choose a password.")
            self.new_password.setFocus()
            return
        if self.new_password.text() != self.new_password_again.text():
            self.error.show_error("The two passwords are not the same.")
            self.new_password_again.clear()
            self.new_password_again.setFocus()
            return
        self.sign_in_button.setEnabled(False)
        self.runner.run(self._users.set_first_password, self.username.text(),
                        self.setup_code.text(), self.new_password.text(),
                        on_success=self._signed_in, on_failure=self._first_refused)

    def _first_refused(self, exc: BaseException) -> None:
        self.sign_in_button.setEnabled(True)
        self.error.show_error(_sentence(exc))
        self.new_password.setFocus()

    def _signed_in(self, user: UserInfo) -> None:
        self.sign_in_button.setEnabled(True)
        self.user = user
        self.error.show_error(None)
        self._config.last_username = user.username
        try:
            self._config.save(self._config_file)
        except OSError:
            pass  # remembering the name is a convenience; signing in must not fail over it
        self.accept()
