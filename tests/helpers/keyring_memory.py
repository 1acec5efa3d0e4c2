"""TEST ONLY: an in-memory `keyring` backend, so the real KeyringCredentialStore runs headless.

Never used by the application: production refuses plain-text and failing keyrings.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class InMemoryKeyring(KeyringBackend):
    """Keeps passwords in a dict for the life of the object (tests only)."""

    priority = 1  # type: ignore[assignment]  # a plain number is what keyring reads

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise PasswordDeleteError(username) from None


class PlaintextKeyring(InMemoryKeyring):
    """Stands in for keyrings.alt's plain-text file store, which production must refuse."""
