"""Preferences → Telephony & SMS: provider, Twilio account, office numbers, Test connection."""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from desktop_sms.providers.base import CredentialCheck
from desktop_sms.services.common import Actor
from desktop_sms.services.credentials import CredentialStore, NoKeyringError
from desktop_sms.services.settings import DEFINITIONS, SettingsService
from desktop_sms.ui.dialogs.preferences.base import SettingsPage, note_label
from desktop_sms.ui.tasks import TaskRunner

TOKEN_ENV = "TWILIO_AUTH_TOKEN"
OK_STYLE = "color: #1b5e20;"
PROBLEM_STYLE = "color: #b00020;"
HELD_NOTE = ("With a Messaging Service, a text scheduled at least this far ahead (and at most "
             "35 days) is held by Twilio and goes out at its time even if every computer is "
             "off; Twilio's own minimum is 15 minutes (5 on some accounts). Without a "
             "Messaging Service, scheduled texts wait in the office's queue and go out from a "
             "computer running Desktop SMS.")


def check_twilio(account_sid: str, typed_token: str, numbers: list[str],
                 credentials: CredentialStore, messaging_service_sid: str = "") -> CredentialCheck:
    """Test the typed (or stored) credentials against Twilio; runs on a worker thread.

    With the credentials accepted, also says whether the Messaging Service can hold texts.
    """
    token = typed_token or credentials.get_token(account_sid)
    if not token:
        return CredentialCheck(ok=False, bad_credentials=True, problems=[
            "No Auth Token is typed in or stored for this account."])
    from desktop_sms.providers.twilio_provider import TwilioProvider, api_base_url_from_env

    provider = TwilioProvider(account_sid, token, api_base_url=api_base_url_from_env())
    check = provider.test_credentials(numbers)
    if check.bad_credentials or check.network_error or not messaging_service_sid:
        return check
    can_schedule, sentence = provider.check_scheduling(messaging_service_sid)
    return replace(check, scheduling=sentence, can_schedule=can_schedule)


SANDBOX_OK = ("OK: the Sandbox answered. Practice mode: texts go only to the Simulated phone "
              "(SMS → Simulated phone…), never to real phones.")


def check_sandbox(numbers: list[str]) -> str:
    """Check Sandbox mode as sending would use it; runs on a worker thread.

    Starts a private local Twilio-compatible server (desktop_sms/providers/sandbox_server.py),
    or uses the standalone one named by DESKTOP_SMS_TWILIO_API_URL, asks it for the account
    as the real twilio client does, and returns the sentence to show. Raises nothing: a
    failure is described.
    """
    from desktop_sms.providers.sandbox_server import (
        SANDBOX_ACCOUNT_SID,
        SANDBOX_AUTH_TOKEN,
        SandboxServer,
    )
    from desktop_sms.providers.twilio_provider import (
        API_URL_ENV,
        TWILIO_API_URL,
        TwilioProvider,
    )

    external = (os.environ.get(API_URL_ENV) or "").rstrip("/")
    server: SandboxServer | None = None
    try:
        if external and external != TWILIO_API_URL:
            provider = TwilioProvider(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN,
                                      api_base_url=external)
        else:
            server = SandboxServer(port=0, incoming_numbers=numbers or None)
            server.start()
            sid, token = server.credentials
            provider = TwilioProvider(sid, token, api_base_url=server.base_url)
        check = provider.test_credentials(numbers)
    except Exception as exc:  # noqa: BLE001 - any failure is told as one sentence
        return f"The Sandbox could not be started: {exc}"
    finally:
        if server is not None:
            server.stop()
    if check.network_error:
        return "The Sandbox did not answer: " + " ".join(check.problems)
    if not check.ok and not check.missing_numbers:
        return "The Sandbox answered with a problem: " + " ".join(check.problems)
    return SANDBOX_OK


def describe_check(check: CredentialCheck) -> str:
    """The sentences shown under Test connection (the account, then texts held by Twilio)."""
    text = _describe_account(check)
    return f"{text} {check.scheduling}" if check.scheduling else text


def _describe_account(check: CredentialCheck) -> str:
    if check.ok:
        return f"OK: connected to the Twilio account “{check.account_name or 'unnamed'}”."
    if check.bad_credentials:
        return ("Bad credentials: Twilio did not accept this Account SID and Auth Token. "
                + " ".join(check.problems)).strip()
    if check.network_error:
        return "No network: Twilio could not be reached. Check the internet connection."
    if check.missing_numbers:
        numbers = ", ".join(check.missing_numbers)
        return (f"The account “{check.account_name}” was found, but these office numbers are "
                f"not on it: {numbers}.")
    return "Twilio answered with a problem: " + " ".join(check.problems)


