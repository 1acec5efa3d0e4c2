"""Preferences (docs/product.md F13): the office manager's settings, this desktop's database, and users.

Administrators change; everyone else reads (inputs disabled, and the services refuse anyway).
Save stores each changed setting through SettingsService.set, which checks, validates and
audits it; a refused value stays in its field with the sentence shown on its page.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.services.common import Actor
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.settings import SettingsService
from desktop_sms.services.templates import TemplateService
from desktop_sms.services.users import UserService
from desktop_sms.ui.dialogs.preferences.base import PreferencesPage
from desktop_sms.ui.dialogs.preferences.database_page import DatabasePage
from desktop_sms.ui.dialogs.preferences.settings_pages import (
    AlertsPage,
    CaseLogPage,
    ComposePage,
    MatchingPage,
    PollingPage,
)
from desktop_sms.ui.dialogs.preferences.telephony_page import TelephonyPage
from desktop_sms.ui.dialogs.preferences.templates_page import TemplatesPage
from desktop_sms.ui.dialogs.preferences.users_page import UsersPage
from desktop_sms.ui.tasks import TaskRunner

READ_ONLY_NOTE = "Only an administrator can change these settings; you can read them here."


class PreferencesDialog(QDialog):
    """Pages listed on the left; Save stores what changed, Close leaves without saving."""

    saved = Signal(bool)  # True when everything was stored; False when a page refused something

    def __init__(self, settings: SettingsService, users: UserService,
                 credentials: CredentialStore, actor: Actor, runner: TaskRunner,
                 database_url: str, config_file: Path | None = None,
                 parent: QWidget | None = None, templates: TemplateService | None = None) -> None:
        super().__init__(parent)
        self.actor = actor
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")
        self.resize(860, 600)

        self.telephony = TelephonyPage(settings, credentials, runner)
        self.matching = MatchingPage(settings)
        self.compose = ComposePage(settings)
        self.case_log = CaseLogPage(settings)
        self.alerts = AlertsPage(settings)
        self.polling = PollingPage(settings)
        self.database = DatabasePage(runner, database_url, config_file)
        self.users = UsersPage(users, actor, runner=runner)
        self.pages: list[PreferencesPage] = [
            self.telephony, self.matching, self.compose, self.case_log, self.alerts,
            self.polling, self.database, self.users]
        self.templates: TemplatesPage | None = None
        if templates is not None:
            self.templates = TemplatesPage(settings, templates, actor, runner)
            self.pages.append(self.templates)

        self.nav = QListWidget()
        self.nav.setObjectName("preferencesNavigation")
        self.nav.setAccessibleName("Preferences pages")
        self.nav.setFixedWidth(200)
        self.nav.setSpacing(3)
        self.stack = QStackedWidget()
        for page in self.pages:
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(page)
            scroll.setAccessibleName(page.title)
            self.stack.addWidget(scroll)
            self.nav.addItem(QListWidgetItem(page.title))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        self.read_only_note = QLabel(READ_ONLY_NOTE)
        self.read_only_note.setObjectName("readOnlyNote")
        self.read_only_note.setTextFormat(Qt.TextFormat.PlainText)
        self.read_only_note.setWordWrap(True)
        self.read_only_note.setStyleSheet("background: #fff8e1; padding: 6px;")
        self.read_only_note.setVisible(not actor.is_admin)

        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.save_button.setVisible(actor.is_admin)
        self.save_button.setDefault(actor.is_admin)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)

        row = QHBoxLayout()
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.read_only_note)
        layout.addLayout(row, 1)
        layout.addWidget(self.buttons)

        for page in self.pages:
            page.load()
            page.set_editable(actor.is_admin)
        self.nav.setCurrentRow(0)

    def show_page(self, title: str) -> None:
        """Switch to a page by its title."""
        for index, page in enumerate(self.pages):
            if page.title == title:
                self.nav.setCurrentRow(index)
                return
        raise KeyError(title)

    def current_page(self) -> PreferencesPage:
        """The page shown."""
        return self.pages[self.nav.currentRow()]

    def save(self) -> bool:
        """Store every page's changes; close when all went well, else show what was refused."""
        failed: list[int] = []
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for index, page in enumerate(self.pages):
            errors = page.save(self.actor)
            page.error.show_error("\n".join(errors) if errors else None)
            item = self.nav.item(index)
            if errors:
                failed.append(index)
                item.setIcon(warning)
                item.setToolTip("Something on this page was not saved.")
            else:
                item.setIcon(QIcon())
                item.setToolTip("")
        self.saved.emit(not failed)
        if failed:
            if self.nav.currentRow() not in failed:
                self.nav.setCurrentRow(failed[0])
            return False
        self.accept()
        return True

    def has_unsaved_changes(self) -> bool:
        """True when a page holds input that is not stored yet."""
        return any(page.is_dirty() for page in self.pages)

    def reject(self) -> None:
        """Close, Esc or the close box: with typed changes, ask before dropping them."""
        if getattr(self, "_discard_decided", False) or not self.has_unsaved_changes():
            super().reject()
            return
        existing = getattr(self, "discard_question", None)
        if existing is not None:
            existing.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Discard changes?",
                          "Some preferences were changed but not saved. Discard the changes?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        discard = box.addButton("&Discard changes", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("&Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)

        def answered(button: object) -> None:
            self.discard_question = None
            if button is discard:
                self._discard_decided = True
                super(PreferencesDialog, self).reject()

        box.buttonClicked.connect(answered)
        self.discard_question: QMessageBox | None = box
        box.open()
