"""Filing replies end to end through the local Twilio-compatible server (docs/product.md F5, F7, F10)."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    Alert,
    CaseNote,
    Document,
    InboundMedia,
    InboundMessage,
    MessageLink,
    OptOut,
    OutboundMessage,
)
from desktop_sms.providers.base import MediaItem, ProviderMessage, TransientProviderError
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.ingest import ATTACHMENTS_FOLDER, InboundIngest, classify_media
from desktop_sms.services.poller import Poller
from desktop_sms.services.received import ReceivedLog
from desktop_sms.services.settings import SettingsService
from tests.test_matcher import add_matter, add_outbound

OFFICE = "+12125550100"
CLIENT = "+12125550123"
STRANGER = "+13125550177"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def make_settings(db: Database, clock: ManualClock, mode: str = "all_related") -> SettingsService:
    """Settings with one office number and the given matching mode."""
    settings = SettingsService(db, clock)
    settings.set(SYSTEM, "office_numbers", OFFICE)
    settings.set(SYSTEM, "inbound_matching", mode)
    return settings


def make_poller(db: Database, clock: ManualClock, provider: Any, mode: str = "all_related",
                page_size: int = 1000) -> Poller:
    """A Poller on the sandbox, with the given matching mode."""
    settings = make_settings(db, clock, mode)
    return Poller(db, settings, lambda: provider, clock, page_size=page_size)


def count(db: Database, model: Any, *where: Any) -> int:
    """Rows of a table (optionally filtered)."""
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_reply_with_photo_is_filed_with_note_document_link_and_alert(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    today = sandbox_clock().date()
    a = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    b = add_matter(db, "25-000002", intake=date(2025, 2, 1))
    add_outbound(db, b, CLIENT, sandbox_clock() - timedelta(hours=2))
    poller = make_poller(db, sandbox_clock, twilio_provider, "most_recent_outbound")
    # through the control API, as the Simulated phone does
    payload = {"from": CLIENT, "to": OFFICE, "body": "Here is the <b>letter</b>",
               "media": [{"content_type": "image/jpeg",
                          "data_base64": base64.b64encode(JPEG).decode()}]}
    request = urllib.request.Request(sandbox_server.base_url + "/_sandbox/inbound",
                                     data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        sid = json.loads(response.read())["sid"]

    report = poller.poll_once()

    assert report.errors == [] and len(report.new_inbound_ids) == 1
    assert report.filed_matter_ids == [b]
    with db.session() as s:
        msg = s.scalar(select(InboundMessage))
        assert msg is not None and msg.provider_sid == sid
        assert msg.matching_mode == "most_recent_outbound" and not msg.needs_review
        assert not msg.media_pending and msg.num_media == 1
        link = s.scalar(select(MessageLink))
        assert link is not None and (link.matter_id, link.rule) == (b, "most_recent_outbound")
        note = s.scalar(select(CaseNote))
        assert note is not None and note.matter_id == b and note.link_id == link.id
        assert note.subject == "SMS received from (212) 555-0123"
        assert note.body == "Here is the <b>letter</b>"  # stored as plain text, as sent
        doc = s.scalar(select(Document))
        assert doc is not None
        assert (doc.matter_id, doc.folder, doc.note_id) == (b, ATTACHMENTS_FOLDER, note.id)
        # The day, its number, the case and the last four digits of the sender (masked).
        assert doc.name == f"sms-{today:%Y%m%d}-1_case-25-000002_from-0123.jpg"
        assert doc.content_type == "image/jpeg"
        assert doc.data == JPEG and not doc.opaque
        assert [al.matter_id for al in s.scalars(select(Alert))] == [b]
    assert count(db, MessageLink, MessageLink.matter_id == a) == 0
    log = ReceivedLog(db, region="US")
    [row] = log.rows(actor=SYSTEM)
    assert (row.case_numbers, row.rules, row.media_count) == (["25-000002"], ["most_recent_outbound"], 1)
    assert log.needs_review_count() == 0
    convo = log.conversation(b)
    assert [(c.direction, c.status) for c in convo] == [("outbound", "delivered"),
                                                      ("inbound", "received")]
    assert len(convo[1].media_ids) == 1 and len(convo[1].document_ids) == 1
    assert [d.name for d in log.note_documents(note.id)] == [doc.name]
    assert log.note_documents(note.id)[0].is_image


def test_all_related_gives_each_matter_its_own_note_and_documents(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    a = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    b = add_matter(db, "25-000002", mobile=CLIENT, intake=date(2025, 2, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "two photos",
                                  media=[("image/jpeg", JPEG), ("image/png", PNG)])
    sandbox_server.inject_inbound(CLIENT, OFFICE, "no photo")
    report = poller.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 2
    assert report.filed_matter_ids == [a, b]
    for matter_id in (a, b):
        with db.session() as s:
            names = sorted(s.scalars(select(Document.name).where(Document.matter_id == matter_id)))
        assert [n.rsplit(".", 1)[1] for n in names] == ["jpg", "png"]
        assert len({n.rsplit("-", 1)[1] for n in names}) == 2  # distinct numbers
        assert count(db, CaseNote, CaseNote.matter_id == matter_id) == 2
        assert count(db, Alert, Alert.matter_id == matter_id) == 2
    assert count(db, InboundMedia) == 2  # stored once, documents per matter


def test_unknown_sender_and_short_code_need_review(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider, "most_recent_intake")
    sandbox_server.inject_inbound(STRANGER, OFFICE, "who is this")
    sandbox_server.inject_inbound("22395", OFFICE, "Your code is 1234")
    sandbox_server.inject_inbound(CLIENT, "+12125550199", "to another office number")
    report = poller.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 2
    assert sorted(report.needs_review_ids) == sorted(report.new_inbound_ids)
    log = ReceivedLog(db, region="US")
    rows = log.rows(actor=SYSTEM, needs_review_only=True)
    assert {(r.from_raw, r.from_e164) for r in rows} == {(STRANGER, STRANGER), ("22395", None)}
    assert {r.from_display for r in rows} == {"(312) 555-0177", "22395 (from a short code)"}
    assert all(r.links == () and r.needs_review for r in rows)
    assert log.needs_review_count() == 2 and count(db, CaseNote) == 0 and count(db, Alert) == 0


def test_media_types_are_checked_and_named_by_the_application(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    m = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    settings = make_settings(db, sandbox_clock)
    ingest = InboundIngest(db, settings, sandbox_clock, max_media_bytes=1000)
    poller = Poller(db, settings, lambda: twilio_provider, sandbox_clock, ingest)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "files", media=[
        ("image/jpeg", b"<svg onload=alert(1)>"),  # not what it says: opaque
        ("image/svg+xml", b"<svg/>"),
        ("application/pdf", b"%PDF-1.4 tiny"),
        ("text/vcard", b"BEGIN:VCARD\nEND:VCARD\n"),
        ("application/x-msdownload", b"MZ\x90\x00"),
        ("image/png", PNG + b"\x00" * 2000),  # over the 1000-byte cap
    ])
    assert poller.poll_once().errors == []
    with db.session() as s:
        docs = [(d.name.rsplit(".", 1)[1], d.content_type, d.opaque)
                for d in s.scalars(select(Document).where(Document.matter_id == m)
                                   .order_by(Document.id))]
        rejected = s.scalar(select(InboundMedia).where(InboundMedia.rejected.is_(True)))
        pending = s.scalar(select(InboundMessage.media_pending))
    assert docs == [("bin", "application/octet-stream", True),
                    ("bin", "application/octet-stream", True),
                    ("pdf", "application/pdf", False),
                    ("vcf", "text/vcard", False),
                    ("bin", "application/octet-stream", True)]
    assert rejected is not None and rejected.data is None and "limit" in (rejected.fetch_error or "")
    assert pending is False


def test_classify_media_checks_magic_numbers() -> None:
    assert classify_media("image/jpeg; name=x.exe", JPEG) == ("image/jpeg", "jpg", False)
    assert classify_media("IMAGE/PNG", PNG) == ("image/png", "png", False)
    assert classify_media("image/png", JPEG)[2] is True
    assert classify_media("audio/amr", b"#!AMR") == ("audio/amr", "amr", False)
    assert classify_media("video/mp4", b"....ftypmp42") == ("video/mp4", "mp4", False)
    assert classify_media("text/html", b"<html>") == ("application/octet-stream", "bin", True)


class FlakyMedia:
    """Wraps a provider so that media downloads fail transiently until `healthy` is set."""

    def __init__(self, inner: TwilioProvider) -> None:
        self.inner = inner
        self.healthy = False
        self.fail_on_download: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def download_media(self, media: MediaItem, max_bytes: int) -> bytes:
        if not self.healthy:
            raise TransientProviderError("Could not reach Twilio.")
        return self.inner.download_media(media, max_bytes)


def test_media_that_cannot_be_fetched_is_retried_later(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    m = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    provider = FlakyMedia(twilio_provider)
    poller = make_poller(db, sandbox_clock, provider)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "photo", media=[("image/jpeg", JPEG)])
    first = poller.poll_once()
    assert first.errors == [] and len(first.new_inbound_ids) == 1
    with db.session() as s:
        msg = s.scalar(select(InboundMessage))
        assert msg is not None and msg.media_pending and not msg.needs_review
    assert count(db, CaseNote) == 1 and count(db, Document) == 0
    sandbox_clock.advance(seconds=30)  # past the media back-off (media_retry_delay)
    poller.poll_once()  # still failing: still pending, nothing duplicated
    assert count(db, InboundMessage) == 1 and count(db, Document) == 0
    provider.healthy = True
    sandbox_clock.advance(seconds=60)
    third = poller.poll_once()
    assert third.media_completed_ids == first.new_inbound_ids
    with db.session() as s:
        note_id = s.scalar(select(CaseNote.id))
        doc = s.scalar(select(Document))
        assert doc is not None and doc.matter_id == m and doc.note_id == note_id
        assert doc.data == JPEG
        assert s.scalar(select(InboundMessage.media_pending)) is False
    poller.poll_once()
    assert count(db, Document) == 1 and count(db, CaseNote) == 1


def test_paging_over_several_pages(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    m = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    start = (sandbox_clock() - timedelta(hours=3)).replace(microsecond=0)
    for i in range(25):
        sandbox_server.inject_inbound(CLIENT, OFFICE, f"reply {i}",
                                      date_sent=start + timedelta(minutes=i))
    poller = make_poller(db, sandbox_clock, twilio_provider, page_size=10)
    report = poller.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 25
    lists = [p for method, p in sandbox_server.api_requests
             if method == "GET" and "/Messages.json" in p and "Media" not in p]
    assert len(lists) >= 3
    with db.session() as s:
        bodies = list(s.scalars(select(InboundMessage.body).order_by(InboundMessage.id)))
    assert bodies == [f"reply {i}" for i in range(25)]  # oldest first
    assert count(db, CaseNote, CaseNote.matter_id == m) == 25
    assert poller.cursor(OFFICE) == start + timedelta(minutes=24)
    assert poller.poll_once().new_inbound_ids == []


def test_weekend_of_replies_is_caught_up(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "friday")
    assert len(poller.poll_once().new_inbound_ids) == 1
    friday = sandbox_clock().replace(microsecond=0)  # the wire format has whole seconds
    # the office closes; replies arrive over the weekend
    for hours in (5, 20, 30, 44, 58):
        sandbox_server.inject_inbound(CLIENT, OFFICE, f"weekend +{hours}h",
                                      date_sent=friday + timedelta(hours=hours))
    sandbox_clock.advance(days=3)
    report = poller.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 5
    assert count(db, InboundMessage) == 6 and count(db, CaseNote) == 6
    assert poller.cursor(OFFICE) == friday + timedelta(hours=58)


def test_first_poll_looks_back_the_configured_days(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    now = sandbox_clock()
    sandbox_server.inject_inbound(STRANGER, OFFICE, "old", date_sent=now - timedelta(days=20))
    sandbox_server.inject_inbound(STRANGER, OFFICE, "recent", date_sent=now - timedelta(days=3))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    poller.settings.set(SYSTEM, "first_poll_lookback_days", "7")
    report = poller.poll_once()
    with db.session() as s:
        assert list(s.scalars(select(InboundMessage.body))) == ["recent"]
    assert len(report.new_inbound_ids) == 1


class CrashOnce:
    """Wraps a provider so that filing the Nth new message crashes once (mid-poll failure)."""

    def __init__(self, inner: TwilioProvider, crash_at_sid: str) -> None:
        self.inner = inner
        self.crash_at_sid = crash_at_sid

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_media(self, message_sid: str) -> list[MediaItem]:
        if message_sid == self.crash_at_sid:
            self.crash_at_sid = ""
            raise RuntimeError("the desktop lost power")
        return self.inner.list_media(message_sid)  # type: ignore[no-any-return]


def test_poll_failing_halfway_loses_nothing_and_duplicates_nothing(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    start = (sandbox_clock() - timedelta(hours=5)).replace(microsecond=0)
    sids = [sandbox_server.inject_inbound(CLIENT, OFFICE, f"r{i}", date_sent=start + timedelta(minutes=i),
                                          media=[("image/jpeg", JPEG)])
            for i in range(12)]
    provider = CrashOnce(twilio_provider, crash_at_sid=sids[7])
    poller = make_poller(db, sandbox_clock, provider, page_size=5)
    # 1. the provider answers 500 while listing: nothing filed, cursor untouched
    sandbox_server.set_faults(server_error=1)
    failed = poller.poll_once()
    assert failed.errors and failed.new_inbound_ids == []
    assert poller.cursor(OFFICE) is None and count(db, InboundMessage) == 0
    # 2. filing crashes at the 8th message: the other 11 are filed, the cursor stops before it
    halfway = poller.poll_once()
    assert len(halfway.new_inbound_ids) == 11 and halfway.errors
    assert poller.cursor(OFFICE) == start + timedelta(minutes=6)
    # 3. the next poll files the one left, once
    rest = poller.poll_once()
    assert rest.errors == [] and len(rest.new_inbound_ids) == 1
    with db.session() as s:
        assert sorted(s.scalars(select(InboundMessage.provider_sid))) == sorted(sids)
    assert count(db, CaseNote) == 12 and count(db, Document) == 12 and count(db, Alert) == 12
    assert poller.cursor(OFFICE) == start + timedelta(minutes=11)
    assert poller.poll_once().new_inbound_ids == []


def test_opt_out_words_update_opt_outs_and_are_still_filed(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    m = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "  Stop. ")
    poller.poll_once()
    with db.session() as s:
        row = s.scalar(select(OptOut).where(OptOut.phone_e164 == CLIENT))
        assert row is not None and row.opted_out and row.source == "keyword"
    assert count(db, MessageLink, MessageLink.matter_id == m) == 1
    sandbox_clock.advance(minutes=5)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "START")
    sandbox_server.inject_inbound(CLIENT, OFFICE, "please stop texting my sister")
    poller.poll_once()
    with db.session() as s:
        assert s.scalar(select(OptOut.opted_out).where(OptOut.phone_e164 == CLIENT)) is False
    assert count(db, MessageLink, MessageLink.matter_id == m) == 3


class StubProvider:
    """Only what ingest needs for a message without media."""

    def list_media(self, message_sid: str) -> list[MediaItem]:
        return []


def test_an_older_opt_in_never_overrides_a_newer_opt_out(db: Database,
                                                           sandbox_clock: ManualClock) -> None:
    ingest = InboundIngest(db, make_settings(db, sandbox_clock), sandbox_clock)
    now = sandbox_clock()

    def msg(sid: str, body: str, when: datetime) -> ProviderMessage:
        return ProviderMessage(sid=sid, direction="inbound", from_=CLIENT, to=OFFICE, body=body,
                               status="received", date_sent=when)

    ingest.ingest(msg("SM1", "STOP", now), StubProvider())  # type: ignore[arg-type]
    ingest.ingest(msg("SM2", "START", now - timedelta(hours=1)), StubProvider())  # type: ignore[arg-type]
    with db.session() as s:
        assert s.scalar(select(OptOut.opted_out)) is True
    assert ingest.ingest(msg("SM1", "STOP", now), StubProvider()).created is False  # type: ignore[arg-type]


def test_outbound_status_is_refreshed(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    m = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    sandbox_server.set_delivery_outcome("+12125550144", "undelivered", 30003)
    ids = []
    for to in (CLIENT, "+12125550144"):
        sent = twilio_provider.send(to=to, body="hello", from_=OFFICE)
        oid = add_outbound(db, m, to, sandbox_clock(), state="sent")
        with db.transaction() as s:
            row = s.get(OutboundMessage, oid)
            assert row is not None
            row.provider_sid = sent.sid
        ids.append(oid)
    old = add_outbound(db, m, CLIENT, sandbox_clock() - timedelta(hours=80), state="sent")
    poller = make_poller(db, sandbox_clock, twilio_provider)
    assert poller.poll_once().updated_outbound_ids == []  # still on its way
    sandbox_clock.advance(seconds=30)
    report = poller.poll_once()
    assert sorted(report.updated_outbound_ids) == sorted(ids)
    with db.session() as s:
        states = {o.id: (o.state, o.error_code) for o in s.scalars(select(OutboundMessage))}
    assert states[ids[0]] == ("delivered", None)
    assert states[ids[1]] == ("undelivered", 30003)
    assert states[old] == ("sent", None)  # older than 72 hours: left alone


@pytest.fixture
def second_provider(sandbox_server: SandboxServer) -> Iterator[TwilioProvider]:
    """Another desktop's provider on the same local server."""
    sid, token = sandbox_server.credentials
    yield TwilioProvider(sid, token, api_base_url=sandbox_server.base_url, timeout=5.0)


