"""Add or edit a user, and reset a password (Preferences → Users; docs/product.md F14)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.states import Role
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.users import UserInfo, UserService
from desktop_sms.ui.widgets.dialog_buttons import action_buttons
from desktop_sms.ui.widgets.error_label import ErrorLabel


def _password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


class UserDialog(QDialog):
    """Name, username, mobile, role, SMS access, active (and a password when adding).

    Accepted with `user` set once the service has stored the change; refusals are shown in
    the dialog, which stays open with the input as typed.
    """

    def __init__(self, users: UserService, actor: Actor, user: UserInfo | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._users = users
        self._actor = actor
        self._editing = user
        self.user: UserInfo | None = None
        self.setWindowTitle(f"Edit {user.name}" if user else "Add a user")
        self.setMinimumWidth(420)

        self.name = QLineEdit(user.name if user else "")
        self.username = QLineEdit(user.username if user else "")
        self.mobile = QLineEdit(user.mobile or "" if user else "")
        self.mobile.setPlaceholderText("for text reminders (optional)")
        self.role = QComboBox()
        for role in Role:
            self.role.addItem(role.label, role.value)
        self.role.setCurrentIndex(self.role.findData(user.role if user else Role.STAFF.value))
        self.sms_access = QCheckBox("SMS access (queue, Received Log, cancelling)")
        self.sms_access.setChecked(user.sms_access if user else True)
        self.active = QCheckBox("Active (may sign in)")
        self.active.setChecked(user.active if user else True)
        self.password = _password_field()
        self.password.setPlaceholderText("empty: a one-time setup code is shown instead")
        self.password_again = _password_field()

        form = QFormLayout()
        form.addRow("Full &name", self.name)
        form.addRow("&Username", self.username)
        form.addRow("&Mobile phone", self.mobile)
        form.addRow("&Role", self.role)
        form.addRow("", self.sms_access)
        if user is not None:
            form.addRow("", self.active)
        else:
            form.addRow("&Password", self.password)
            form.addRow("Password &again", self.password_again)
        self.error = ErrorLabel()
        self.buttons, self.save_button = action_buttons(self, "&Save" if user else "&Add user",
                                                        self.save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def save(self) -> None:
        """Add or update through UserService; stays open with the refusal shown."""
        try:
            if self._editing is None:
                if self.password.text() != self.password_again.text():
                    self.error.show_error("The two passwords are not the same.")
                    return
                # left empty, a one-time setup code claims the account (services/users.py)
                self.user = self._users.add(
                    self._actor, self.username.text(), self.name.text(),
                    mobile=self.mobile.text() or None, role=str(self.role.currentData()),
                    password=self.password.text() or None,
                    sms_access=self.sms_access.isChecked())
            else:
                old = self._editing
                role = str(self.role.currentData())
                self.user = self._users.update(
                    self._actor, old.id,
                    name=self.name.text(),
                    username=self.username.text() if self.username.text() != old.username
                    else None,
                    mobile=self.mobile.text() if self.mobile.text() != (old.mobile or "")
                    else None,
                    role=role if role != old.role else None,
                    sms_access=self.sms_access.isChecked()
                    if self.sms_access.isChecked() != old.sms_access else None,
                    active=self.active.isChecked() if self.active.isChecked() != old.active
                    else None)
        except ServiceError as exc:
            self.error.show_error(str(exc))
            return
        self.error.show_error(None)
        self.accept()


class ResetPasswordDialog(QDialog):
    """A new password, typed twice, for one user."""

    def __init__(self, users: UserService, actor: Actor, user: UserInfo,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._users = users
        self._actor = actor
        self._user = user
        self.setWindowTitle(f"Reset password — {user.name}")
        intro = QLabel(f"Choose a new password for {user.name} ({user.username}) and give it "
                       "to them in person.")
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        self.password = _password_field()
        self.password.setPlaceholderText("empty: chosen at first sign-in")
        self.password_again = _password_field()
        form = QFormLayout()
        form.addRow("New &password", self.password)
        form.addRow("Password &again", self.password_again)
        self.error = ErrorLabel()
        self.buttons, self.save_button = action_buttons(self, "&Set password",
                                                        self.save)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def save(self) -> None:
        """Set the password through UserService (Argon2 hash there)."""
        if self.password.text() != self.password_again.text():
            self.error.show_error("The two passwords are not the same.")
            return
        try:
            self._users.set_password(self._actor, self._user.id, self.password.text())
        except ServiceError as exc:
            self.error.show_error(str(exc))
            return
        self.error.show_error(None)
        self.accept()


class SetupCodeDialog(QDialog):
    """Shows a user's one-time setup code once, for the administrator to pass on.

    The code is stored only hashed, so closing this dialog is the last time anyone sees it;
    Preferences → Users → New setup code… issues another (the old one stops working).
    """

    def __init__(self, user: UserInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        assert user.setup_code is not None and user.setup_code_expires_at is not None
        self.setWindowTitle(f"Setup code — {user.name}")
        until = user.setup_code_expires_at.astimezone().strftime("%Y-%m-%d %H:%M")
        self.intro = QLabel(
            f"Give this one-time setup code to {user.name} ({user.username}) in person. At "
            f"their first sign-in they type it instead of a password and choose their own "
            f"password. It works once, until {until}. It is not shown again.")
        self.intro.setTextFormat(Qt.TextFormat.PlainText)
        self.intro.setWordWrap(True)
        self.code = QLineEdit(user.setup_code)
        self.code.setObjectName("setupCode")
        self.code.setReadOnly(True)
        self.code.setAccessibleName("Setup code")
        font = self.code.font()
        font.setFamily("monospace")
        font.setPointSize(font.pointSize() + 4)
        self.code.setFont(font)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.code)
        layout.addWidget(self.buttons)
        self.code.selectAll()
