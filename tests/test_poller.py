"""Several desktops polling one account, and how a poll reports trouble (docs/product.md F5)."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import func, select

from desktop_sms.db.database import Database
from desktop_sms.db.models import Alert, CaseNote, Document, InboundMessage, MessageLink
from desktop_sms.providers.base import BadCredentialsError, SmsProvider
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.poller import Poller, PollReport
from desktop_sms.services.settings import SettingsService
from tests.test_ingest import CLIENT, JPEG, OFFICE, STRANGER, count, make_poller, make_settings
from tests.test_matcher import add_matter


def test_two_pollers_on_one_postgresql_database_file_each_reply_once(
        pg_db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock) -> None:
    a = add_matter(pg_db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    b = add_matter(pg_db, "25-000002", mobile=CLIENT, intake=date(2025, 2, 1))
    start = (sandbox_clock() - timedelta(hours=4)).replace(microsecond=0)
    for i in range(40):
        media = [("image/jpeg", JPEG)] if i % 5 == 0 else None
        sandbox_server.inject_inbound(CLIENT if i % 4 else STRANGER, OFFICE, f"reply {i}",
                                      date_sent=start + timedelta(minutes=i), media=media)
    other_db = Database(pg_db.url)
    sid, token = sandbox_server.credentials
    pollers = []
    for database in (pg_db, other_db):
        provider = TwilioProvider(sid, token, api_base_url=sandbox_server.base_url, timeout=10.0)
        pollers.append(make_poller(database, sandbox_clock, provider, page_size=7))
    reports: list[PollReport] = []
    barrier = threading.Barrier(2)

    def run(poller: Poller) -> None:
        barrier.wait()
        reports.append(poller.poll_once())

    threads = [threading.Thread(target=run, args=(p,)) for p in pollers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    other_db.dispose()
    assert len(reports) == 2 and all(r.errors == [] for r in reports), reports
    new_ids = reports[0].new_inbound_ids + reports[1].new_inbound_ids
    assert len(new_ids) == 40 and len(set(new_ids)) == 40  # each filed by exactly one desktop
    assert count(pg_db, InboundMessage) == 40
    filed = 30  # 10 from the stranger need review
    for matter_id in (a, b):
        assert count(pg_db, MessageLink, MessageLink.matter_id == matter_id) == filed
        assert count(pg_db, CaseNote, CaseNote.matter_id == matter_id) == filed
        assert count(pg_db, Alert, Alert.matter_id == matter_id) == filed
        assert count(pg_db, Document, Document.matter_id == matter_id) == 6  # i % 5 == 0 from CLIENT
    assert count(pg_db, InboundMessage, InboundMessage.needs_review.is_(True)) == 10
    with pg_db.session() as s:
        dupes = s.execute(select(CaseNote.body, CaseNote.matter_id, func.count())
                          .group_by(CaseNote.body, CaseNote.matter_id)
                          .having(func.count() > 1)).all()
    assert dupes == []


def test_provider_errors_are_reported_not_raised(db: Database, sandbox_clock: ManualClock) -> None:
    settings = make_settings(db, sandbox_clock)

    def refuse() -> SmsProvider:
        raise BadCredentialsError("Twilio refused the Account SID or Auth Token.", code=20003)

    report = Poller(db, settings, refuse, sandbox_clock).poll_once()
    assert not report.ok and "refused" in report.errors[0]
    assert report.finished_at == sandbox_clock()


def test_rate_limiting_is_reported_with_retry_after(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    sandbox_server.inject_inbound(CLIENT, OFFICE, "hi")
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sandbox_server.set_faults(rate_limit=1, retry_after=30)
    report = poller.poll_once()
    assert not report.ok and report.retry_after == 30 and report.new_inbound_ids == []
    assert poller.cursor(OFFICE) is None
    assert len(poller.poll_once().new_inbound_ids) == 1


def test_no_office_number_is_an_error_people_understand(
        db: Database, sandbox_clock: ManualClock, twilio_provider: TwilioProvider) -> None:
    settings = SettingsService(db, sandbox_clock)
    report = Poller(db, settings, lambda: twilio_provider, sandbox_clock).poll_once()
    assert report.errors == ["No office number is set (Preferences → Telephony & SMS)."]


def test_outbound_messages_on_the_office_number_are_not_ingested(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    twilio_provider.send(to=OFFICE, body="to ourselves", from_="+12125550199")
    poller = make_poller(db, sandbox_clock, twilio_provider)
    assert poller.poll_once().new_inbound_ids == []
    assert count(db, InboundMessage) == 0