def test_each_note_and_alert_belongs_to_its_own_link(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    """Notes and alerts are written from the message's links in one statement each: every link
    gets exactly one note (pointing at it, with the sender formatted) and one alert."""
    ids = [add_matter(db, f"25-00010{i}", mobile=CLIENT, intake=date(2025, 1, 1 + i))
           for i in range(4)]
    poller = make_poller(db, sandbox_clock, twilio_provider)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "family phone", media=[("image/jpeg", JPEG)])
    report = poller.poll_once()
    assert report.errors == [] and report.filed_matter_ids == ids
    with db.session() as s:
        links = {link.id: link.matter_id for link in s.scalars(select(MessageLink))}
        notes = list(s.scalars(select(CaseNote)))
        docs = list(s.scalars(select(Document)))
    assert sorted(links.values()) == ids
    assert sorted((n.link_id, n.matter_id) for n in notes) == sorted(links.items())
    assert {n.subject for n in notes} == {"SMS received from (212) 555-0123"}
    assert {n.body for n in notes} == {"family phone"} and not any(n.withdrawn for n in notes)
    assert sorted((d.matter_id, d.note_id) for d in docs) == sorted(
        (n.matter_id, n.id) for n in notes)
    assert count(db, Alert) == 4 and count(db, Alert, Alert.dismissed_at.is_(None)) == 4


