"""Replies we did not write (issue 12, reproductions 1, 2 and 14): text that can't be encoded,
replies that can't be filed, dates far in the future or past, oversized bodies — through the
local Twilio server, on SQLite and PostgreSQL (docs/set_aside.md)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, CaseNote, InboundFilingFailure, InboundMessage
from desktop_sms.providers.base import ProviderError, SmsProvider, TransientProviderError
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.common import PermissionDenied, ServiceError
from desktop_sms.services.ingest import (
    MAX_FILING_ATTEMPTS,
    MAX_INBOUND_BODY_BYTES,
    TRUNCATED_NOTE,
    cap_body,
    counts_against_message,
    failure_reason,
    storable_text,
)
from desktop_sms.services.poller import CURSOR_OVERLAP, Poller
from tests.helpers.outbound_fixtures import OFFICE, Office

CLIENT = "+12125550123"
SECOND_OFFICE = "+12125550188"


def poller(office: Office, provider: SmsProvider) -> Poller:
    return office.services.inbound.poller(lambda: provider)


def bodies(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(InboundMessage.body)))


def refuse_poison(db: Database) -> None:
    """Make the database itself refuse to store any reply containing "poison" (a cause
    outside the application's code, e.g. a site trigger or a constraint an update added)."""
    with db.transaction() as s:
        if s.get_bind().dialect.name == "sqlite":
            s.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound_messages "
                           "WHEN NEW.body LIKE '%poison%' "
                           "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"))
        else:
            s.execute(text("CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                           "IF NEW.body LIKE '%poison%' THEN RAISE EXCEPTION 'poison refused'; "
                           "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            s.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound_messages "
                           "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"))


def allow_poison(db: Database) -> None:
    with db.transaction() as s:
        if s.get_bind().dialect.name == "sqlite":
            s.execute(text("DROP TRIGGER refuse_poison"))
        else:
            s.execute(text("DROP TRIGGER refuse_poison ON inbound_messages"))


# --- reproduction 1: text that can't be encoded ----------------------------------------------
def test_storable_text_replaces_what_cannot_be_encoded() -> None:
    assert storable_text("x \ud800") == "x \ufffd"
    assert storable_text("a\x00b") == "a\ufffdb"
    assert storable_text("\udfff lone low, \ud83d\ude00 split pair") == "\ufffd lone low, 😀 split pair"
    assert storable_text("café 😀") == "café 😀"
    assert storable_text("") == ""


def test_lone_surrogate_reply_is_stored_with_a_replacement_and_the_next_is_filed(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    start = office.clock() - timedelta(hours=1)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "x \ud800", date_sent=start)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "see you Monday",
                                  date_sent=start + timedelta(minutes=1))
    p = poller(office, twilio_provider)
    first = p.poll_once()
    assert first.errors == [] and len(first.new_inbound_ids) == 2
    assert p.poll_once().new_inbound_ids == []
    assert bodies(office.services.db) == ["see you Monday", "x \ufffd"]
    with office.services.db.session() as s:
        assert sorted(s.scalars(select(CaseNote.body))) == ["see you Monday", "x \ufffd"]
    assert p.cursor(OFFICE) == start + timedelta(minutes=1)


