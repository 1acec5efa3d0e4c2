"""Conversations on both backends, through the local Twilio-compatible server: read state per
user, needs-response per matter, drafts, the Sent history with reasons, and message search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from desktop_sms.db.models import OutboundMessage
from desktop_sms.providers.base import SmsProvider
from desktop_sms.services.common import PermissionDenied, ValidationError
from desktop_sms.services.conversations import failure_reason, search_terms
from desktop_sms.services.matters import MatterInput
from tests.helpers.outbound_fixtures import OFFICE, Office

CLIENT = "+12125550123"


def reply(office: Office, provider: SmsProvider, body: str, sender: str = CLIENT) -> int:
    """The client texts the office; one real poll files it. Returns the inbound id."""
    office.clock.advance(minutes=1)
    office.server.inject_inbound(sender, OFFICE, body, date_sent=office.clock())
    report = office.services.inbound.poller(lambda: provider).poll_once()
    assert report.errors == []
    rows = office.services.inbound.received.rows(actor=office.admin, limit=1)
    assert rows[0].text == body
    return rows[0].id


def test_a_reply_is_unread_for_each_user_until_that_user_opens_it(
        office: Office, twilio_provider: SmsProvider) -> None:
    conv = office.services.conversations
    sam = office.services.users.add(office.admin, "sam", "Sam Attorney",
                                    password="password1").actor()
    first = reply(office, twilio_provider, "Is my hearing still on Monday?")
    second = reply(office, twilio_provider, "Also, I moved.")
    mid = office.matter_id
    assert conv.unread_by_matter(office.staff.user_id or 0) == {mid: 2}
    assert conv.unread_count(office.staff.user_id or 0) == 2  # Pat is the primary
    assert conv.unread_count(sam.user_id or 0) == 0  # not on the matter
    assert conv.unread_count(sam.user_id or 0, mine_only=False) == 2

    assert conv.mark_read(office.staff, [first, second]) == 2
    assert conv.mark_read(office.staff, [first]) == 0  # already read
    assert conv.unread_by_matter(office.staff.user_id or 0) == {}
    assert conv.unread_by_matter(sam.user_id or 0, [mid]) == {mid: 2}  # still unread for Sam
    assert conv.mark_unread(office.staff, second) is True
    assert conv.unread_by_matter(office.staff.user_id or 0) == {mid: 1}
    assert conv.read_ids(office.staff.user_id or 0, [first, second]) == {first}


def test_needs_response_until_anyone_replies_or_marks_it_done(
        office: Office, twilio_provider: SmsProvider) -> None:
    conv, mid = office.services.conversations, office.matter_id
    assert conv.needs_response() == set()
    reply(office, twilio_provider, "Can you call me?")
    assert conv.needs_response() == {mid}
    assert conv.needs_response_for(office.staff.user_id or 0) == [mid]
    # The office manager answers: it no longer needs a response, for everybody.
    office.clock.advance(minutes=1)
    office.services.outbound.send(office.admin, mid, CLIENT, "Calling you at 3")
    assert conv.needs_response([mid]) == set()
    reply(office, twilio_provider, "Thanks")
    assert conv.needs_response([mid]) == {mid}
    # A text that failed did not answer.
    office.clock.advance(minutes=1)
    failed = office.services.outbound.send(office.admin, mid, "+15005550009", "Answer")
    assert failed in office.services.dispatcher.run_due().failed
    assert conv.needs_response([mid]) == {mid}
    office.clock.advance(minutes=1)
    conv.mark_done(office.staff, mid)
    assert conv.needs_response() == set()


def test_drafts_are_kept_per_user_and_matter(office: Office) -> None:
    conv, mid = office.services.conversations, office.matter_id
    assert conv.draft(office.staff, mid) is None
    conv.save_draft(office.staff, mid, "Dear Maria, about the", "(212) 555-0123")
    conv.save_draft(office.staff, mid, "Dear Maria, about the hearing")
    draft = conv.draft(office.staff, mid)
    assert draft is not None and draft.body == "Dear Maria, about the hearing"
    assert conv.draft(office.admin, mid) is None  # another user's draft is theirs
    conv.save_draft(office.staff, mid, "   ")  # emptied: no draft
    assert conv.draft(office.staff, mid) is None


def test_a_user_without_sms_access_cannot_read_search_or_draft(office: Office) -> None:
    conv = office.services.conversations
    office.services.users.update(office.admin, office.staff.user_id or 0, sms_access=False)
    # The Actor still says sms_access=True: the stored user row decides.
    for call in (lambda: conv.mark_read(office.staff, [1]),
                 lambda: conv.search(office.staff, "hearing"),
                 lambda: conv.save_draft(office.staff, office.matter_id, "hi")):
        with pytest.raises(PermissionDenied):
            call()


def test_sent_history_filters_and_says_why_texts_failed(office: Office) -> None:
    svc, conv = office.services, office.services.conversations
    other = svc.matters.save(office.admin, MatterInput(
        "25-000002", "James Smith", "intake", mobile="(212) 555-0124",
        intake_date=office.clock().date()))
    svc.matters.set_consent(office.admin, other, "yes")
    a = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Your hearing is Monday")
    b = svc.outbound.send(office.admin, other, "(212) 555-0124", "Please call the office")
    c = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Later text",
                          office.clock() + timedelta(hours=2))
    assert sorted(svc.dispatcher.run_due().sent) == [a, b]
    with svc.db.transaction() as s:  # the carrier later reports b undelivered (30005)
        s.execute(update(OutboundMessage).where(OutboundMessage.id == b)
                  .values(state="undelivered", error_code=30005))
    rows = conv.sent(office.admin)
    assert {r.id for r in rows} == {a, b, c}
    assert [r.id for r in conv.sent(office.admin, author_id=office.staff.user_id)] == [c, a]
    assert [r.id for r in conv.sent(office.admin, case_number="25-000002")] == [b]
    assert [r.id for r in conv.sent(office.admin, states=["scheduled"])] == [c]
    assert [r.id for r in conv.sent(office.admin, since=office.clock() + timedelta(hours=1))] \
        == [c]
    assert [r.id for r in conv.sent(office.admin, until=office.clock() + timedelta(hours=1),
                                    case_number="25-000001")] == [a]
    undelivered = next(r for r in rows if r.id == b)
    assert undelivered.reason == "The number does not exist or is no longer in service."
    assert undelivered.author == "Office Manager" and undelivered.case_number == "25-000002"
    assert next(r for r in rows if r.id == a).reason is None


def test_failure_reasons_are_words() -> None:
    assert failure_reason(21610, None) is not None and "STOP" in (failure_reason(21610, None)
                                                                  or "")
    assert failure_reason(None, "Stored sentence.") == "Stored sentence."
    assert "99999" in (failure_reason(99999, None) or "")
    assert failure_reason(None, None) is None


def test_search_finds_text_and_numbers_newest_first(
        office: Office, twilio_provider: SmsProvider) -> None:
    svc, conv = office.services, office.services.conversations
    svc.outbound.send(office.staff, office.matter_id, CLIENT, "Your HEARING is on Monday at 9")
    inbound = reply(office, twilio_provider, "ok see you at the hearing")
    reply(office, twilio_provider, "Unrelated words", sender="+13125550199")  # unmatched
    hits = conv.search(office.staff, "hearing")
    assert [(h.direction, h.snippet) for h in hits] == [
        ("inbound", "ok see you at the hearing"), ("outbound", "Your HEARING is on Monday at 9")]
    assert hits[0].id == inbound and hits[0].matter_id == office.matter_id
    assert hits[0].case_number == "25-000001"
    assert [h.snippet for h in conv.search(office.staff, "hear monday")] == [
        "Your HEARING is on Monday at 9"]  # every word must be there
    by_number = conv.search(office.staff, "(312) 555-0199")
    assert [(h.snippet, h.matter_id) for h in by_number] == [("Unrelated words", None)]
    assert conv.search(office.staff, "zzzqqq") == []
    with pytest.raises(ValidationError):
        conv.search(office.staff, "a b")
    # The index follows new rows (triggers on SQLite, the table itself on PostgreSQL).
    reply(office, twilio_provider, "one more hearing question")
    assert len(conv.search(office.staff, "hearing")) == 3


def test_search_terms() -> None:
    assert search_terms("(212) 555-0123") == ["2125550123"]
    assert search_terms("  Hearing  on Monday ") == ["Hearing", "Monday"]
    with pytest.raises(ValidationError):
        search_terms("ab")