def test_a_poll_reads_the_filing_settings_once_and_trusts_its_stored_filter(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop_sms.services.ingest as ingest_module

    add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    poller = make_poller(db, sandbox_clock, twilio_provider)
    for i in range(3):
        sandbox_server.inject_inbound(CLIENT, OFFICE, f"reply {i}", media=[("image/jpeg", JPEG)])
    reads: list[tuple[str, ...]] = []
    real_read = ingest_module.read_settings

    def counting_read(session: Any, *keys: str) -> list[Any]:
        reads.append(keys)
        return real_read(session, *keys)

    monkeypatch.setattr(ingest_module, "read_settings", counting_read)
    monkeypatch.setattr(InboundIngest, "is_stored", lambda self, sid: pytest.fail("re-checked"))
    report = poller.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 3
    assert reads == [("inbound_matching", "default_region")]  # once per poll, not per message
    with db.session() as s:
        assert set(s.scalars(select(InboundMessage.matching_mode))) == {"all_related"}


def test_outside_a_poll_each_message_reads_the_mode_in_force(
        db: Database, sandbox_clock: ManualClock) -> None:
    settings = make_settings(db, sandbox_clock, "all_related")
    ingest = InboundIngest(db, settings, sandbox_clock)
    a = add_matter(db, "25-000001", mobile=CLIENT, intake=date(2025, 1, 1))
    b = add_matter(db, "25-000002", home=CLIENT, intake=date(2025, 2, 1))
    now = sandbox_clock()

    def msg(sid: str) -> ProviderMessage:
        return ProviderMessage(sid=sid, direction="inbound", from_=CLIENT, to=OFFICE, body="hi",
                               status="received", date_sent=now)

    assert ingest.ingest(msg("SM1"), StubProvider()).matter_ids == [a]  # type: ignore[arg-type]
    settings.set(SYSTEM, "inbound_matching", "most_recent_intake")
    assert ingest.ingest(msg("SM2"), StubProvider()).matter_ids == [b]  # type: ignore[arg-type]
    with ingest.polling() as scope:  # a poll keeps the mode it began with
        settings.set(SYSTEM, "inbound_matching", "all_related")
        assert str(scope.mode) == "most_recent_intake"
        with ingest.polling() as inner:
            assert inner is scope
        assert ingest.ingest(msg("SM3"), StubProvider()).matter_ids == [b]  # type: ignore[arg-type]
    assert ingest.ingest(msg("SM4"), StubProvider()).matter_ids == [a]  # type: ignore[arg-type]