# --- the set-aside mechanism -------------------------------------------------------------------
def test_a_reply_that_cannot_be_filed_is_set_aside_and_tried_again_by_an_admin(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    db = office.services.db
    received = office.services.inbound.received
    ingest = office.services.inbound.ingest
    start = office.clock() - timedelta(hours=1)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "good one", date_sent=start)
    poison_sid = sandbox_server.inject_inbound(CLIENT, OFFICE, "poison \ud800 pill",
                                               date_sent=start + timedelta(minutes=1))
    sandbox_server.inject_inbound(CLIENT, OFFICE, "good two",
                                  date_sent=start + timedelta(minutes=2))
    refuse_poison(db)
    p = poller(office, twilio_provider)
    first = p.poll_once()
    # Both good replies are filed; the cursor waits before the failed one.
    assert len(first.new_inbound_ids) == 2 and len(first.errors) == 1
    assert "will be tried again" in first.errors[0]
    assert bodies(db) == ["good one", "good two"]
    assert p.cursor(OFFICE) == start
    assert received.set_aside_rows() == []
    for attempt in range(2, MAX_FILING_ATTEMPTS + 1):
        office.clock.advance(minutes=1)
        report = p.poll_once()
        assert report.new_inbound_ids == [] and len(report.errors) == 1, attempt
    assert "set aside" in report.errors[0]
    # Set aside: it no longer holds the cursor, and later polls neither retry nor report it.
    assert p.cursor(OFFICE) == start + timedelta(minutes=2)
    office.clock.advance(minutes=1)
    assert p.poll_once().errors == []
    rows = received.set_aside_rows()
    assert len(rows) == 1
    row = rows[0]
    assert row.provider_sid == poison_sid and row.text == "poison \ufffd pill"
    assert row.attempts == MAX_FILING_ATTEMPTS and "poison refused" in row.reason
    assert row.reason.startswith("The database refused to store it")
    assert row.from_display == "(212) 555-0123"
    # Non-admins are refused by the service; while the cause remains an admin is told why.
    with pytest.raises(PermissionDenied):
        ingest.try_again(office.staff, row.id, office.services.providers)
    with pytest.raises(ServiceError, match="still could not be filed"):
        ingest.try_again(office.admin, row.id, office.services.providers)
    assert len(received.set_aside_rows()) == 1
    # The cause gone, Try again files it on the client's case and it leaves the list.
    allow_poison(db)
    result = ingest.try_again(office.admin, row.id, office.services.providers)
    assert result.created and result.matter_ids == [office.matter_id]
    assert received.set_aside_rows() == []
    assert bodies(db) == ["good one", "good two", "poison \ufffd pill"]
    with db.session() as s:
        assert s.scalar(select(InboundFilingFailure.id)) is None
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "inbound.try_again")).one()
        assert entry.user_id == office.admin.user_id and entry.target_id == str(result.inbound_id)


def test_a_failure_that_passes_before_the_limit_is_forgotten(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    db = office.services.db
    start = office.clock() - timedelta(hours=1)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "poison once", date_sent=start)
    refuse_poison(db)
    p = poller(office, twilio_provider)
    assert p.poll_once().errors and p.cursor(OFFICE) is not None
    allow_poison(db)
    report = p.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 1
    assert p.cursor(OFFICE) == start
    with db.session() as s:
        assert s.scalar(select(InboundFilingFailure.id)) is None


