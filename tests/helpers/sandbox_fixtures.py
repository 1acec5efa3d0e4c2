"""Pytest fixtures for the Twilio-compatible sandbox server and a TwilioProvider pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider

OFFICE_NUMBER = "+12125550100"
CLIENT_NUMBER = "+12125550123"


@pytest.fixture
def sandbox_clock() -> ManualClock:
    """The sandbox server's clock: starts at the real current time, moves only when told."""
    return ManualClock()


@pytest.fixture
def sandbox_server(sandbox_clock: ManualClock) -> Iterator[SandboxServer]:
    """A started SandboxServer on free loopback ports, driven by sandbox_clock; stopped after."""
    server = SandboxServer(port=0, clock=sandbox_clock, progress_delay=1.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def twilio_provider(sandbox_server: SandboxServer) -> TwilioProvider:
    """The real TwilioProvider (official twilio client) pointed at sandbox_server."""
    account_sid, auth_token = sandbox_server.credentials
    return TwilioProvider(account_sid, auth_token, api_base_url=sandbox_server.base_url,
                          timeout=5.0)
