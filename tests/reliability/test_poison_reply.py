"""A poison reply between two good ones (issue 12, reproduction 1), on SQLite and PostgreSQL:
a reply whose text can't be encoded is filed with U+FFFD in its place; a reply the database
keeps refusing is set aside after a few polls — both good replies around it are filed at the
first poll, the cursor passes it, and the Received Log (service and page) lists it with its
reason until an administrator's Try again files it (docs/set_aside.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop_sms.db.models import InboundMessage
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import PermissionDenied
from desktop_sms.services.container import Services
from desktop_sms.services.ingest import MAX_FILING_ATTEMPTS
from desktop_sms.services.poller import Poller
from desktop_sms.ui.tasks import TaskRunner
from desktop_sms.ui.windows.received_page import ReceivedPage
from tests.helpers.clock import FakeClock
from tests.reliability.workers import CLIENT, OFFICE, setup_office
from tests.test_set_aside import allow_poison, refuse_poison

pytestmark = pytest.mark.reliability


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def office(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = setup_office(db_url, clock)
    yield services
    services.close()


def test_poison_between_two_good_replies_is_set_aside_and_never_blocks_them(
        qtbot: QtBot, office: Services, clock: FakeClock) -> None:
    admin = office.users.get("boss").actor()
    staff = office.users.get("pat").actor()
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url, timeout=5.0)
        poller = Poller(office.db, office.settings, lambda: provider, clock, office.inbound.ingest)
        start = clock() - timedelta(minutes=30)
        server.inject_inbound(CLIENT, OFFICE, "good before", date_sent=start)
        server.inject_inbound(CLIENT, OFFICE, "x \ud800", date_sent=start + timedelta(minutes=1))
        server.inject_inbound(CLIENT, OFFICE, "poison \udfff", date_sent=start + timedelta(minutes=2))
        server.inject_inbound(CLIENT, OFFICE, "good after", date_sent=start + timedelta(minutes=3))
        refuse_poison(office.db)
        first = poller.poll_once()
        assert len(first.new_inbound_ids) == 3 and len(first.errors) == 1
        for _ in range(MAX_FILING_ATTEMPTS - 1):
            clock.advance(minutes=1)
            report = poller.poll_once()
        assert report.set_aside_sids and report.new_inbound_ids == []
        assert poller.cursor(OFFICE) == start + timedelta(minutes=3)
        clock.advance(minutes=1)
        server.inject_inbound(CLIENT, OFFICE, "good later", date_sent=clock())
        later = poller.poll_once()
        assert later.errors == [] and len(later.new_inbound_ids) == 1
        with office.db.session() as s:
            assert sorted(s.scalars(select(InboundMessage.body))) == [
                "good after", "good before", "good later", "x \ufffd"]

        # Visible in the Received Log service and page, with the reason.
        rows = office.inbound.received.set_aside_rows()
        assert [r.text for r in rows] == ["poison \ufffd"] and "poison refused" in rows[0].reason
        page = ReceivedPage(office.inbound.received, office.inbound.linking, TaskRunner(), admin,
                            try_again=lambda actor, fid: office.inbound.ingest.try_again(
                                actor, fid, lambda: provider))
        qtbot.addWidget(page)
        qtbot.waitUntil(lambda: page.set_aside_list.count() == 1 and page.model.rowCount() == 4)
        assert "poison refused" in page.set_aside_list.item(0).text()
        with pytest.raises(PermissionDenied):
            office.inbound.ingest.try_again(staff, rows[0].id, lambda: provider)
        allow_poison(office.db)
        page.try_again_selected()
        qtbot.waitUntil(lambda: page.set_aside_list.count() == 0 and page.model.rowCount() == 5)
    assert office.inbound.received.set_aside_rows() == []
