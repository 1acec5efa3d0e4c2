"""Photos listed after their message, and a desktop clock that differs from Twilio's
(issue 14, reproductions 5 and 6; docs/media_and_clocks.md). Every test runs on SQLite and
PostgreSQL against the local Twilio-compatible server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    CaseNote,
    Document,
    InboundMedia,
    InboundMessage,
    MessageLink,
    OutboundMessage,
)
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.ingest import MEDIA_PENDING_LIMIT, media_retry_delay
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.poller import clock_skew_warning
from desktop_sms.services.received import ReceivedLog
from tests.helpers.outbound_fixtures import Office
from tests.test_cli_outbound import cli_db, run  # noqa: F401 - the fixture is used by name
from tests.test_ingest import CLIENT, JPEG, OFFICE, PNG, count, make_poller
from tests.test_matcher import add_matter


def _inbound(db: Database) -> InboundMessage:
    with db.session() as s:
        msg = s.scalar(select(InboundMessage))
        assert msg is not None
        return msg


# --- reproduction 5: the photo comes after the message ----------------------------------
def test_photo_listed_after_its_message_is_fetched_and_filed_later(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    m = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "here is the photo",
                                        media=[("image/jpeg", JPEG)])
    sandbox_server.set_media_visible(sid, 0)  # num_media = 1, the media list still empty
    first = poller.poll_once()
    assert first.errors == [] and len(first.new_inbound_ids) == 1
    msg = _inbound(db)
    assert msg.num_media == 1 and msg.media_pending and msg.media_missing == 0
    assert count(db, CaseNote) == 1 and count(db, Document) == 0

    sandbox_server.set_media_visible(sid, None)  # the photo is in the list now
    sandbox_clock.advance(seconds=media_retry_delay(0).total_seconds())
    second = poller.poll_once()
    assert second.media_completed_ids == first.new_inbound_ids
    with db.session() as s:
        doc = s.scalar(select(Document))
        note_id = s.scalar(select(CaseNote.id))
        assert doc is not None and doc.data == JPEG and doc.matter_id == m
        assert doc.note_id == note_id
    msg = _inbound(db)
    assert not msg.media_pending and msg.media_retry_at is None and msg.media_missing == 0
    sandbox_clock.advance(hours=2)
    poller.poll_once()
    assert count(db, Document) == 1 and count(db, InboundMedia) == 1  # nothing twice


def test_two_photos_arriving_at_different_times_are_both_filed_once(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "two photos",
                                        media=[("image/jpeg", JPEG), ("image/png", PNG)])
    sandbox_server.set_media_visible(sid, 0)
    poller.poll_once()
    assert _inbound(db).media_pending and count(db, Document) == 0
    sandbox_server.set_media_visible(sid, 1)
    sandbox_clock.advance(seconds=media_retry_delay(0).total_seconds())
    report = poller.poll_once()
    assert report.media_completed_ids == []  # one of two: still pending
    assert _inbound(db).media_pending and count(db, Document) == 1
    sandbox_server.set_media_visible(sid, None)
    sandbox_clock.advance(seconds=media_retry_delay(1).total_seconds())
    report = poller.poll_once()
    assert len(report.media_completed_ids) == 1
    with db.session() as s:
        docs = list(s.scalars(select(Document).order_by(Document.id)))
        note_ids = set(s.scalars(select(CaseNote.id)))
    assert [d.data for d in docs] == [JPEG, PNG]
    assert {d.note_id for d in docs} == note_ids and len(note_ids) == 1
    assert count(db, InboundMedia) == 2 and not _inbound(db).media_pending


def test_media_list_is_not_asked_again_before_its_back_off(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "photo", media=[("image/jpeg", JPEG)])
    sandbox_server.set_media_visible(sid, 0)
    poller.poll_once()
    stored = _inbound(db)
    assert stored.media_retry_at == sandbox_clock() + media_retry_delay(0)
    sandbox_server.set_media_visible(sid, None)
    sandbox_clock.advance(seconds=10)  # before the back-off ends: not asked
    poller.poll_once()
    assert _inbound(db).media_attempts == 0 and count(db, Document) == 0
    sandbox_clock.advance(seconds=25)
    poller.poll_once()
    assert _inbound(db).media_attempts == 1 and count(db, Document) == 1


def test_back_off_doubles_from_30_seconds_up_to_an_hour() -> None:
    assert [media_retry_delay(n).total_seconds() for n in range(9)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert media_retry_delay(10_000) == timedelta(hours=1)


def test_photo_that_never_arrives_is_given_up_after_24_hours_and_named_in_the_log(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "photo", media=[("image/jpeg", JPEG)])
    sandbox_server.set_media_visible(sid, 0)
    poller.poll_once()
    stored_at = _inbound(db).stored_at
    polls = 0
    while _inbound(db).media_pending:
        retry_at = _inbound(db).media_retry_at
        assert retry_at is not None
        sandbox_clock.set(retry_at)
        poller.poll_once()
        polls += 1
        assert polls < 60, "never given up"
    msg = _inbound(db)
    assert sandbox_clock() >= stored_at + MEDIA_PENDING_LIMIT
    assert sandbox_clock() < stored_at + MEDIA_PENDING_LIMIT + timedelta(hours=1)
    assert msg.media_missing == 1 and msg.media_retry_at is None
    assert 20 <= msg.media_attempts <= 40  # backed off, not asked every poll
    settings = poller.settings
    row = ReceivedLog(db, settings).rows(actor=SYSTEM)[0]
    assert row.media_note == "photo could not be downloaded"
    assert not row.media_pending and count(db, Document) == 0 and count(db, CaseNote) == 1


def test_two_photos_one_never_arriving_keeps_the_one_and_counts_the_other(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "two",
                                        media=[("image/jpeg", JPEG), ("image/png", PNG)])
    sandbox_server.set_media_visible(sid, 1)
    poller.poll_once()
    assert _inbound(db).media_pending and count(db, Document) == 1
    sandbox_clock.advance(hours=25)
    report = poller.poll_once()
    assert report.media_completed_ids == [_inbound(db).id]
    msg = _inbound(db)
    assert not msg.media_pending and msg.media_missing == 1
    assert ReceivedLog(db, poller.settings).rows(actor=SYSTEM)[0].media_note == \
        "photo could not be downloaded"
    assert count(db, Document) == 1


# --- reproduction 6: the desktop's clock runs fast --------------------------------------
def _office_with_two_cases(office: Office) -> int:
    """Case B (a second matter for the same client); returns its id. Mode: most recent
    outbound."""
    svc = office.services
    svc.settings.set(office.admin, "inbound_matching", "most_recent_outbound")
    b = svc.matters.save(office.admin, MatterInput(
        "25-000002", "Maria Garcia", "intake", mobile="(212) 555-0123",
        intake_date=date(2026, 1, 6), primary_username="pat"))
    svc.matters.set_consent(office.admin, b, "yes")
    return b


def _filed_on(office: Office, sid: str) -> list[int]:
    with office.services.db.session() as s:
        return list(s.scalars(select(MessageLink.matter_id).join(
            InboundMessage, InboundMessage.id == MessageLink.inbound_id)
            .where(InboundMessage.provider_sid == sid)))


@pytest.mark.parametrize("skew_s", [120, -120, 0])
def test_reply_is_filed_on_the_case_texted_last_by_twilios_clock(
        office: Office, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        skew_s: int) -> None:
    svc = office.services
    case_a = office.matter_id
    case_b = _office_with_two_cases(office)
    twilio_now = office.clock() - timedelta(seconds=skew_s)  # the desktop is skew_s ahead
    sandbox_clock.set(twilio_now - timedelta(days=1))
    office.clock.set(sandbox_clock() + timedelta(seconds=skew_s))
    svc.outbound.send(office.staff, case_a, CLIENT, "About case A")
    assert svc.dispatcher.run_due().sent
    sandbox_clock.set(twilio_now)
    office.clock.set(twilio_now + timedelta(seconds=skew_s))
    sent_b = svc.outbound.send(office.staff, case_b, CLIENT, "About case B")
    assert svc.dispatcher.run_due().sent == [sent_b]
    with svc.db.session() as s:
        row = s.get(OutboundMessage, sent_b)
        assert row is not None and row.sent_at == twilio_now  # Twilio's time, not ours
    sandbox_clock.advance(seconds=30)
    office.clock.advance(seconds=30)
    reply = sandbox_server.inject_inbound(CLIENT, OFFICE, "Yes, that works")
    report = svc.poller.poll_once()
    assert report.errors == [], report.errors
    assert _filed_on(office, reply) == [case_b]
    assert report.clock_skew_s is not None and abs(report.clock_skew_s - skew_s) <= 2
    if skew_s > 0:
        assert "2 minutes ahead of Twilio's" in (report.clock_warning or "")
    elif skew_s < 0:
        assert "2 minutes behind Twilio's" in (report.clock_warning or "")
    else:
        assert report.clock_warning is None


def test_status_refresh_fills_in_twilios_time_for_texts_sent_before(
        office: Office, sandbox_server: SandboxServer, sandbox_clock: ManualClock) -> None:
    svc = office.services
    case_a = office.matter_id
    case_b = _office_with_two_cases(office)
    twilio_now = office.clock() - timedelta(minutes=2)  # the desktop runs two minutes fast
    sandbox_clock.set(twilio_now)
    with svc.db.transaction() as s:  # case A texted yesterday (provider time already right)
        s.add(OutboundMessage(
            kind="client", matter_id=case_a, to_raw=CLIENT, to_e164=CLIENT, to_key=CLIENT,
            from_number=OFFICE, body="old", state="delivered", send_at=twilio_now - timedelta(days=1),
            created_at=twilio_now - timedelta(days=1), provider_sid="SM" + "a" * 32,
            sent_at=twilio_now - timedelta(days=1)))
    provider = svc.providers()
    sent = provider.send(to=CLIENT, body="About case B", from_=OFFICE)
    assert sent.date_created == twilio_now
    with svc.db.transaction() as s:  # as recorded before this change: the desktop's clock
        row = OutboundMessage(
            kind="client", matter_id=case_b, to_raw=CLIENT, to_e164=CLIENT, to_key=CLIENT,
            from_number=OFFICE, body="About case B", state="sent", send_at=office.clock(),
            created_at=office.clock(), provider_sid=sent.sid, sent_at=office.clock())
        s.add(row)
        s.flush()
        b_id = row.id
    sandbox_clock.advance(seconds=30)
    office.clock.advance(seconds=30)
    first = svc.poller.poll_once()  # no reply yet: the refresh fills in Twilio's time
    assert first.errors == []
    with svc.db.session() as s:
        fixed = s.get(OutboundMessage, b_id)
        assert fixed is not None and fixed.sent_at is not None
        assert abs((fixed.sent_at - twilio_now).total_seconds()) <= 1
    reply = sandbox_server.inject_inbound(CLIENT, OFFICE, "Yes")
    svc.poller.poll_once()
    assert _filed_on(office, reply) == [case_b]


@pytest.mark.parametrize(("skew_s", "expected"), [
    (None, None), (0, None), (59.9, None), (-60, None),
    (61, "about a minute ahead of"), (-61, "about a minute behind"),
    (150, "2 minutes ahead of"), (-600, "10 minutes behind"), (3 * 3600, "3.0 hours ahead of"),
])
def test_clock_warning_names_the_difference_and_its_direction(
        skew_s: float | None, expected: str | None) -> None:
    warning = clock_skew_warning(skew_s)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning and "Twilio's" in warning


def test_sandbox_dates_its_answers_by_its_own_clock(
        sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    assert twilio_provider.server_date() is None
    sandbox_clock.set(datetime(2030, 5, 6, 7, 8, 9, tzinfo=sandbox_clock().tzinfo))
    list(twilio_provider.list_messages(to=OFFICE))
    assert twilio_provider.server_date() == sandbox_clock()


@pytest.mark.parametrize(("twilio_behind_min", "said"), [(5, "5 minutes ahead of"),
                                                         (-3, "3 minutes behind")])
def test_cli_poll_warns_when_the_clocks_differ(
        cli_db: str, sandbox_clock: ManualClock, capsys: pytest.CaptureFixture[str],  # noqa: F811
        twilio_behind_min: int, said: str) -> None:
    sandbox_clock.set(datetime.now(UTC) - timedelta(minutes=twilio_behind_min))
    code, out, err = run(capsys, "--db", cli_db, "poll", "--once")
    assert code == 0 and out.startswith("0 new replies")
    assert f"warning: This computer's clock is {said} Twilio's" in err
    sandbox_clock.set(datetime.now(UTC))
    code, _, err = run(capsys, "--db", cli_db, "poll", "--once")
    assert code == 0 and "clock" not in err


def test_sandbox_control_api_holds_back_and_releases_media(
        sandbox_server: SandboxServer, twilio_provider: TwilioProvider) -> None:
    import json
    import urllib.error
    import urllib.request

    sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "two",
                                        media=[("image/jpeg", JPEG), ("image/png", PNG)])

    def control(body: dict[str, object]) -> int:
        request = urllib.request.Request(
            f"{sandbox_server.base_url}/_sandbox/media_visible", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert control({"sid": sid, "count": 0}) == 200
    assert twilio_provider.list_media(sid) == []
    assert twilio_provider.fetch(sid).num_media == 2  # still counted
    assert control({"sid": sid, "count": 1}) == 200
    assert [m.content_type for m in twilio_provider.list_media(sid)] == ["image/jpeg"]
    assert control({"sid": sid, "count": None}) == 200
    assert len(twilio_provider.list_media(sid)) == 2
    assert control({"count": 1}) == 400
    assert control({"sid": "SM" + "0" * 32, "count": 1}) == 404
