"""The Twilio Auth Token: only in the OS keyring or the environment, never in a file or the database."""

from __future__ import annotations

import abc
import os

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

KEYRING_SERVICE = "Desktop SMS Twilio"


class NoKeyringError(RuntimeError):
    """No secure keyring on this desktop; the token must come from TWILIO_AUTH_TOKEN."""


class CredentialStore(abc.ABC):
    """Where the Auth Token lives (an interface so tests use an in-memory store)."""

    @abc.abstractmethod
    def get_token(self, account_sid: str) -> str | None:
        """The token for the account, or None."""

    @abc.abstractmethod
    def set_token(self, account_sid: str, token: str) -> None:
        """Store the token securely; raises NoKeyringError when that is impossible."""

    @abc.abstractmethod
    def available(self) -> tuple[bool, str]:
        """Whether tokens can be stored here, and a sentence saying why not."""


def _insecure(backend: KeyringBackend) -> str | None:
    """Why a keyring backend is not acceptable for a token, or None when it is."""
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if "fail" in name.lower() or "null" in name.lower():
        return "No keyring (password store) is available on this computer."
    if "plaintext" in name.lower() or "keyrings.alt" in name:
        return "The only keyring available stores passwords in plain text; it is not used."
    if getattr(backend, "priority", 1) <= 0 and "chainer" not in name.lower():
        return "The keyring available here is not considered secure."
    if "chainer" in name.lower() and not getattr(backend, "backends", []):
        return "No keyring (password store) is available on this computer."
    return None


class KeyringCredentialStore(CredentialStore):
    """The OS keyring (Windows Credential Manager, macOS Keychain, Secret Service)."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self.backend = backend

    def _backend(self) -> KeyringBackend:
        return self.backend or keyring.get_keyring()

    def available(self) -> tuple[bool, str]:
        reason = _insecure(self._backend())
        return (reason is None, reason or "")

    def get_token(self, account_sid: str) -> str | None:
        env = os.environ.get("TWILIO_AUTH_TOKEN")
        if env:
            return env
        ok, _ = self.available()
        if not ok:
            return None
        try:
            return self._backend().get_password(KEYRING_SERVICE, account_sid)
        except keyring.errors.KeyringError:
            return None

    def set_token(self, account_sid: str, token: str) -> None:
        ok, reason = self.available()
        if not ok:
            raise NoKeyringError(f"{reason} Set the TWILIO_AUTH_TOKEN environment variable "
                                 "for Desktop SMS instead; the token was not saved.")
        try:
            self._backend().set_password(KEYRING_SERVICE, account_sid, token)
        except keyring.errors.KeyringError as exc:
            raise NoKeyringError(f"The keyring refused to store the token ({exc}).") from None
