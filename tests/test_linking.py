"""Link to case… and Unlink from the Received Log (docs/product.md F8), on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import Alert, AuditEntry, CaseNote, Document, InboundMessage
from desktop_sms.providers.base import MediaItem, ProviderMessage
from desktop_sms.providers.sandbox_server import ManualClock
from desktop_sms.services.common import SYSTEM, Actor, PermissionDenied, ValidationError
from desktop_sms.services.ingest import InboundIngest
from desktop_sms.services.linking import LinkingService
from desktop_sms.services.matters import MatterService
from desktop_sms.services.received import ReceivedLog
from tests.test_ingest import JPEG, OFFICE, STRANGER, count, make_settings
from tests.test_matcher import add_matter, add_user

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class PhotoProvider:
    """A provider that has one JPEG for every message."""

    def list_media(self, message_sid: str) -> list[MediaItem]:
        return [MediaItem(sid="ME" + message_sid[2:], message_sid=message_sid,
                          content_type="image/jpeg")]

    def download_media(self, media: MediaItem, max_bytes: int) -> bytes:
        return JPEG


def unmatched_photo(db: Database, clock: ManualClock) -> int:
    """An inbound MMS from an unknown number, filed (needs review); returns its id."""
    ingest = InboundIngest(db, make_settings(db, clock), clock)
    message = ProviderMessage(sid="SM0001", direction="inbound", from_=STRANGER, to=OFFICE,
                              body="photo of the notice", status="received", date_sent=WHEN,
                              num_media=1)
    result = ingest.ingest(message, PhotoProvider())  # type: ignore[arg-type]
    assert result.needs_review and result.inbound_id is not None
    return result.inbound_id


def service(db: Database, clock: ManualClock) -> LinkingService:
    return LinkingService(db, make_settings(db, clock), MatterService(db, clock), clock)


def test_manual_link_and_unlink(db: Database, sandbox_clock: ManualClock) -> None:
    inbound_id = unmatched_photo(db, sandbox_clock)
    a = add_matter(db, "25-000001", client="Ann Smith", intake=date(2025, 1, 1))
    b = add_matter(db, "25-000002", client="Bob Jones", intake=date(2025, 1, 2))
    uid = add_user(db, "paula")
    actor = Actor(uid, "paula")
    linking = service(db, sandbox_clock)
    assert [r.id for r in linking.search("Ann")] == [a]

    link_ids = linking.link(actor, inbound_id, [a, b, a])

    assert len(link_ids) == 2
    log = ReceivedLog(db, region="US")
    row = log.row(inbound_id, actor=SYSTEM)
    assert not row.needs_review and row.rules == ["manual", "manual"]
    assert row.case_numbers == ["25-000001", "25-000002"]
    assert row.links[0].rule_label == "manual (Paula)"
    with db.session() as s:
        notes = list(s.scalars(select(CaseNote).order_by(CaseNote.id)))
        assert [(n.matter_id, n.author_id, n.subject) for n in notes] == [
            (a, uid, "SMS received from (312) 555-0177"), (b, uid, "SMS received from (312) 555-0177")]
        docs = list(s.scalars(select(Document).order_by(Document.id)))
        assert [(d.matter_id, d.note_id, d.name) for d in docs] == [
            (a, notes[0].id, "sms-20260302-1_case-25-000001_from-0177.jpg"),
            (b, notes[1].id, "sms-20260302-1_case-25-000002_from-0177.jpg")]
        assert sorted(al.matter_id for al in s.scalars(select(Alert))) == [a, b]
    assert linking.link(actor, inbound_id, [a]) == []  # already filed there

    linking.unlink(actor, link_ids[0])
    row = log.row(inbound_id, actor=SYSTEM)
    assert row.case_numbers == ["25-000002"] and not row.needs_review
    with db.session() as s:
        assert [n.withdrawn for n in s.scalars(select(CaseNote).order_by(CaseNote.id))] == [True, False]
        assert s.scalar(select(Alert.dismissed_at).where(Alert.matter_id == a)) is not None
    with pytest.raises(ValidationError):
        linking.unlink(actor, link_ids[0])

    linking.unlink(actor, link_ids[1])
    assert log.row(inbound_id, actor=SYSTEM).needs_review and log.needs_review_count() == 1

    # linking again brings the link back with a new note; the photo is not copied twice
    assert linking.link(actor, inbound_id, [a]) == [link_ids[0]]
    assert count(db, CaseNote, CaseNote.matter_id == a) == 2
    assert count(db, Document, Document.matter_id == a) == 1
    assert not log.row(inbound_id, actor=SYSTEM).needs_review
    with db.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)
                                 .where(AuditEntry.action.like("inbound.%"))))
        details = " ".join(s.scalars(select(AuditEntry.detail)
                                     .where(AuditEntry.action.like("inbound.%"))))
    assert actions == ["inbound.link", "inbound.link", "inbound.unlink", "inbound.unlink",
                       "inbound.link"]
    assert "notice" not in details and "555" not in details  # no bodies, no numbers


def test_linking_needs_sms_access(db: Database, sandbox_clock: ManualClock) -> None:
    inbound_id = unmatched_photo(db, sandbox_clock)
    a = add_matter(db, "25-000001", intake=date(2025, 1, 1))
    linking = service(db, sandbox_clock)
    with pytest.raises(PermissionDenied):
        linking.link(Actor(None, "nosms", sms_access=False), inbound_id, [a])
    assert count(db, CaseNote) == 0
    with db.session() as s:
        assert s.scalar(select(InboundMessage.needs_review)) is True
    with pytest.raises(ValidationError):
        linking.link(Actor(None, "x"), inbound_id, [])
