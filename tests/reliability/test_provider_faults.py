"""Provider faults injected at random (issue 9): 429 with Retry-After, 500, time-outs, dropped
connections and media 404s while sending and polling. Rounds are run with the clock moved on
(no sleeping); once the faults stop, the work completes with nothing lost or sent twice.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from desktop_sms.db.models import CaseNote, InboundMedia, InboundMessage, OutboundMessage
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.container import Services
from desktop_sms.services.poller import Poller
from tests.helpers.clock import FakeClock
from tests.reliability.workers import CLIENT, OFFICE, STRANGER, setup_office

pytestmark = pytest.mark.reliability

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 64 + b"\xff\xd9"
TIMEOUT_S = 0.4
SLOW_MS = 700  # longer than TIMEOUT_S: the client gives up, the server still does the work
FAULT_ROUNDS = 8
CLEAN_ROUNDS = 12


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(port=0, clock=clock, progress_delay=1.0) as srv:
        yield srv


@pytest.fixture
def office(db_url: str, clock: FakeClock, server: SandboxServer) -> Iterator[Services]:
    services = setup_office(db_url, clock)
    provider = TwilioProvider(*server.credentials, api_base_url=server.base_url,
                              timeout=TIMEOUT_S)
    services.dispatcher.provider_factory = lambda: provider
    services.dispatcher.max_attempts = 50  # the give-up rule is tested in test_outbound.py
    services.dispatcher.rng = random.Random(7)
    yield services
    services.close()


def random_faults(rng: random.Random, server: SandboxServer) -> str:
    """Set one random fault mix on the server for the next requests; says which."""
    kind = rng.choice(["429", "500", "drop", "slow", "media404", "mixed"])
    if kind == "429":
        server.set_faults(rate_limit=rng.randint(1, 4), retry_after=rng.choice([1, 30, 90]))
    elif kind == "500":
        server.set_faults(server_error=rng.randint(1, 4))
    elif kind == "drop":
        server.set_faults(drop_connection=rng.randint(1, 3))
    elif kind == "slow":
        server.set_faults(latency_ms=SLOW_MS)
    elif kind == "media404":
        server.set_faults(media_404=rng.randint(1, 3))
    else:
        server.set_faults(rate_limit=rng.randint(0, 2), retry_after=5,
                          server_error=rng.randint(0, 2), drop_connection=rng.randint(0, 2),
                          media_404=rng.randint(0, 2))
    return kind


@pytest.mark.parametrize("seed", [11])
def test_random_faults_while_sending_nothing_lost_or_sent_twice(
        office: Services, server: SandboxServer, clock: FakeClock, seed: int) -> None:
    rng = random.Random(seed)
    staff = office.users.get("pat").actor()
    matter_id = office.matters.by_number("25-000001").id
    bodies: list[str] = []
    kinds: list[str] = []
    for rnd in range(FAULT_ROUNDS + CLEAN_ROUNDS):
        if rnd < FAULT_ROUNDS:
            for _ in range(3):
                bodies.append(f"faulty round {rnd} text {len(bodies)}")
                office.outbound.send(staff, matter_id, CLIENT, bodies[-1])
            kinds.append(random_faults(rng, server))
        office.dispatcher.run_due()
        server.clear_faults()
        clock.advance(minutes=6)  # past every back-off and Retry-After, and past any lease
    assert "slow" in kinds and len(set(kinds)) >= 4  # the seed really mixes the faults

    with office.db.session() as s:
        rows = list(s.scalars(select(OutboundMessage)))
    assert {r.state for r in rows} == {"sent"}, Counter(r.state for r in rows)
    at_server = [m for m in server.messages() if m["direction"].startswith("outbound")]
    assert Counter(m["body"] for m in at_server) == Counter(bodies)  # each exactly once
    sid_of_body = {m["body"]: m["sid"] for m in at_server}
    assert {r.body: r.provider_sid for r in rows} == sid_of_body


@pytest.mark.parametrize("seed", [5])
def test_random_faults_while_polling_nothing_lost_or_filed_twice(
        office: Services, server: SandboxServer, clock: FakeClock, seed: int) -> None:
    rng = random.Random(seed)
    provider = office.dispatcher.provider_factory()
    poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest,
                    page_size=5)
    injected: dict[str, tuple[str, bool]] = {}  # sid -> (body, has media)
    kinds: list[str] = []
    for rnd in range(FAULT_ROUNDS + CLEAN_ROUNDS):
        if rnd < FAULT_ROUNDS:
            for _ in range(4):
                n = len(injected)
                media = n % 3 == 0
                sender = STRANGER if n % 5 == 4 else CLIENT
                sid = server.inject_inbound(sender, OFFICE, f"reply {n}",
                                            date_sent=clock() - timedelta(minutes=30 - n % 7),
                                            media=[("image/jpeg", JPEG)] if media else None)
                injected[sid] = (f"reply {n}", media)
            kinds.append(random_faults(rng, server))
        poller.poll_once()
        server.clear_faults()
        clock.advance(minutes=6)
    assert "media404" in kinds and "slow" in kinds

    with office.db.session() as s:
        stored = list(s.scalars(select(InboundMessage)))
        media = list(s.scalars(select(InboundMedia)))
        note_bodies = Counter(s.scalars(select(CaseNote.body)))
    assert Counter(m.provider_sid for m in stored) == Counter(injected.keys())
    assert all(m.body == injected[m.provider_sid][0] for m in stored)
    client_bodies = [b for sid, (b, _) in injected.items()
                     if not next(m for m in stored if m.provider_sid == sid).needs_review]
    assert note_bodies == Counter(client_bodies)  # one note each, none twice
    # Every attachment arrived in the end, byte for byte, despite the 404s.
    assert len(media) == sum(1 for _, has in injected.values() if has)
    assert [m.data for m in media] == [JPEG] * len(media), [m.fetch_error for m in media]
    assert not any(m.media_pending for m in stored)
