"""The dispatcher's batch path: claims by chunk with a token, sends on a small thread pool,
reads settings once per run, keeps retry semantics and the exactly-once guarantee."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import OutboundMessage
from desktop_sms.providers.base import SmsProvider
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.dispatcher import CLAIM_CHUNK, Dispatcher
from tests.helpers.outbound_fixtures import Office

CLIENT = "+12125550123"


def _queue(office: Office, n: int, prefix: str = "batch") -> list[int]:
    svc = office.services
    return [svc.outbound.send(office.staff, office.matter_id, CLIENT, f"{prefix} {i}")
            for i in range(n)]


def _rows(db: Database, ids: list[int]) -> dict[int, OutboundMessage]:
    with db.session() as s:
        return {m.id: m for m in s.scalars(select(OutboundMessage)
                                           .where(OutboundMessage.id.in_(ids)))}


class CountingFactory:
    """A new TwilioProvider per call (as the real factory builds), counting calls and threads."""

    def __init__(self, office: Office) -> None:
        self.sid, self.token = office.server.credentials
        self.url = office.server.base_url
        self.calls = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self) -> SmsProvider:
        with self.lock:
            self.calls += 1
            self.threads.add(threading.current_thread().name)
        return TwilioProvider(self.sid, self.token, api_base_url=self.url, timeout=5.0)


def test_a_batch_is_sent_once_each_on_several_threads(office: Office) -> None:
    svc = office.services
    factory = CountingFactory(office)
    svc.dispatcher.provider_factory = factory
    svc.dispatcher.reset_provider()
    ids = _queue(office, 3 * CLAIM_CHUNK + 5)
    report = svc.dispatcher.run_due()
    assert report.sent == ids  # in due order, whatever order the threads finished in
    assert Counter(office.server_bodies()) == Counter(f"batch {i}" for i in range(len(ids)))
    rows = _rows(svc.db, ids)
    assert {m.state for m in rows.values()} == {"sent"}
    assert all(m.attempts == 1 and m.provider_sid and m.sent_at for m in rows.values())
    assert len({m.claim_token for m in rows.values()}) == 4  # one token per claimed chunk
    # Each sending thread got its own provider; none is built per message.
    assert 1 < factory.calls <= svc.dispatcher.workers
    assert all(name.startswith("dispatch") for name in factory.threads)
    assert svc.dispatcher.run_due().sent == []


def test_settings_are_read_once_per_run(office: Office) -> None:
    svc = office.services
    reads: Counter[str] = Counter()
    real_get = svc.settings.get

    def counting_get(key: str) -> object:
        reads[key] += 1
        return real_get(key)

    _queue(office, 30)
    svc.dispatcher.settings.get = counting_get  # type: ignore[method-assign]
    assert len(svc.dispatcher.run_due().sent) == 30
    assert reads["messaging_service_sid"] == 1 and reads["overdue_grace_minutes"] == 1


def test_a_claim_returns_only_the_rows_this_update_changed(office: Office) -> None:
    svc = office.services
    d = svc.dispatcher
    ids = _queue(office, 6)
    now = office.clock()
    with svc.db.transaction() as s:
        # Taken by another desktop, cancelled, and one this desktop holds from an earlier claim.
        s.execute(update(OutboundMessage).where(OutboundMessage.id == ids[0])
                  .values(state="sending", claimed_by="other-desk", claim_token="t-other"))
        s.execute(update(OutboundMessage).where(OutboundMessage.id == ids[1])
                  .values(state="canceled"))
        s.execute(update(OutboundMessage).where(OutboundMessage.id == ids[2])
                  .values(state="sending", claimed_by=d.desktop_id, claim_token="t-earlier",
                          lease_until=now + timedelta(minutes=2)))
        s.execute(update(OutboundMessage).where(OutboundMessage.id == ids[3])
                  .values(next_attempt_at=now + timedelta(minutes=1)))  # backing off
    claimed = d._claim_batch(ids)
    assert [c.id for c in claimed] == ids[4:]
    assert all(c.attempts == 1 for c in claimed)
    rows = _rows(svc.db, ids)
    assert rows[ids[0]].claimed_by == "other-desk" and rows[ids[0]].claim_token == "t-other"
    assert rows[ids[2]].claim_token == "t-earlier" and rows[ids[3]].state == "queued"
    assert d._claim_batch(ids) == []  # claimed once only


def test_failures_in_a_batch_keep_their_retry_semantics(office: Office) -> None:
    svc = office.services
    ids = _queue(office, 12)
    office.server.set_faults(server_error=3)  # three sends get a 500: retried later, not lost
    report = svc.dispatcher.run_due()
    office.server.clear_faults()
    assert len(report.retried) == 3 and len(report.sent) == 9
    assert sorted(report.sent + report.retried) == ids
    rows = _rows(svc.db, ids)
    for mid in report.retried:
        m = rows[mid]
        assert m.state == "queued" and m.attempts == 1 and m.error_message
        assert m.next_attempt_at is not None and m.next_attempt_at > office.clock()
    assert svc.dispatcher.run_due().sent == []  # backing off
    office.clock.advance(minutes=10)
    assert sorted(svc.dispatcher.run_due().sent) == sorted(report.retried)
    assert sorted(office.server_bodies()) == sorted(f"batch {i}" for i in range(12))


def test_a_claim_too_close_to_its_lease_end_is_left_for_reconciliation(office: Office) -> None:
    svc = office.services
    d = svc.dispatcher
    [mid] = _queue(office, 1)
    [claimed] = d._claim_batch([mid])
    office.clock.advance(seconds=d.lease.total_seconds() - 5)  # a long stall before its turn
    results = d._record([d._send_one(claimed, None, lambda: d.provider)])
    assert results == {mid: ""} and office.server_bodies() == []
    assert _rows(svc.db, [mid])[mid].state == "sending"
    office.clock.advance(seconds=10)  # the lease ends: reconciled, not found, sent once
    report = d.run_due()
    assert report.reconciled == [mid] and report.sent == [mid]
    assert office.server_bodies() == ["batch 0"]


def test_two_pooled_dispatchers_racing_send_every_message_once(office: Office,
                                                               db_url: str) -> None:
    svc = office.services
    ids = _queue(office, 5 * CLAIM_CHUNK, prefix="race")
    dbs = [Database(db_url), Database(db_url)]
    dispatchers = [Dispatcher(d, svc.settings, svc.dispatcher.provider_factory, office.clock,
                              desktop_id=f"desk-{n}", workers=4) for n, d in enumerate(dbs)]
    barrier = threading.Barrier(2)
    reports: list = []

    def run(d: Dispatcher) -> None:
        barrier.wait()
        reports.append(d.run_due())

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for d in dbs:
        d.dispose()
    assert Counter(office.server_bodies()) == Counter(f"race {i}" for i in range(len(ids)))
    assert sorted(reports[0].sent + reports[1].sent) == ids
    rows = _rows(svc.db, ids)
    assert {m.state for m in rows.values()} == {"sent"}
    assert all(m.attempts == 1 for m in rows.values())

