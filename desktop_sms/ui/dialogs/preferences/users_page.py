"""Preferences → Users: the office's users; Add…, Edit…, Reset password… (saved at once)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from desktop_sms.db.errors import describe_error
from desktop_sms.domain.states import Role
from desktop_sms.services.common import Actor, ServiceError
from desktop_sms.services.users import UserInfo, UserService
from desktop_sms.ui.dialogs.preferences.base import PreferencesPage, note_label
from desktop_sms.ui.dialogs.user_dialog import ResetPasswordDialog, SetupCodeDialog, UserDialog
from desktop_sms.ui.tasks import TaskRunner

COLUMNS = ("Name", "Username", "Mobile", "Role", "SMS access", "Active")


class UsersPage(PreferencesPage):
    """The user list; each change goes straight to UserService (which checks and audits)."""

    title = "Users"
    users_changed = Signal()

    def __init__(self, users: UserService, actor: Actor, parent: QWidget | None = None,
                 runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.users = users
        self.actor = actor
        self.runner = runner
        self._rows: list[UserInfo] = []
        self.dialog: UserDialog | ResetPasswordDialog | None = None
        self.code_dialog: SetupCodeDialog | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("usersTable")
        self.table.setAccessibleName("Users")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _index: self.edit_user())
        self.add_button = QPushButton("&Add…")
        self.edit_button = QPushButton("&Edit…")
        self.reset_button = QPushButton("&Reset password…")
        self.add_button.clicked.connect(self.add_user)
        self.edit_button.clicked.connect(self.edit_user)
        self.reset_button.clicked.connect(self.reset_password)
        self.setup_code_button = QPushButton("New &setup code…")
        self.setup_code_button.setToolTip("A new one-time code for a user who has no password "
                                          "yet; the old code stops working.")
        self.setup_code_button.clicked.connect(self.issue_setup_code)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.reset_button,
                       self.setup_code_button):
            self.editable_widget(button)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.body.addWidget(self.table, 1)
        self.body.addLayout(buttons)
        self.body.addWidget(note_label("Changes to users are saved at once and recorded in "
                                       "the audit log. A user without SMS access has no SMS "
                                       "tab."))
        self._outer.setStretch(self._outer.indexOf(self.body), 1)

    def load(self) -> None:
        """Fill the table from the service."""
        selected = self.selected_user()
        try:
            self._rows = self.users.list()
        except ServiceError as exc:
            self.error.show_error(str(exc))
            return
        self.table.setRowCount(len(self._rows))
        for row, user in enumerate(self._rows):
            values = (user.name, user.username, user.mobile or "", Role(user.role).label,
                      "Yes" if user.sms_access else "No", "Yes" if user.active else "No")
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)  # plain text items
                item.setData(Qt.ItemDataRole.UserRole, user.id)
                self.table.setItem(row, column, item)
            if selected is not None and user.id == selected.id:
                self.table.selectRow(row)

    def select_username(self, username: str) -> None:
        """Select a user's row (keyboard users and tests)."""
        for row, user in enumerate(self._rows):
            if user.username == username:
                self.table.selectRow(row)
                return
        raise KeyError(username)

    def selected_user(self) -> UserInfo | None:
        """The user of the selected row."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._rows):
            return None
        return self._rows[rows[0].row()]

    def add_user(self) -> UserDialog:
        """Open the Add user dialog (non-blocking)."""
        dialog = UserDialog(self.users, self.actor, None, self)
        self._open(dialog)
        return dialog

    def edit_user(self) -> UserDialog | None:
        """Open the Edit dialog for the selected user."""
        user = self.selected_user()
        if user is None or not self.edit_button.isEnabled():
            return None
        dialog = UserDialog(self.users, self.actor, user, self)
        self._open(dialog)
        return dialog

    def reset_password(self) -> ResetPasswordDialog | None:
        """Open the Reset password dialog for the selected user."""
        user = self.selected_user()
        if user is None:
            return None
        dialog = ResetPasswordDialog(self.users, self.actor, user, self)
        self._open(dialog)
        return dialog

    def issue_setup_code(self) -> None:
        """Issue a new setup code for the selected user (without a password) and show it once
        (on the task runner when the page has one; the refusal goes to the page's error line)."""
        user = self.selected_user()
        if user is None:
            return
        if self.runner is None:
            try:
                issued = self.users.issue_setup_code(self.actor, user.id)
            except ServiceError as exc:
                self._code_refused(exc)
                return
            self._code_issued(issued)
            return
        self.setup_code_button.setEnabled(False)
        self.runner.run(self.users.issue_setup_code, self.actor, user.id,
                        on_success=self._code_issued, on_failure=self._code_refused)

    def _code_issued(self, issued: UserInfo) -> None:
        self.setup_code_button.setEnabled(self.add_button.isEnabled())
        self.error.show_error(None)
        self.show_setup_code(issued)

    def _code_refused(self, exc: BaseException) -> None:
        self.setup_code_button.setEnabled(self.add_button.isEnabled())
        self.error.show_error(str(exc) if isinstance(exc, ServiceError) else describe_error(exc))

    def show_setup_code(self, user: UserInfo) -> SetupCodeDialog:
        """The one and only showing of a setup code (non-blocking)."""
        dialog = SetupCodeDialog(user, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.code_dialog = dialog
        dialog.open()
        return dialog

    def _open(self, dialog: UserDialog | ResetPasswordDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._changed)
        if isinstance(dialog, UserDialog):
            dialog.accepted.connect(lambda: self._maybe_show_code(dialog))
        self.dialog = dialog
        dialog.open()

    def _maybe_show_code(self, dialog: UserDialog) -> None:
        if dialog.user is not None and dialog.user.setup_code is not None:
            self.show_setup_code(dialog.user)

    def _changed(self) -> None:
        self.load()
        self.users_changed.emit()
