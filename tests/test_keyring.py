"""The Auth Token lives only in a secure keyring (or TWILIO_AUTH_TOKEN), never in the database."""

from __future__ import annotations

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.db.models import AuditEntry, Setting
from desktop_sms.services.container import Services
from desktop_sms.services.credentials import (
    KEYRING_SERVICE,
    KeyringCredentialStore,
    NoKeyringError,
)
from tests.helpers.keyring_memory import InMemoryKeyring, PlaintextKeyring
from tests.test_ui_preferences import add_admin, click, open_preferences, retype

SID = "AC" + "b" * 32
TOKEN = "s3cret-token-value"


@pytest.fixture(autouse=True)
def no_token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)


def test_round_trip_with_the_in_memory_backend() -> None:
    backend = InMemoryKeyring()
    store = KeyringCredentialStore(backend=backend)
    assert store.available() == (True, "")
    assert store.get_token(SID) is None
    store.set_token(SID, TOKEN)
    assert backend.passwords == {(KEYRING_SERVICE, SID): TOKEN}
    assert store.get_token(SID) == TOKEN
    assert KeyringCredentialStore(backend=backend).get_token("AC" + "0" * 32) is None


@pytest.mark.parametrize(("backend", "sentence"), [
    (fail.Keyring(), "No keyring (password store) is available on this computer."),
    (PlaintextKeyring(), "The only keyring available stores passwords in plain text; "
                         "it is not used."),
])
def test_no_secure_keyring_is_refused_with_the_sentence(backend: KeyringBackend,
                                                         sentence: str) -> None:
    store = KeyringCredentialStore(backend=backend)
    assert store.available() == (False, sentence)
    with pytest.raises(NoKeyringError) as info:
        store.set_token(SID, TOKEN)
    assert str(info.value).startswith(sentence)
    assert "TWILIO_AUTH_TOKEN" in str(info.value)
    assert store.get_token(SID) is None
    if isinstance(backend, PlaintextKeyring):
        assert backend.passwords == {}  # nothing written to the plain-text store


def test_the_environment_variable_overrides_the_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-env")
    assert KeyringCredentialStore(backend=fail.Keyring()).get_token(SID) == "from-env"


def test_preferences_saves_the_token_only_in_the_keyring(qtbot: QtBot,
                                                         services: Services) -> None:
    admin = add_admin(services)
    backend = InMemoryKeyring()
    dialog = open_preferences(qtbot, services, admin, KeyringCredentialStore(backend=backend))
    page = dialog.telephony
    assert "keyring" in page.keyring_note.text()
    click(qtbot, page.twilio)
    retype(qtbot, page.account_sid, SID)
    retype(qtbot, page.auth_token, TOKEN)
    with qtbot.waitSignal(dialog.accepted):
        click(qtbot, dialog.save_button)

    assert backend.passwords == {(KEYRING_SERVICE, SID): TOKEN}
    assert services.settings.get("provider") == "twilio"
    with services.db.session() as s:
        stored = [v for v in s.scalars(select(Setting.value))]
        audited = [d for d in s.scalars(select(AuditEntry.detail))]
    assert all(TOKEN not in text for text in stored + audited)

    again = open_preferences(qtbot, services, admin, KeyringCredentialStore(backend=backend))
    assert again.telephony.auth_token.text() == ""  # never shown back
    assert "stored" in again.telephony.auth_token.placeholderText()


def test_preferences_without_a_keyring_says_so_and_points_to_the_variable(
        qtbot: QtBot, services: Services) -> None:
    admin = add_admin(services)
    dialog = open_preferences(qtbot, services, admin, KeyringCredentialStore(backend=fail.Keyring()))
    page = dialog.telephony
    note = page.keyring_note.text()
    assert note.startswith("No keyring (password store) is available on this computer.")
    assert "TWILIO_AUTH_TOKEN" in note
    retype(qtbot, page.account_sid, SID)
    retype(qtbot, page.auth_token, TOKEN)
    with qtbot.waitSignal(dialog.saved) as saved:
        click(qtbot, dialog.save_button)
    assert saved.args == [False] and dialog.isVisible()
    assert "TWILIO_AUTH_TOKEN" in page.error.text() and "not saved" in page.error.text()
    assert services.settings.get("twilio_account_sid") == SID  # the rest was saved
    with services.db.session() as s:
        assert all(TOKEN not in v for v in s.scalars(select(Setting.value)))
