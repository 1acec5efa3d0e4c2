"""Read models for SMS → Received (docs/product.md F8), a case's SMS log (F9) and a note's attachments (F7)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, defer

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    CaseNote,
    Document,
    InboundFilingFailure,
    InboundMedia,
    InboundMessage,
    Matter,
    MessageLink,
    OutboundMessage,
    User,
)
from desktop_sms.domain.phones import format_display, sender_kind, try_normalize
from desktop_sms.domain.states import LinkRule, shown_state
from desktop_sms.services import access
from desktop_sms.services.common import Actor, NotFound
from desktop_sms.services.ingest import classify_media
from desktop_sms.services.settings import SettingsService


@dataclass(frozen=True)
class LinkInfo:
    """One active link of an inbound message."""

    link_id: int
    matter_id: int
    case_number: str
    rule: str
    rule_label: str  # "mobile phone on case", "manual (Ann Smith)" …
    created_at: datetime


@dataclass(frozen=True)
class ReceivedRow:
    """One row of the Received Log."""

    id: int
    received_at: datetime
    from_raw: str
    from_e164: str | None
    from_display: str
    to_number: str
    text: str
    media_count: int
    media_pending: bool
    needs_review: bool
    links: tuple[LinkInfo, ...]
    truncated: bool = False  # the text was cut to the storage cap
    media_missing: int = 0  # attachments given up after the media-pending limit

    @property
    def media_note(self) -> str:
        """'photo could not be downloaded' (or 'N photos …') when attachments were given up
        (docs/media_and_clocks.md); '' otherwise."""
        if self.media_missing <= 0:
            return ""
        if self.media_missing == 1:
            return "photo could not be downloaded"
        return f"{self.media_missing} photos could not be downloaded"

    @property
    def case_numbers(self) -> list[str]:
        """The case numbers it is filed on, in link order."""
        return [lk.case_number for lk in self.links]

    @property
    def rules(self) -> list[str]:
        """The rule of each link, same order as case_numbers."""
        return [lk.rule for lk in self.links]


@dataclass(frozen=True)
class ConversationItem:
    """One bubble of a case's SMS log: a text sent from the matter or a reply filed on it."""

    direction: str  # "outbound" / "inbound"
    id: int  # OutboundMessage.id or InboundMessage.id
    at: datetime
    body: str
    status: str  # outbound state, or "received"
    number: str  # the other party as displayed (to for outbound, from for inbound)
    media_ids: tuple[int, ...] = ()  # InboundMedia ids holding bytes
    document_ids: tuple[int, ...] = ()  # this matter's documents of those media
    error_message: str | None = None
    author: str | None = None
    truncated: bool = False  # a reply whose text was cut to the storage cap


@dataclass(frozen=True)
class SetAsideRow:
    """A reply that could not be filed and was set aside (docs/set_aside.md)."""

    id: int  # InboundFilingFailure.id, for Try again
    provider_sid: str
    received_at: datetime | None  # as the provider dated it, UTC
    from_display: str
    to_number: str
    text: str  # as kept: made storable, capped
    reason: str  # one sentence: why the last attempt failed
    attempts: int
    set_aside_at: datetime


@dataclass(frozen=True)
class DocumentInfo:
    """A document as a note or the Documents tab lists it (bytes via `document_data`)."""

    id: int
    matter_id: int
    folder: str
    name: str
    content_type: str
    size: int
    opaque: bool
    created_at: datetime
    note_id: int | None

    @property
    def is_image(self) -> bool:
        """True for a checked image that may be shown as a thumbnail."""
        return not self.opaque and self.content_type.startswith("image/")


def _rule_label(rule: str, user_name: str | None) -> str:
    try:
        label = LinkRule(rule).label
    except ValueError:
        label = rule
    return f"{label} ({user_name})" if rule == LinkRule.MANUAL and user_name else label


# The Received Log's columns the query can sort by (the view's header names).
SORTABLE_COLUMNS: dict[str, Any] = {
    "Received": InboundMessage.received_at,
    "From": InboundMessage.from_raw,
    "Text": InboundMessage.body,
    "Media": InboundMessage.num_media,
    "Review": InboundMessage.needs_review,
}


def received_search_filter(search: str) -> list[ColumnElement[bool]]:
    """One SQL condition per word of search: the word is in the message's text, in its
    sender's number (as received or in +E.164, digits compared without punctuation), or in
    the number of a case it is filed on (active links only). Case-insensitive; [] for blank."""
    conditions: list[ColumnElement[bool]] = []
    for word in search.split():
        like = f"%{word.lower()}%"
        options: list[ColumnElement[bool]] = [
            func.lower(InboundMessage.body).like(like),
            func.lower(InboundMessage.from_raw).like(like),
            InboundMessage.id.in_(
                select(MessageLink.inbound_id)
                .join(Matter, Matter.id == MessageLink.matter_id)
                .where(MessageLink.withdrawn_at.is_(None),
                       func.lower(Matter.case_number).like(like))),
        ]
        digits = "".join(ch for ch in word if ch.isdigit())
        if len(digits) >= 3:
            options.append(InboundMessage.from_e164.like(f"%{digits}%"))
        conditions.append(or_(*options))
    return conditions


