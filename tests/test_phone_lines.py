"""Same line, extensions, short codes and sender names (issue 14, reproduction 4 and its kind).

The domain rule (`phones.same_line` / `line_key`), the stored keys the matcher compares (on
SQLite and PostgreSQL), a reply from Mexico's old mobile form filed through the real poller
and the Received Log's names for senders that are not phone numbers.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from desktop_sms.db.database import Database
from desktop_sms.db.models import InboundMessage, Matter, MessageLink, OutboundMessage
from desktop_sms.domain.phones import (
    InvalidPhoneNumber,
    line_key,
    normalize,
    normalize_for_texting,
    normalize_sender,
    same_line,
    sender_kind,
)
from desktop_sms.domain.states import LinkRule, MatchingMode
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.matcher import InboundMatcher
from desktop_sms.services.received import ReceivedLog
from tests.test_ingest import OFFICE, make_poller
from tests.test_matcher import T, add_matter, add_outbound

MX_NEW = "+525512345678"
MX_OLD = "+5215512345678"
AR_MOBILE = "+5491123456789"
AR_NO_NINE = "+541123456789"


@pytest.mark.parametrize(("a", "b"), [
    (MX_NEW, MX_OLD),  # Mexico's old mobile prefix "1"
    ("+52 55 1234 5678", "+52 1 55 1234 5678"),
    (AR_MOBILE, AR_NO_NINE),  # Argentina's mobile "9" from abroad
    ("+54 9 351 123 4567", "+54 351 123 4567"),  # Córdoba
    ("(212) 555-0123", "+1 212 555 0123"),  # formats only
    ("+39 06 1234 5678", "+390612345678"),  # Italy: the leading zero is part of the number
    ("+44 20 7946 0958", "020 7946 0958"),
])
def test_the_same_line_written_two_ways(a: str, b: str) -> None:
    region = "GB" if b.startswith("020") else "US"
    assert same_line(a, b, region) and same_line(b, a, region)
    assert line_key(a, region) == line_key(b, region)


@pytest.mark.parametrize(("a", "b"), [
    ("+39 06 1234 5678", "+39 6 1234 5678"),  # Italian leading zero is never dropped
    (MX_NEW, "+525512345679"),
    ("+5215512345678", "+525212345678"),  # the 1 is only a prefix after the country code
    ("+12125550123", "+442125550123"),
    ("22395", "+122395"),  # a short code is no line
    ("ACME", "ACME"),
])
def test_different_lines_stay_apart(a: str, b: str) -> None:
    assert not same_line(a, b)


def test_mexican_old_mobile_form_is_kept_as_sent_but_keys_to_the_new_form() -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize(MX_OLD)  # phonenumbers refuses it: it is not for texting
    assert normalize_sender(MX_OLD) == MX_OLD
    assert line_key(MX_OLD) == MX_NEW
    assert normalize_sender("+52155") is None


@pytest.mark.parametrize(("raw", "kind"), [
    ("22395", "short_code"), ("729725", "short_code"), ("ACME Law", "sender_name"),
    ("Bank1", "sender_name"), ("+12125550123", "phone"), ("2125550123", "phone"),
])
def test_short_codes_and_sender_names_are_never_phone_numbers(raw: str, kind: str) -> None:
    assert sender_kind(raw) == kind
    if kind != "phone":
        assert normalize_sender(raw) is None and line_key(raw) is None


@pytest.mark.parametrize("raw", ["212 555 0123 x12", "(212) 555-0123 ext. 4", "+1 212 555 0123;ext=9"])
def test_a_number_with_an_extension_is_refused_for_texting(raw: str) -> None:
    assert normalize(raw) == "+12125550123"  # stored for people, e.g. a home phone
    with pytest.raises(InvalidPhoneNumber, match="has an extension"):
        normalize_for_texting(raw)


@pytest.mark.parametrize(("stored", "sender"), [(MX_NEW, MX_OLD), (AR_MOBILE, AR_NO_NINE),
                                                (AR_MOBILE, AR_MOBILE)])
def test_matcher_files_the_other_form_on_the_matter(db: Database, stored: str, sender: str) -> None:
    a = add_matter(db, "25-000001", mobile=stored, intake=date(2025, 1, 1))
    b = add_matter(db, "25-000002", intake=date(2025, 2, 1))
    add_outbound(db, b, stored, T - timedelta(hours=1))
    matcher = InboundMatcher(db)
    with db.session() as s:
        assert matcher.match(s, sender, T, MatchingMode.MOST_RECENT_OUTBOUND)[0].matter_id == b
        [intake] = matcher.match(s, sender, T, MatchingMode.MOST_RECENT_INTAKE)
        assert (intake.matter_id, intake.rule) == (a, LinkRule.MOST_RECENT_INTAKE)
        assert {d.matter_id for d in matcher.match(s, sender, T, MatchingMode.ALL_RELATED)} == {a, b}
        assert [c.matter_id for c in matcher.candidates(s, sender)] == [a]


def test_keys_follow_a_changed_number_and_core_inserts(db: Database) -> None:
    a = add_matter(db, "25-000001", mobile=MX_NEW)
    with db.transaction() as s:
        m = s.get(Matter, a)
        assert m is not None and m.mobile_key == MX_NEW
        m.mobile_e164, m.home_e164 = AR_MOBILE, "+390612345678"
    with db.session() as s:
        m = s.get(Matter, a)
        assert m is not None and (m.mobile_key, m.home_key) == (AR_NO_NINE, "+390612345678")
    with db.engine.begin() as conn:  # as the benchmark and old data: no ORM
        conn.execute(OutboundMessage.__table__.insert(), [
            {"kind": "client", "to_raw": MX_OLD, "to_e164": MX_OLD, "body": "x",
             "state": "queued", "send_at": T, "created_at": T, "attempts": 0}])
    with db.session() as s:
        assert s.scalar(select(OutboundMessage.to_key)) == MX_NEW


def test_the_migration_recomputes_keys_of_existing_rows(db: Database) -> None:
    a = add_matter(db, "25-000001", mobile=AR_MOBILE, home=MX_NEW)
    add_outbound(db, a, MX_OLD, T)
    with db.engine.begin() as conn:  # as rows written before revision 0005
        conn.execute(text("UPDATE matters SET mobile_key = NULL, home_key = NULL"))
        conn.execute(text("UPDATE outbound_messages SET to_key = NULL"))
    from alembic import command

    from desktop_sms.db.migrate import alembic_config

    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
        command.upgrade(config, "head")
    with db.session() as s:
        m = s.get(Matter, a)
        assert m is not None and (m.mobile_key, m.home_key) == (AR_NO_NINE, MX_NEW)
        assert s.scalar(select(OutboundMessage.to_key)) == MX_NEW


def test_a_reply_from_the_old_mexican_form_is_filed_on_the_matter_that_texted(
        db: Database, sandbox_server: SandboxServer, sandbox_clock: ManualClock,
        twilio_provider: TwilioProvider) -> None:
    a = add_matter(db, "25-000001", mobile=MX_NEW, intake=date(2025, 1, 1))
    add_outbound(db, a, MX_NEW, sandbox_clock() - timedelta(hours=2))
    poller = make_poller(db, sandbox_clock, twilio_provider, "most_recent_outbound")
    sandbox_server.inject_inbound(MX_OLD, OFFICE, "Gracias")
    sandbox_server.inject_inbound("ACME", OFFICE, "Your code is 1234")
    report = poller.poll_once()
    assert report.errors == [] and report.filed_matter_ids == [a]
    with db.session() as s:
        msg = s.scalar(select(InboundMessage).where(InboundMessage.from_raw == MX_OLD))
        assert msg is not None and not msg.needs_review and msg.from_e164 == MX_OLD
        assert s.scalar(select(MessageLink.matter_id)) == a
    rows = {r.from_raw: r for r in ReceivedLog(db, region="US").rows(actor=SYSTEM)}
    assert rows["ACME"].from_display == "ACME (from a sender name)" and rows["ACME"].needs_review
    assert rows["ACME"].from_e164 is None


def test_the_send_service_refuses_a_number_with_an_extension(db: Database) -> None:
    from desktop_sms.services.common import ValidationError
    from desktop_sms.services.container import build_services

    services = build_services(db)
    with pytest.raises(ValidationError, match="a text cannot reach an extension"):
        services.outbound.normalize_recipient("(212) 555-0123 ext. 4")
    assert services.outbound.normalize_recipient("(212) 555-0123") == "+12125550123"
