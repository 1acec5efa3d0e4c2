"""Sending, scheduling, cancelling and the dispatcher, against the local Twilio-compatible server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, OptOut, OutboundMessage
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import PermissionDenied, ValidationError
from desktop_sms.services.dispatcher import Dispatcher
from desktop_sms.services.outbound import ConsentRequired, OptedOutNumber
from tests.helpers.outbound_fixtures import Office

CLIENT = "+12125550123"


def _state(db: Database, message_id: int) -> OutboundMessage:
    with db.session() as s:
        msg = s.get(OutboundMessage, message_id)
        assert msg is not None
        return msg


# --- the send service's refusals ---------------------------------------------------------

def test_send_now_reaches_the_server_once_with_body_and_recipient(office: Office) -> None:
    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, "212.555.0123", "Hello Maria")
    assert _state(svc.db, mid).state == "queued"
    report = svc.dispatcher.run_due()
    assert report.sent == [mid]
    msg = _state(svc.db, mid)
    assert msg.state == "sent" and msg.provider_sid and msg.provider_sid.startswith("SM")
    assert office.server_bodies(CLIENT) == ["Hello Maria"]
    assert svc.dispatcher.run_due().sent == []  # nothing sent twice
    assert office.server_bodies(CLIENT) == ["Hello Maria"]
    with svc.db.session() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "sms.send"))
        detail = s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "sms.send"))
        assert "Hello" not in (detail or "")  # bodies never in the audit detail


def test_send_refuses_without_consent(office: Office) -> None:
    svc = office.services
    svc.matters.set_consent(office.admin, office.matter_id, "not_asked")
    with pytest.raises(ConsentRequired, match="consent"):
        svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi")
    svc.settings.set(office.admin, "sms_consent_required", "false")
    assert svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi")


@pytest.mark.parametrize(("to", "body", "when_min", "reason"), [
    ("12345", "Hi", None, "not a valid phone number"),
    (CLIENT, "   ", None, ""),
    (CLIENT, "x" * 1601, None, "1,600|1600"),
    (CLIENT, "Hi", -5, "at least one minute"),
    (CLIENT, "Hi", 0.5, "at least one minute"),
])
def test_send_refuses_bad_input_and_writes_nothing(office: Office, to: str, body: str,
                                                   when_min: float | None, reason: str) -> None:
    svc = office.services
    send_at = None if when_min is None else office.clock() + timedelta(minutes=when_min)
    with pytest.raises(ValidationError, match=reason or None):
        svc.outbound.send(office.staff, office.matter_id, to, body, send_at=send_at)
    with svc.db.session() as s:
        assert s.scalars(select(OutboundMessage)).first() is None


def test_opted_out_number_is_refused_before_the_provider(office: Office) -> None:
    svc = office.services
    with svc.db.transaction() as s:
        s.add(OptOut(phone_e164=CLIENT, opted_out=True, source="keyword", changed_at=office.clock()))
    with pytest.raises(OptedOutNumber, match="opted out"):
        svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi")
    assert office.server_bodies() == []


def test_user_without_sms_access_cannot_send_or_cancel(office: Office) -> None:
    svc = office.services
    svc.users.update(office.admin, office.staff.user_id, sms_access=False)
    no_sms = svc.users.by_id(office.staff.user_id).actor()
    with pytest.raises(PermissionDenied):
        svc.outbound.send(no_sms, office.matter_id, CLIENT, "Hi")
    with pytest.raises(PermissionDenied):
        svc.outbound.cancel(no_sms, [1])


# --- scheduling ---------------------------------------------------------------------------

def test_scheduled_message_is_not_sent_before_its_time_and_once_after(office: Office) -> None:
    svc = office.services
    due = office.clock() + timedelta(minutes=10)
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Your hearing", send_at=due)
    assert svc.dispatcher.next_wakeup() == due
    office.clock.advance(minutes=9, seconds=59)
    assert svc.dispatcher.run_due().sent == []
    assert _state(svc.db, mid).state == "scheduled" and office.server_bodies() == []
    office.clock.advance(seconds=2)
    assert svc.dispatcher.run_due().sent == [mid]
    assert svc.dispatcher.run_due().sent == []
    assert office.server_bodies() == ["Your hearing"]


def test_overdue_within_grace_goes_out_and_later_ones_become_missed(office: Office) -> None:
    svc = office.services
    start = office.clock()
    soon = svc.outbound.send(office.staff, office.matter_id, CLIENT, "within grace",
                             send_at=start + timedelta(minutes=2))
    early = svc.outbound.send(office.staff, office.matter_id, CLIENT, "too late",
                              send_at=start + timedelta(minutes=1, seconds=30))
    with svc.db.transaction() as s:  # the laptop slept: make one far overdue
        s.execute(update(OutboundMessage).where(OutboundMessage.id == early)
                  .values(send_at=start - timedelta(hours=8)))
    office.clock.advance(minutes=10)  # 8 minutes late: within the 15-minute grace
    report = svc.dispatcher.reconcile_on_startup()
    assert report.missed == [early]
    assert svc.dispatcher.run_due().sent == [soon]
    assert _state(svc.db, early).state == "missed"
    assert office.server_bodies() == ["within grace"]
    # A person chooses Send now for the missed one.
    svc.outbound.send_missed_now(office.staff, early)
    assert svc.dispatcher.run_due().sent == [early]
    assert sorted(office.server_bodies()) == ["too late", "within grace"]


# --- cancelling ---------------------------------------------------------------------------

def test_cancel_scheduled_and_refuse_sent(office: Office) -> None:
    svc = office.services
    later = svc.outbound.send(office.staff, office.matter_id, CLIENT, "later",
                              send_at=office.clock() + timedelta(minutes=5))
    now = svc.outbound.send(office.staff, office.matter_id, CLIENT, "now")
    svc.dispatcher.run_due()
    outcomes = svc.outbound.cancel(office.staff, [later, now])
    assert outcomes[0].canceled and not outcomes[1].canceled
    assert "already been sent" in outcomes[1].reason
    office.clock.advance(minutes=6)
    assert svc.dispatcher.run_due().sent == []
    assert office.server_bodies() == ["now"]
    assert {r.id for r in svc.outbound.queue()} == set()  # canceled and sent leave the queue


def test_cancel_racing_a_send_exactly_one_wins(office: Office, db_url: str) -> None:
    svc = office.services
    ids = [svc.outbound.send(office.staff, office.matter_id, CLIENT, f"race {i}") for i in range(20)]
    other_db = Database(db_url)
    other = Dispatcher(other_db, svc.settings, svc.dispatcher.provider_factory, office.clock)
    barrier = threading.Barrier(2)
    outcomes: list = []

    def cancel() -> None:
        barrier.wait()
        outcomes.extend(svc.outbound.cancel(office.staff, ids))

    def dispatch() -> None:
        barrier.wait()
        other.run_due()

    threads = [threading.Thread(target=cancel), threading.Thread(target=dispatch)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other_db.dispose()
    canceled = {o.id for o in outcomes if o.canceled}
    sent_bodies = office.server_bodies()
    for mid in ids:
        state = _state(svc.db, mid).state
        body = f"race {mid - ids[0]}"
        if mid in canceled:
            assert state == "canceled" and body not in sent_bodies
        else:
            assert state == "sent" and sent_bodies.count(body) == 1
    assert len(sent_bodies) == len(ids) - len(canceled)


# --- exactly once with two desktops --------------------------------------------------------

def test_two_dispatchers_racing_send_every_message_once(office: Office, db_url: str) -> None:
    svc = office.services
    ids = [svc.outbound.send(office.staff, office.matter_id, CLIENT, f"msg {i}") for i in range(40)]
    dbs = [Database(db_url), Database(db_url)]
    dispatchers = [Dispatcher(d, svc.settings, svc.dispatcher.provider_factory, office.clock,
                              desktop_id=f"desk-{n}") for n, d in enumerate(dbs)]
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
    bodies = office.server_bodies()
    assert sorted(bodies) == sorted(f"msg {i}" for i in range(40))
    assert sorted(reports[0].sent + reports[1].sent) == ids
    with svc.db.session() as s:
        assert {m.state for m in s.scalars(select(OutboundMessage))} == {"sent"}


# --- crash recovery -----------------------------------------------------------------------

def _leave_in_sending(office: Office, body: str) -> int:
    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, body)
    with svc.db.transaction() as s:
        s.execute(update(OutboundMessage).where(OutboundMessage.id == mid).values(
            state="sending", claimed_by="crashed-desktop", claimed_at=office.clock(),
            lease_until=office.clock() + timedelta(minutes=2), attempts=1))
    return mid


def test_crash_after_provider_accepted_is_not_sent_again(office: Office,
                                                         twilio_provider: TwilioProvider) -> None:
    svc = office.services
    mid = _leave_in_sending(office, "accepted before the crash")
    accepted = twilio_provider.send(to=CLIENT, body="accepted before the crash", from_="+12125550100")
    office.clock.advance(minutes=3)  # the lease has run out
    report = svc.dispatcher.run_due()
    assert report.reconciled == [mid]
    msg = _state(svc.db, mid)
    assert msg.state == "sent" and msg.provider_sid == accepted.sid
    assert office.server_bodies() == ["accepted before the crash"]


def test_crash_before_provider_accepted_is_sent_once(office: Office) -> None:
    svc = office.services
    mid = _leave_in_sending(office, "never reached Twilio")
    assert svc.dispatcher.run_due().sent == []  # the other desktop's lease still holds
    office.clock.advance(minutes=3)
    report = svc.dispatcher.run_due()
    assert report.reconciled == [mid] and report.sent == [mid]
    assert _state(svc.db, mid).state == "sent"
    assert office.server_bodies() == ["never reached Twilio"]


def test_same_body_sent_earlier_does_not_fool_reconciliation(office: Office) -> None:
    svc = office.services
    first = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Reminder: call us")
    svc.dispatcher.run_due()
    mid = _leave_in_sending(office, "Reminder: call us")
    office.clock.advance(minutes=3)
    svc.dispatcher.run_due()
    assert _state(svc.db, first).provider_sid != _state(svc.db, mid).provider_sid
    assert office.server_bodies() == ["Reminder: call us", "Reminder: call us"]


# --- provider faults ------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    {"rate_limit": 1, "retry_after": 7},
    {"server_error": 2},
    {"drop_connection": 1},
])
def test_transient_faults_are_retried_then_sent_once(office: Office, sandbox_server: SandboxServer,
                                                     fault: dict) -> None:
    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "retry me")
    sandbox_server.set_faults(**fault)
    report = svc.dispatcher.run_due()
    assert report.retried == [mid] and report.sent == []
    msg = _state(svc.db, mid)
    assert msg.state == "queued" and msg.next_attempt_at is not None
    if "retry_after" in fault:
        assert msg.next_attempt_at - office.clock() >= timedelta(seconds=7)
    for _ in range(5):
        office.clock.advance(minutes=6)
        svc.dispatcher.run_due()
        if _state(svc.db, mid).state == "sent":
            break
    assert _state(svc.db, mid).state == "sent"
    assert office.server_bodies() == ["retry me"]


def test_transient_faults_give_up_after_bounded_attempts(office: Office,
                                                         sandbox_server: SandboxServer) -> None:
    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "never")
    sandbox_server.set_faults(server_error=100)
    for _ in range(8):
        svc.dispatcher.run_due()
        office.clock.advance(minutes=6)
    msg = _state(svc.db, mid)
    assert msg.state == "failed" and msg.attempts == 5
    assert msg.error_message


@pytest.mark.parametrize(("to", "code", "words"), [
    ("+15005550001", 21211, "not a valid"),
    ("+15005550004", 21610, "opted out|STOP"),
    ("+15005550009", 21614, "mobile|landline|text"),
])
def test_permanent_errors_fail_at_once_with_a_sentence(office: Office, to: str, code: int,
                                                       words: str) -> None:
    import re

    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, to, "hello")
    report = svc.dispatcher.run_due()
    assert report.failed == [mid]
    msg = _state(svc.db, mid)
    assert msg.state == "failed" and msg.error_code == code and msg.attempts == 1
    assert re.search(words, msg.error_message or "", re.I)
    if code == 21610:
        assert svc.outbound.opted_out(to)


def test_a_send_that_timed_out_after_acceptance_is_found_not_resent(
        db: Database, sandbox_server: SandboxServer) -> None:
    """A read time-out hides whether Twilio took the text: the retry looks before it sends."""
    from tests.helpers.outbound_fixtures import make_office

    sid, token = sandbox_server.credentials
    impatient = TwilioProvider(sid, token, api_base_url=sandbox_server.base_url, timeout=0.3)
    office = make_office(db, sandbox_server, lambda: impatient)
    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "slow answer")
    sandbox_server.set_faults(latency_ms=1500)
    report = svc.dispatcher.run_due()
    assert report.retried == [mid]
    msg = _state(svc.db, mid)
    assert msg.state == "queued" and msg.verify_since is not None
    assert office.server_bodies() == ["slow answer"]  # Twilio did accept it
    sandbox_server.clear_faults()
    office.clock.advance(minutes=6)
    assert svc.dispatcher.run_due().sent == [mid]
    msg = _state(svc.db, mid)
    at_server = [m for m in sandbox_server.messages() if m["body"] == "slow answer"]
    assert len(at_server) == 1 and msg.provider_sid == at_server[0]["sid"]
    assert msg.state == "sent" and msg.verify_since is None


def test_a_number_that_opts_out_after_scheduling_is_not_texted(office: Office) -> None:
    """STOP on Wednesday for a text scheduled on Monday for Friday: refused when it falls due."""
    svc = office.services
    due = office.clock() + timedelta(days=2)
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Friday's hearing",
                            send_at=due)
    with svc.db.transaction() as s:
        s.add(OptOut(phone_e164=CLIENT, opted_out=True, source="keyword", changed_at=office.clock()))
    office.clock.set(due + timedelta(seconds=1))
    report = svc.dispatcher.run_due()
    assert report.failed == [mid] and report.sent == []
    msg = _state(svc.db, mid)
    assert msg.state == "failed" and msg.error_code == 21610 and "STOP" in (msg.error_message or "")
    assert office.server_bodies() == []


def test_a_text_whose_last_send_went_unanswered_cannot_be_canceled(
        db: Database, sandbox_server: SandboxServer) -> None:
    """It may be at the provider already: 'canceled' would be a promise we can't keep."""
    from tests.helpers.outbound_fixtures import make_office

    sid, token = sandbox_server.credentials
    impatient = TwilioProvider(sid, token, api_base_url=sandbox_server.base_url, timeout=0.3)
    office = make_office(db, sandbox_server, lambda: impatient)
    svc = office.services
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "unanswered")
    sandbox_server.set_faults(latency_ms=1500)
    assert svc.dispatcher.run_due().retried == [mid]
    outcome = svc.outbound.cancel(office.staff, [mid])[0]
    assert not outcome.canceled and "may already have been sent" in outcome.reason
    assert _state(svc.db, mid).state == "queued"
