"""What a conversation export holds (docs/conversations.md), read without Qt; the PDF itself is
drawn by ``desktop_sms/ui/export_conversation.py``.

Every text of a case in time order: texts sent from it (any state) and replies filed on it,
including replies whose link was later withdrawn (marked so). Times are aware UTC; the
renderer shows them in the desktop's local zone with the zone's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    Document,
    InboundMedia,
    InboundMessage,
    Matter,
    MessageLink,
    OutboundMessage,
    User,
)
from desktop_sms.domain.phones import format_display
from desktop_sms.services import audit
from desktop_sms.services.common import (
    Actor,
    Clock,
    NotFound,
    PermissionDenied,
    ValidationError,
    utcnow,
)
from desktop_sms.services.conversations import failure_reason
from desktop_sms.services.ingest import classify_media

EXPORT_FOLDER = "Correspondence"


@dataclass(frozen=True)
class ExportImage:
    """An image of a reply, as stored."""

    content_type: str
    data: bytes


@dataclass(frozen=True)
class ExportItem:
    """One text of the exported conversation."""

    direction: str  # "outbound" / "inbound"
    id: int
    at: datetime
    number: str  # the client's number as displayed
    author: str | None  # who sent it (outbound)
    status: str  # outbound state, or "received"
    body: str
    reason: str | None = None  # why it failed, in words
    withdrawn: bool = False  # the reply's link to this case was withdrawn
    images: tuple[ExportImage, ...] = ()
    set_aside: tuple[str, ...] = ()  # attachments not shown: why, one line each


@dataclass
class ConversationExport:
    """A case's conversation between since and until (UTC; None: open-ended)."""

    office_numbers: list[str]
    case_number: str
    client_name: str
    matter_id: int
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    items: list[ExportItem] = field(default_factory=list)


def _in_range(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


def conversation_export(db: Database, region: str, office_numbers: list[str], case_number: str,
                        since: datetime | None = None, until: datetime | None = None,
                        clock: Clock = utcnow) -> ConversationExport:
    """Read a case's conversation for export; raises NotFound for an unknown case number."""
    if since is not None and until is not None and until <= since:
        raise ValidationError("The end of the date range must be after its start.")
    with db.session() as s:
        matter = s.scalar(select(Matter).where(Matter.case_number == case_number.strip()))
        if matter is None:
            raise NotFound(f"There is no case numbered '{case_number}'.")
        out = ConversationExport(office_numbers, matter.case_number, matter.client_name,
                                 matter.id, since, until, clock())
        items: list[ExportItem] = []
        for o, author in s.execute(
                select(OutboundMessage, User.name)
                .outerjoin(User, User.id == OutboundMessage.author_id)
                .where(OutboundMessage.matter_id == matter.id,
                       OutboundMessage.kind != "reminder")):
            at = o.sent_at or o.send_at or o.created_at
            if _in_range(at, since, until):
                items.append(ExportItem(
                    "outbound", o.id, at, format_display(o.to_e164, region), author, o.state,
                    o.body, failure_reason(o.error_code, o.error_message)
                    if o.state in ("failed", "undelivered", "missed") else None))
        for m, withdrawn_at in s.execute(
                select(InboundMessage, MessageLink.withdrawn_at)
                .join(MessageLink, MessageLink.inbound_id == InboundMessage.id)
                .where(MessageLink.matter_id == matter.id)):
            if not _in_range(m.received_at, since, until):
                continue
            images: list[ExportImage] = []
            set_aside: list[str] = []
            for n, media in enumerate(s.scalars(select(InboundMedia).where(
                    InboundMedia.inbound_id == m.id).order_by(InboundMedia.id)), start=1):
                if media.data is None:
                    set_aside.append(f"Attachment {n} set aside: "
                                     + ("over the size limit" if media.rejected
                                        else "not fetched from Twilio"))
                    continue
                ctype, _ext, opaque = classify_media(media.content_type, bytes(media.data))
                if not opaque and ctype.startswith("image/"):
                    images.append(ExportImage(ctype, bytes(media.data)))
                else:
                    set_aside.append(f"Attachment {n} ({ctype}) is in the case's documents")
            number = format_display(m.from_e164, region) if m.from_e164 else m.from_raw
            items.append(ExportItem("inbound", m.id, m.received_at, number, None, "received",
                                    m.body, None, withdrawn_at is not None, tuple(images),
                                    tuple(set_aside)))
    items.sort(key=lambda it: (it.at, 0 if it.direction == "outbound" else 1, it.id))
    out.items = items
    return out


def require_sms_user(db: Database, actor: Actor, what: str) -> None:
    """Raise PermissionDenied unless the actor's stored user row is active with SMS access."""
    with db.session() as s:
        user = s.get(User, actor.user_id) if actor.user_id is not None else None
        if user is None or not user.active or not user.sms_access:
            raise PermissionDenied(f"You need SMS access to {what}.")


def save_export_document(db: Database, actor: Actor, matter_id: int, name: str, data: bytes,
                         clock: Clock = utcnow) -> int:
    """Store an exported PDF as a document of the case (folder Correspondence); audited.
    Returns the document id; needs SMS access on the stored user row."""
    now = clock()
    with db.transaction() as s:
        user = s.get(User, actor.user_id) if actor.user_id is not None else None
        if user is None or not user.active or not user.sms_access:
            raise PermissionDenied("You need SMS access to file a conversation on a case.")
        matter = s.get(Matter, matter_id)
        if matter is None:
            raise NotFound(f"There is no case with id {matter_id}.")
        doc = Document(matter_id=matter_id, folder=EXPORT_FOLDER, name=name,
                       content_type="application/pdf", size=len(data), data=data, opaque=True,
                       created_at=now)
        s.add(doc)
        s.flush()
        audit.record(s, actor, "conversation.export", now, target_type="matter",
                     target_id=matter.case_number, detail=f"document {doc.id}")
        return doc.id
