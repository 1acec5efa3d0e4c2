"""Shared fixtures. QT_QPA_PLATFORM is set before anything can import Qt."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DESKTOP_SMS_TESTING", "1")
# Never touch the developer's real keyring: the OS keyring can't run headless in CI, so tests
# that need one use tests/helpers/keyring_memory.py or MemoryCredentialStore instead.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("TWILIO_AUTH_TOKEN", None)
os.environ.pop("TWILIO_ACCOUNT_SID", None)
os.environ.pop("DESKTOP_SMS_TWILIO_API_URL", None)
os.environ.pop("DESKTOP_SMS_DATABASE_URL", None)

pytest_plugins = [
    "tests.helpers.ui_fixtures",
    "tests.helpers.db_fixtures",
    "tests.helpers.sandbox_fixtures",
    "tests.helpers.outbound_fixtures",
    "tests.helpers.ui_office",
]


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps this desktop's configuration and data folder to itself."""
    root = tmp_path_factory.mktemp("desktop")
    monkeypatch.setenv("DESKTOP_SMS_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("DESKTOP_SMS_DATA_DIR", str(root / "data"))
