"""An office ready to text: services on a fake clock, a matter with consent, the local server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from desktop_sms.db.database import Database
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.credentials import CredentialStore
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.provider_factory import ProviderFactory
from desktop_sms.services.settings import SettingsService
from tests.helpers.clock import FakeClock

OFFICE = "+12125550100"


class MemoryCredentialStore(CredentialStore):
    """In-memory stand-in for the OS keyring (the real keyring can't run headless in CI)."""

    def __init__(self, available: bool = True) -> None:
        self.tokens: dict[str, str] = {}
        self._available = available

    def get_token(self, account_sid: str) -> str | None:
        return self.tokens.get(account_sid)

    def set_token(self, account_sid: str, token: str) -> None:
        from desktop_sms.services.credentials import NoKeyringError

        if not self._available:
            raise NoKeyringError("No keyring (password store) is available on this computer.")
        self.tokens[account_sid] = token

    def available(self) -> tuple[bool, str]:
        return self._available, "" if self._available else "No keyring is available."


class FixedProviderFactory(ProviderFactory):
    """A ProviderFactory that hands out one given provider (the test's local server)."""

    def __init__(self, settings: SettingsService, make: Callable[[], SmsProvider]) -> None:
        self.settings = settings
        self._make = make
        self._sandbox = None

    def __call__(self) -> SmsProvider:
        return self._make()

    def close(self) -> None:
        pass


@dataclass
class Office:
    """Everything a sending test needs."""

    services: Services
    clock: FakeClock
    admin: Actor
    staff: Actor
    matter_id: int
    server: SandboxServer

    def server_bodies(self, to: str | None = None) -> list[str]:
        return [m["body"] for m in self.server.messages()
                if m["direction"].startswith("outbound") and (to is None or m["to"] == to)]


def make_office(db: Database, server: SandboxServer, provider: Callable[[], SmsProvider],
                clock: FakeClock | None = None) -> Office:
    clock = clock or FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    server_clock = server.state.clock
    if isinstance(server_clock, ManualClock) and server_clock is not clock:
        # Twilio's times are the texts' times (docs/media_and_clocks.md): the local server
        # starts at the office's time, as Twilio's clock agrees with a desktop's in life.
        server_clock.set(clock())
    services = build_services(db, clock, credentials=MemoryCredentialStore())
    factory = FixedProviderFactory(services.settings, provider)
    services.providers = factory
    services.dispatcher.provider_factory = factory
    services.poller.provider_factory = factory
    services.held.provider_factory = factory
    admin = services.users.add(None, "boss", "Office Manager", password="password1").actor()
    staff = services.users.add(admin, "pat", "Pat Paralegal", mobile="+12125550191",
                               password="password1").actor()
    services.settings.set(admin, "office_numbers", OFFICE)
    # Tests that aren't about pacing send as fast as the local server answers.
    services.settings.set(admin, "max_messages_per_second", "1000")
    matter_id = services.matters.save(admin, MatterInput(
        "25-000001", "Maria Garcia", "intake", mobile="(212) 555-0123",
        intake_date=date(2026, 1, 5), primary_username="pat"))
    services.matters.set_consent(admin, matter_id, "yes")
    return Office(services, clock, admin, staff, matter_id, server)


@pytest.fixture
def office(db: Database, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> Iterator[Office]:
    yield make_office(db, sandbox_server, lambda: twilio_provider)