class TelephonyPage(SettingsPage):
    """Sandbox or Twilio; the Auth Token goes only to the CredentialStore (the OS keyring)."""

    title = "Telephony & SMS"
    connection_tested = Signal(str)  # the sentence shown

    def __init__(self, settings: SettingsService, credentials: CredentialStore,
                 runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        self.credentials = credentials
        self.runner = runner
        self.sandbox = QRadioButton("Sandbox (practice: nothing reaches real phones)")
        self.twilio = QRadioButton("Twilio")
        group = QButtonGroup(self)
        provider_row = QHBoxLayout()
        for button in (self.sandbox, self.twilio):
            group.addButton(button)
            self.editable_widget(button)
            provider_row.addWidget(button)
        provider_row.addStretch(1)

        self.account_sid = QLineEdit()
        self.account_sid.setPlaceholderText("AC followed by 32 letters and digits")
        self.auth_token = QLineEdit()
        self.auth_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.auth_token.setObjectName("authToken")
        self.keyring_note = note_label("", "keyringNote")
        self.office_numbers = QLineEdit()
        self.office_numbers.setPlaceholderText("+1 212 555 0100, +1 212 555 0101")
        self.messaging_service_sid = QLineEdit()
        self.messaging_service_sid.setPlaceholderText("optional: MG followed by 32 letters and digits")
        for widget in (self.account_sid, self.auth_token, self.office_numbers,
                       self.messaging_service_sid):
            self.editable_widget(widget)
        self.test_button = QPushButton("&Test connection")
        self.editable_widget(self.test_button)
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = note_label("", "testResult")

        form = QFormLayout()
        form.addRow("Provider", provider_row)
        form.addRow("Account SID", self.account_sid)
        form.addRow("Auth Token", self.auth_token)
        form.addRow("", self.keyring_note)
        form.addRow("Office numbers", self.office_numbers)
        form.addRow("", note_label("Separate numbers with commas; the first is the default "
                                   "sender."))
        form.addRow("Messaging Service SID", self.messaging_service_sid)
        self.hold_min_lead = QSpinBox()
        self.hold_min_lead.setRange(5, 24 * 60)
        self.hold_min_lead.setSuffix(" minutes")
        self.hold_min_lead.setAccessibleName("Held by Twilio when due at least")
        self.editable_widget(self.hold_min_lead)
        form.addRow("Held by Twilio when due at least", self.hold_min_lead)
        form.addRow("", note_label(HELD_NOTE, "heldNote"))
        self.body.addLayout(form)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        self.body.addLayout(test_row)

        self.bind("provider", lambda: "twilio" if self.twilio.isChecked() else "sandbox",
                  lambda raw: (self.twilio if raw == "twilio" else self.sandbox).setChecked(True))
        self.bind("twilio_account_sid", lambda: self.account_sid.text().strip(),
                  self.account_sid.setText)
        self.bind("office_numbers", self._numbers_text,
                  lambda raw: self.office_numbers.setText(raw.replace(",", ", ")))
        self.bind("messaging_service_sid", lambda: self.messaging_service_sid.text().strip(),
                  self.messaging_service_sid.setText)
        self.bind("hold_min_lead_minutes", lambda: str(self.hold_min_lead.value()),
                  lambda raw: self.hold_min_lead.setValue(int(raw) if raw.strip().isdigit()
                                                          else 15))

    def _numbers_text(self) -> str:
        # stored "a,b", shown "a, b": compare like with like
        return ",".join(p.strip() for p in self.office_numbers.text().split(",") if p.strip())

    def load(self) -> None:
        super().load()
        self._show_token_status()

    def _show_token_status(self) -> None:
        self.auth_token.clear()
        ok, reason = self.credentials.available()
        if os.environ.get(TOKEN_ENV):
            self.keyring_note.setText(f"The Auth Token comes from the {TOKEN_ENV} environment "
                                      "variable on this computer.")
        elif not ok:
            self.keyring_note.setText(f"{reason} The Auth Token can't be saved here; set the "
                                      f"{TOKEN_ENV} environment variable for Desktop SMS "
                                      "instead.")
        else:
            self.keyring_note.setText("The Auth Token is kept in this computer's keyring "
                                      "(password store), never in the database.")
        sid = self.account_sid.text().strip()
        stored = ok and bool(sid) and bool(self.credentials.get_token(sid))
        self.auth_token.setPlaceholderText("stored — type a new token to replace it" if stored
                                           else "paste the Auth Token from the Twilio console")

    def is_dirty(self) -> bool:
        return super().is_dirty() or bool(self.auth_token.text())

    def save(self, actor: Actor) -> list[str]:
        errors = super().save(actor)
        token = self.auth_token.text().strip()
        if not token:
            return errors
        sid = self.account_sid.text().strip()
        if not actor.is_admin:
            errors.append("Only an administrator can change the Auth Token.")
        elif not sid or sid != self._loaded.get("twilio_account_sid"):
            errors.append("The Auth Token was not saved: it is stored with a valid Account SID.")
        else:
            try:
                self.credentials.set_token(sid, token)
            except NoKeyringError as exc:
                errors.append(str(exc))
            else:
                self._show_token_status()
        return errors

    def test_connection(self) -> None:
        """Check the typed account on a worker thread and say what is wrong, if anything.

        In Sandbox mode the Sandbox itself is checked: no Twilio details are asked for.
        """
        if self.sandbox.isChecked():
            self.test_button.setEnabled(False)
            self.test_result.setStyleSheet("")
            self.test_result.setText("Testing the Sandbox…")
            self.runner.run(check_sandbox, [], on_success=self._sandbox_tested,
                            on_failure=self._test_failed)
            return
        sid = self.account_sid.text().strip()
        if not sid:
            self._show_result("Type the Account SID (and the Auth Token) first.", False)
            return
        try:
            numbers = list(DEFINITIONS["office_numbers"].parse(self.office_numbers.text()))
        except ValueError as exc:
            self._show_result(f"Office numbers: {exc}", False)
            return
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText("Testing…")
        self.runner.run(check_twilio, sid, self.auth_token.text().strip(), numbers,
                        self.credentials, self.messaging_service_sid.text().strip(),
                        on_success=self._tested, on_failure=self._test_failed)

    def _sandbox_tested(self, sentence: str) -> None:
        self.test_button.setEnabled(True)
        self._show_result(sentence, sentence == SANDBOX_OK)

    def _tested(self, check: CredentialCheck) -> None:
        self.test_button.setEnabled(True)
        self._show_result(describe_check(check), check.ok)

    def _test_failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self._show_result(f"The test could not run: {exc}", False)

    def _show_result(self, text: str, ok: bool) -> None:
        self.test_result.setStyleSheet(OK_STYLE if ok else PROBLEM_STYLE)
        self.test_result.setText(text)
        self.connection_tested.emit(text)