# --- reproduction 2: dates far in the future or past --------------------------------------------
def test_a_reply_from_the_future_does_not_hide_later_replies(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    now = office.clock()
    sandbox_server.inject_inbound(CLIENT, OFFICE, "before", date_sent=now - timedelta(hours=2))
    sandbox_server.inject_inbound(CLIENT, OFFICE, "from 2031",
                                  date_sent=datetime(2031, 1, 1, tzinfo=UTC))
    sandbox_server.inject_inbound(CLIENT, OFFICE, "after", date_sent=now - timedelta(hours=1))
    p = poller(office, twilio_provider)
    assert len(p.poll_once().new_inbound_ids) == 3
    cursor = p.cursor(OFFICE)
    assert cursor is not None and cursor <= now - CURSOR_OVERLAP
    for i in range(3):  # repeated polls: each later reply is filed, the cursor stays behind
        office.clock.advance(hours=1)
        sandbox_server.inject_inbound(CLIENT, OFFICE, f"later {i}", date_sent=office.clock())
        report = p.poll_once()
        assert report.errors == [] and len(report.new_inbound_ids) == 1, i
        cursor = p.cursor(OFFICE)
        assert cursor is not None and cursor <= office.clock() - CURSOR_OVERLAP
    assert len(bodies(office.services.db)) == 6


def test_future_dates_on_two_office_numbers_and_a_cursor_already_moved_ahead(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    office.services.settings.set(office.admin, "office_numbers", f"{OFFICE},{SECOND_OFFICE}")
    now = office.clock()
    sandbox_server.inject_inbound(CLIENT, OFFICE, "far future", date_sent=datetime(2099, 6, 1,
                                                                                   tzinfo=UTC))
    sandbox_server.inject_inbound(CLIENT, SECOND_OFFICE, "hi", date_sent=now - timedelta(hours=1))
    p = poller(office, twilio_provider)
    assert len(p.poll_once().new_inbound_ids) == 2
    for number in (OFFICE, SECOND_OFFICE):
        cursor = p.cursor(number)
        assert cursor is not None and cursor <= now - CURSOR_OVERLAP
    # A cursor an earlier version left in 2031 is healed: later replies are listed again.
    p._advance_cursor(SECOND_OFFICE, datetime(2031, 1, 1, tzinfo=UTC), datetime(2032, 1, 1,
                                                                                 tzinfo=UTC))
    office.clock.advance(minutes=30)
    sandbox_server.inject_inbound(CLIENT, SECOND_OFFICE, "still there?", date_sent=office.clock())
    assert len(p.poll_once().new_inbound_ids) == 1


def test_far_past_dates_neither_move_the_cursor_back_nor_stop_filing(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    now = office.clock()
    p = poller(office, twilio_provider)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "recent", date_sent=now - timedelta(hours=3))
    assert len(p.poll_once().new_inbound_ids) == 1
    before = p.cursor(OFFICE)
    sandbox_server.inject_inbound(CLIENT, OFFICE, "from 1970", date_sent=datetime(1970, 1, 1,
                                                                                  tzinfo=UTC))
    sandbox_server.inject_inbound(CLIENT, OFFICE, "new", date_sent=now - timedelta(hours=1))
    office.clock.advance(minutes=5)
    report = p.poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 1
    assert p.cursor(OFFICE) == now - timedelta(hours=1) and before == now - timedelta(hours=3)


# --- reproduction 14: oversized replies ----------------------------------------------------------
def test_cap_body_cuts_on_a_character_boundary() -> None:
    assert cap_body("short") == ("short", False)
    cut, truncated = cap_body("é" * 40, limit=9)
    assert truncated and cut == "éééé" and len(cut.encode()) <= 9
    assert cap_body("x" * 10, limit=10) == ("x" * 10, False)


def test_an_oversized_reply_is_capped_and_marked_truncated(
        office: Office, sandbox_server: SandboxServer, twilio_provider: SmsProvider) -> None:
    huge = "word " * 60_000  # 300,000 characters; Twilio's own limit is 1,600
    sandbox_server.inject_inbound(CLIENT, OFFICE, huge, date_sent=office.clock() - timedelta(hours=1))
    sandbox_server.inject_inbound(CLIENT, OFFICE, "short", date_sent=office.clock() - timedelta(minutes=30))
    report = poller(office, twilio_provider).poll_once()
    assert report.errors == [] and len(report.new_inbound_ids) == 2
    db = office.services.db
    with db.session() as s:
        stored = {m.body[:5]: m for m in s.scalars(select(InboundMessage))}
        assert stored["word "].body_truncated and not stored["short"].body_truncated
        assert len(stored["word "].body.encode()) <= MAX_INBOUND_BODY_BYTES
        assert huge.startswith(stored["word "].body)
        notes = list(s.scalars(select(CaseNote.body).where(CaseNote.body.like("word%"))))
    assert len(notes) == 1 and notes[0].endswith(TRUNCATED_NOTE)
    received = office.services.inbound.received
    rows = {r.text[:5]: r for r in received.rows(actor=office.admin)}
    assert rows["word "].truncated and not rows["short"].truncated
    items = {i.body[:5]: i for i in received.conversation(office.matter_id)}
    assert items["word "].truncated and not items["short"].truncated


def test_only_failures_about_the_message_count_towards_setting_it_aside() -> None:
    locked = OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
    refused = IntegrityError("INSERT …", {}, sqlite3.IntegrityError("poison refused"))
    assert not counts_against_message(locked)
    assert not counts_against_message(TransientProviderError("Twilio is busy."))
    assert counts_against_message(refused)
    assert counts_against_message(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"))
    assert counts_against_message(ProviderError("Twilio refused the request."))
    assert failure_reason(refused) == ("The database refused to store it (IntegrityError: "
                                       "poison refused).")
    assert failure_reason(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "x")) == (
        "Its text could not be encoded for storage.")
