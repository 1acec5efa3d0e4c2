"""Builds the provider the settings ask for: Twilio, or the Sandbox (the same Twilio code path
pointed at the Twilio-compatible local server, started in-process on first use)."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from desktop_sms.providers.base import BadCredentialsError, SmsProvider
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.settings import SettingsService

if TYPE_CHECKING:
    from desktop_sms.providers.sandbox_server import SandboxServer

API_URL_ENV = "DESKTOP_SMS_TWILIO_API_URL"
TWILIO_API_URL = "https://api.twilio.com"
# The twilio client and the local server are imported on first use, not at start-up: they
# cost a noticeable part of the cold start and the first send comes later anyway.


class ProviderFactory:
    """Callable giving the provider for the current settings; owns the in-process sandbox."""

    def __init__(self, settings: SettingsService, credentials: CredentialStore) -> None:
        self.settings = settings
        self.credentials = credentials
        self._lock = threading.Lock()
        self._sandbox: SandboxServer | None = None

    def mode(self) -> str:
        """`sandbox` or `twilio`, as the status bar shows it."""
        return str(self.settings.get("provider"))

    @property
    def sandbox(self) -> SandboxServer | None:
        """The in-process local server, once started (the Simulated phone window uses it)."""
        return self._sandbox

    def start_sandbox(self) -> SandboxServer:
        """Start the in-process local server if it is not running (sandbox mode only)."""
        from desktop_sms.providers.sandbox_server import SandboxServer

        with self._lock:
            if self._sandbox is None:
                numbers = list(self.settings.get("office_numbers"))
                server = SandboxServer(port=0, incoming_numbers=numbers or None)
                server.start()
                self._sandbox = server
            return self._sandbox

    def __call__(self) -> SmsProvider:
        from desktop_sms.providers.twilio_provider import TwilioProvider, api_base_url_from_env

        if self.mode() == "twilio":
            sid = os.environ.get("TWILIO_ACCOUNT_SID") or str(self.settings.get("twilio_account_sid"))
            if not sid:
                raise BadCredentialsError("No Twilio Account SID is set; fill it in under "
                                          "Preferences → Telephony & SMS.")
            token = self.credentials.get_token(sid)
            if not token:
                raise BadCredentialsError("No Twilio Auth Token is stored for this account; "
                                          "enter it under Preferences → Telephony & SMS.")
            return TwilioProvider(sid, token, api_base_url=api_base_url_from_env())
        external = os.environ.get(API_URL_ENV)
        if external and external.rstrip("/") != TWILIO_API_URL:
            # A standalone `desktop-sms sandbox-server` (the command line, several desktops).
            from desktop_sms.providers.sandbox_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

            return TwilioProvider(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, api_base_url=external)
        server = self.start_sandbox()
        sid, token = server.credentials
        return TwilioProvider(sid, token, api_base_url=server.base_url)

    def close(self) -> None:
        """Stop the in-process sandbox."""
        with self._lock:
            if self._sandbox is not None:
                self._sandbox.stop()
                self._sandbox = None