class ReceivedLog:
    """Queries behind the Received Log, the case SMS log and notes' attachments."""

    def __init__(self, db: Database, settings: SettingsService | None = None,
                 region: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self._region = region

    @property
    def region(self) -> str:
        """The office's default region, for displaying numbers."""
        if self._region is not None:
            return self._region
        return str(self.settings.get("default_region")) if self.settings else "US"

    # --- Received Log --------------------------------------------------------------------
    def rows(self, *, actor: Actor, needs_review_only: bool = False, offset: int = 0,
             limit: int = 500, search: str = "", sort_column: str = "Received",
             descending: bool = True) -> list[ReceivedRow]:
        """Inbound messages with their active links, newest first unless sorted otherwise.

        search: words each found in the text, the sender's number or a linked case number
        (case-insensitive; see received_search_filter). sort_column: one of SORTABLE_COLUMNS
        (an unknown name sorts by Received). Raises PermissionDenied unless the actor has SMS
        access now (services/access.py).
        """
        access.require_sms(self.db, actor, "read the Received Log")
        key = SORTABLE_COLUMNS.get(sort_column, InboundMessage.received_at)
        stmt = select(InboundMessage).order_by(
            key.desc() if descending else key.asc(),
            InboundMessage.id.desc() if descending else InboundMessage.id.asc())
        if needs_review_only:
            stmt = stmt.where(InboundMessage.needs_review.is_(True))
        for condition in received_search_filter(search):
            stmt = stmt.where(condition)
        region = self.region  # before the session: settings open their own
        with self.db.session() as s:
            messages = list(s.scalars(stmt.offset(offset).limit(limit)))
            links = self._links(s, [m.id for m in messages])
            return [self._row(m, links.get(m.id, ()), region) for m in messages]

    def row(self, inbound_id: int, *, actor: Actor) -> ReceivedRow:
        """One inbound message as the log shows it (PermissionDenied without SMS access)."""
        access.require_sms(self.db, actor, "read the Received Log")
        region = self.region
        with self.db.session() as s:
            m = s.get(InboundMessage, inbound_id)
            if m is None:
                raise NotFound(f"There is no received message with id {inbound_id}.")
            return self._row(m, self._links(s, [m.id]).get(m.id, ()), region)

    def count(self, *, needs_review_only: bool = False, search: str = "") -> int:
        """How many inbound messages (or how many need review), matching search if given."""
        stmt = select(func.count(InboundMessage.id))
        if needs_review_only:
            stmt = stmt.where(InboundMessage.needs_review.is_(True))
        for condition in received_search_filter(search):
            stmt = stmt.where(condition)
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)

    def needs_review_count(self) -> int:
        """The count shown on the Received tab."""
        return self.count(needs_review_only=True)

    @staticmethod
    def _links(s: Session, inbound_ids: list[int]) -> dict[int, tuple[LinkInfo, ...]]:
        if not inbound_ids:
            return {}
        out: dict[int, list[LinkInfo]] = defaultdict(list)
        for link, number, user_name in s.execute(
                select(MessageLink, Matter.case_number, User.name)
                .join(Matter, Matter.id == MessageLink.matter_id)
                .outerjoin(User, User.id == MessageLink.user_id)
                .where(MessageLink.inbound_id.in_(inbound_ids), MessageLink.withdrawn_at.is_(None))
                .order_by(MessageLink.id)):
            out[link.inbound_id].append(LinkInfo(link.id, link.matter_id, number, link.rule,
                                                 _rule_label(link.rule, user_name),
                                                 link.created_at))
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def _row(m: InboundMessage, links: tuple[LinkInfo, ...], region: str) -> ReceivedRow:
        display = sender_display(m.from_e164, m.from_raw, region)
        return ReceivedRow(m.id, m.received_at, m.from_raw, m.from_e164, display, m.to_number,
                           m.body, m.num_media, m.media_pending, m.needs_review, links,
                           bool(m.body_truncated), int(m.media_missing or 0))

    # --- set aside -----------------------------------------------------------------------
    def set_aside_rows(self, limit: int = 500) -> list[SetAsideRow]:
        """Replies that could not be filed after a few tries, newest set aside first."""
        region = self.region
        with self.db.session() as s:
            rows = list(s.scalars(select(InboundFilingFailure)
                                  .where(InboundFilingFailure.set_aside_at.is_not(None))
                                  .order_by(InboundFilingFailure.set_aside_at.desc(),
                                            InboundFilingFailure.id.desc()).limit(limit)))
            out: list[SetAsideRow] = []
            for f in rows:
                e164 = try_normalize(f.from_raw, region) if f.from_raw else None
                display = format_display(e164, region) if e164 else f.from_raw
                assert f.set_aside_at is not None
                out.append(SetAsideRow(f.id, f.provider_sid, f.received_at, display,
                                       f.to_number, f.body, f.reason, f.attempts, f.set_aside_at))
            return out

    # --- SMS log on a case ---------------------------------------------------------------
    def conversation(self, matter_id: int) -> list[ConversationItem]:
        """Texts sent from the matter and replies filed on it, oldest first."""
        region = self.region
        items: list[ConversationItem] = []
        with self.db.session() as s:
            for o, author in s.execute(
                    select(OutboundMessage, User.name)
                    .outerjoin(User, User.id == OutboundMessage.author_id)
                    .where(OutboundMessage.matter_id == matter_id,
                           OutboundMessage.kind != "reminder")):
                items.append(ConversationItem(
                    "outbound", o.id, o.sent_at or o.send_at or o.created_at, o.body,
                    shown_state(o.state, o.verify_since is not None),
                    format_display(o.to_e164, region), error_message=o.error_message,
                    author=author))
            inbound = list(s.scalars(
                select(InboundMessage).join(MessageLink, MessageLink.inbound_id == InboundMessage.id)
                .where(MessageLink.matter_id == matter_id, MessageLink.withdrawn_at.is_(None))))
            ids = [m.id for m in inbound]
            media: dict[int, list[int]] = defaultdict(list)
            docs: dict[int, list[int]] = defaultdict(list)
            if ids:
                for media_id, inbound_id in s.execute(
                        select(InboundMedia.id, InboundMedia.inbound_id)
                        .where(InboundMedia.inbound_id.in_(ids), InboundMedia.data.is_not(None))
                        .order_by(InboundMedia.id)):
                    media[inbound_id].append(media_id)
                for doc_id, inbound_id in s.execute(
                        select(Document.id, InboundMedia.inbound_id)
                        .join(InboundMedia, InboundMedia.id == Document.inbound_media_id)
                        .where(Document.matter_id == matter_id, InboundMedia.inbound_id.in_(ids))
                        .order_by(Document.id)):
                    docs[inbound_id].append(doc_id)
            for m in inbound:
                display = sender_display(m.from_e164, m.from_raw, region)
                items.append(ConversationItem("inbound", m.id, m.received_at, m.body, "received",
                                              display, tuple(media[m.id]), tuple(docs[m.id]),
                                              truncated=bool(m.body_truncated)))
        items.sort(key=lambda it: (it.at, 0 if it.direction == "outbound" else 1, it.id))
        return items

    # --- notes and documents -------------------------------------------------------------
    def note_documents(self, note_id: int) -> list[DocumentInfo]:
        """The documents attached to a note (the photos of a reply)."""
        with self.db.session() as s:
            return [self._doc(d) for d in s.scalars(
                select(Document).options(defer(Document.data))
                .where(Document.note_id == note_id).order_by(Document.id))]

    def matter_documents(self, matter_id: int, folder: str | None = None) -> list[DocumentInfo]:
        """A matter's documents (optionally one folder), newest first."""
        stmt = select(Document).options(defer(Document.data)).where(Document.matter_id == matter_id)
        if folder is not None:
            stmt = stmt.where(Document.folder == folder)
        with self.db.session() as s:
            return [self._doc(d) for d in s.scalars(
                stmt.order_by(Document.created_at.desc(), Document.id.desc()))]

    def notes_for_inbound(self, inbound_id: int) -> list[tuple[int, int, bool]]:
        """(note id, matter id, withdrawn) of every note written for a message."""
        with self.db.session() as s:
            return [(n, m, bool(w)) for n, m, w in s.execute(
                select(CaseNote.id, CaseNote.matter_id, CaseNote.withdrawn)
                .join(MessageLink, MessageLink.id == CaseNote.link_id)
                .where(MessageLink.inbound_id == inbound_id).order_by(CaseNote.id))]

    def document_data(self, document_id: int) -> bytes:
        """A document's bytes."""
        with self.db.session() as s:
            data = s.scalar(select(Document.data).where(Document.id == document_id))
            if data is None:
                raise NotFound(f"There is no document with id {document_id}.")
            return bytes(data)

    def media_data(self, media_id: int) -> tuple[str, bytes, bool] | None:
        """(checked content type, bytes, opaque) of a received medium; None while not fetched."""
        with self.db.session() as s:
            row = s.execute(select(InboundMedia.content_type, InboundMedia.data)
                            .where(InboundMedia.id == media_id)).first()
            if row is None or row[1] is None:
                return None
            ctype, _ext, opaque = classify_media(str(row[0]), bytes(row[1]))
            return ctype, bytes(row[1]), opaque

    @staticmethod
    def _doc(d: Document) -> DocumentInfo:
        return DocumentInfo(d.id, d.matter_id, d.folder, d.name, d.content_type, d.size, d.opaque,
                            d.created_at, d.note_id)


#: How the Received Log names senders that are not phone numbers.
SENDER_KIND_LABELS = {"short_code": "from a short code", "sender_name": "from a sender name"}


def sender_display(from_e164: str | None, from_raw: str, region: str) -> str:
    """The sender as people read it: a formatted number, or "22395 (from a short code)" /
    "ACME (from a sender name)" for senders that are not phone numbers (never parsed)."""
    if from_e164:
        return format_display(from_e164, region)
    label = SENDER_KIND_LABELS.get(sender_kind(from_raw))
    return f"{from_raw} ({label})" if label else from_raw
