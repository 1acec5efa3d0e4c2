"""Conversations (docs/conversations.md): who has read which reply, which matters need a
response, drafts, the history of sent texts and message search.

Rules:

* A reply (an inbound message filed on a matter) is *unread* for a user until that user opens
  it (``mark_read``); *Mark as unread* takes the read back. Read state is per user and per
  message, whichever matter shows it.
* A matter's conversation *needs a response* when its newest filed reply is newer than both
  the newest text anyone sent from the matter (not canceled, failed or undelivered) and the
  last *Mark done* on it; it is the same for everybody.
* A draft is kept per user and matter; an empty draft is no draft.

Permissions are checked against the stored user row (active, SMS access), not the Actor alone.
All times are aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, text, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    Assignment,
    ConversationState,
    Draft,
    InboundMessage,
    Matter,
    MessageLink,
    MessageRead,
    OutboundMessage,
    User,
    UTCDateTime,
)
from desktop_sms.domain.phones import format_display
from desktop_sms.providers.errors import CODE_ERRORS
from desktop_sms.services import audit
from desktop_sms.services.alerts import snippet
from desktop_sms.services.common import (
    Actor,
    Clock,
    NotFound,
    PermissionDenied,
    ValidationError,
    local_date,
    utcnow,
)
from desktop_sms.services.settings import SettingsService

MIN_SEARCH_CHARS = 3
# A text in one of these states did not answer the client (needs-response stays).
NOT_AN_ANSWER = ("canceled", "failed", "undelivered")
SEARCH_LIMIT = 50
SENT_STATES = ("sent", "delivered", "undelivered", "failed", "canceled", "missed", "sending",
               "queued", "scheduled")

# Delivery error codes Twilio reports on a message's ErrorCode after it left
# (https://www.twilio.com/docs/api/errors), in words.
DELIVERY_ERRORS: dict[int, str] = {
    30001: "Too many texts were waiting at Twilio; the text was dropped.",
    30002: "The Twilio account was suspended when the text was due.",
    30003: "The phone could not be reached (switched off or out of coverage).",
    30004: "The recipient's phone or carrier blocked the text.",
    30005: "The number does not exist or is no longer in service.",
    30006: "The number is a landline or cannot receive texts.",
    30007: "The carrier filtered the text as unwanted.",
    30008: "The carrier did not say why the text was not delivered.",
    30034: "The office number is not registered for texting (A2P 10DLC).",
}


def failure_reason(code: int | None, message: str | None) -> str | None:
    """Why a text failed, in words: the stored sentence, else the words for Twilio's code."""
    if message:
        return message
    if code is None:
        return None
    if code in DELIVERY_ERRORS:
        return DELIVERY_ERRORS[code]
    if code in CODE_ERRORS:
        return CODE_ERRORS[code][1]
    return f"Twilio reported error {code} (see https://www.twilio.com/docs/api/errors/{code})."


@dataclass(frozen=True)
class DraftText:
    """A user's unsent text to a matter."""

    matter_id: int
    body: str
    to_raw: str | None
    updated_at: datetime


@dataclass(frozen=True)
class SentRow:
    """One row of SMS → Sent: a text sent (or meant to be sent) from a matter."""

    id: int
    matter_id: int | None
    case_number: str | None
    client_name: str | None
    author: str | None
    to_display: str
    body: str
    state: str
    at: datetime  # sent_at, else when it was due
    reason: str | None  # why it failed, in words


@dataclass(frozen=True)
class SearchHit:
    """One message found by search; opens matter_id's SMS log at this message."""

    direction: str  # "inbound" / "outbound"
    id: int  # InboundMessage.id / OutboundMessage.id
    at: datetime
    number: str  # the client's number as displayed
    snippet: str
    matter_id: int | None  # the first matter it is filed on (None: unmatched)
    case_number: str | None
    client_name: str | None


@dataclass(frozen=True)
class ReplyTarget:
    """A matter a reply is filed on, to answer on."""

    matter_id: int
    case_number: str
    client_name: str


@lru_cache(maxsize=4096)
def _display(e164: str, region: str) -> str:
    """format_display, remembered: search shows the same few numbers many times."""
    return format_display(e164, region)


def _digits(text_: str) -> str:
    return re.sub(r"\D", "", text_)


def _phone_like(query: str) -> bool:
    return bool(re.fullmatch(r"[\d\s()+.\-]+", query)) and len(_digits(query)) >= MIN_SEARCH_CHARS


def search_terms(query: str) -> list[str]:
    """The words a query searches for: the digits of a phone number, else each word of three
    or more characters; raises ValidationError when nothing is long enough."""
    query = query.strip()
    if _phone_like(query):
        return [_digits(query)]
    words = [w for w in query.split() if len(w) >= MIN_SEARCH_CHARS]
    if not words:
        raise ValidationError(f"Type at least {MIN_SEARCH_CHARS} letters or digits to search.")
    return words


class ConversationService:
    """Read state, needs-response state, drafts, sent history and search over one database."""

    def __init__(self, db: Database, settings: SettingsService, clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._fts: bool | None = None

    # --- permissions -------------------------------------------------------------------
    @staticmethod
    def _user(s: Session, actor: Actor, what: str) -> User:
        user = s.get(User, actor.user_id) if actor.user_id is not None else None
        if user is None or not user.active:
            raise PermissionDenied(f"Sign in as an active user to {what}.")
        if not user.sms_access:
            raise PermissionDenied(f"You need SMS access to {what}.")
        return user

    # --- read state --------------------------------------------------------------------
    def mark_read(self, actor: Actor, inbound_ids: Iterable[int]) -> int:
        """Mark these replies read for the actor; returns how many were unread."""
        ids = sorted(set(inbound_ids))
        if not ids:
            return 0
        now = self.clock()
        added = 0
        with self.db.transaction() as s:
            user = self._user(s, actor, "read texts")
            have = set(s.scalars(select(MessageRead.inbound_id).where(
                MessageRead.user_id == user.id, MessageRead.inbound_id.in_(ids))))
            for inbound_id in ids:
                if inbound_id in have:
                    continue
                try:
                    with s.begin_nested():  # another desktop of the same user may win
                        s.add(MessageRead(user_id=user.id, inbound_id=inbound_id, read_at=now))
                        s.flush()
                    added += 1
                except IntegrityError:
                    pass
        return added

    def mark_unread(self, actor: Actor, inbound_id: int) -> bool:
        """Take back the actor's read of a reply; False when it was unread already."""
        with self.db.transaction() as s:
            user = self._user(s, actor, "mark texts unread")
            gone = s.execute(delete(MessageRead).where(
                MessageRead.user_id == user.id, MessageRead.inbound_id == inbound_id)).rowcount  # type: ignore[attr-defined]
        return bool(gone)

    def read_ids(self, user_id: int, inbound_ids: Sequence[int]) -> set[int]:
        """Which of these replies the user has read."""
        if not inbound_ids:
            return set()
        with self.db.session() as s:
            return set(s.scalars(select(MessageRead.inbound_id).where(
                MessageRead.user_id == user_id, MessageRead.inbound_id.in_(list(inbound_ids)))))

    def _assigned(self, user_id: int) -> Select[int]:
        today = local_date(self.clock())
        return select(Assignment.matter_id).where(
            Assignment.user_id == user_id,
            or_(Assignment.end_date.is_(None), Assignment.end_date > today))

    def _unread_links(self, user_id: int) -> Select[int, int]:
        read = select(MessageRead.id).where(MessageRead.user_id == user_id,
                                            MessageRead.inbound_id == MessageLink.inbound_id)
        return (select(MessageLink.matter_id, MessageLink.inbound_id)
                .where(MessageLink.withdrawn_at.is_(None), ~read.exists()))

    def unread_by_matter(self, user_id: int,
                         matter_ids: Sequence[int] | None = None) -> dict[int, int]:
        """Unread replies per matter (only matters with some), for these matters or all."""
        stmt = self._unread_links(user_id).with_only_columns(
            MessageLink.matter_id, func.count(MessageLink.inbound_id)).group_by(
            MessageLink.matter_id)
        if matter_ids is not None:
            if not matter_ids:
                return {}
            stmt = stmt.where(MessageLink.matter_id.in_(list(matter_ids)))
        with self.db.session() as s:
            return {int(m): int(n) for m, n in s.execute(stmt)}

    def unread_count(self, user_id: int, *, mine_only: bool = True) -> int:
        """Unread replies filed on the user's current matters (mine_only) or on any matter."""
        stmt = self._unread_links(user_id).with_only_columns(
            func.count(func.distinct(MessageLink.inbound_id)))
        if mine_only:
            stmt = stmt.where(MessageLink.matter_id.in_(self._assigned(user_id)))
        with self.db.session() as s:
            return int(s.scalar(stmt) or 0)

    # --- needs a response --------------------------------------------------------------
    def needs_response(self, matter_ids: Sequence[int] | None = None) -> set[int]:
        """The matters (of these, or all) whose conversation needs a response."""
        last_in = (select(MessageLink.matter_id.label("matter_id"),
                          func.max(InboundMessage.received_at).label("at"))
                   .join(InboundMessage, InboundMessage.id == MessageLink.inbound_id)
                   .where(MessageLink.withdrawn_at.is_(None))
                   .group_by(MessageLink.matter_id))
        if matter_ids is not None:
            if not matter_ids:
                return set()
            last_in = last_in.where(MessageLink.matter_id.in_(list(matter_ids)))
        sub = last_in.subquery()
        later_out = select(OutboundMessage.id).where(
            OutboundMessage.matter_id == sub.c.matter_id, OutboundMessage.kind == "client",
            OutboundMessage.state.not_in(NOT_AN_ANSWER), OutboundMessage.created_at >= sub.c.at)
        done = select(ConversationState.matter_id).where(
            ConversationState.matter_id == sub.c.matter_id, ConversationState.done_at >= sub.c.at)
        stmt = select(sub.c.matter_id).where(~later_out.exists(), ~done.exists())
        with self.db.session() as s:
            return {int(m) for m in s.scalars(stmt)}

    def needs_response_for(self, user_id: int) -> list[int]:
        """The user's current matters that need a response."""
        with self.db.session() as s:
            mine = list(s.scalars(self._assigned(user_id)))
        return sorted(self.needs_response(mine))

    def mark_done(self, actor: Actor, matter_id: int) -> None:
        """The conversation needs no response (until a newer reply); audited."""
        now = self.clock()
        with self.db.transaction() as s:
            self._user(s, actor, "mark conversations done")
            matter = s.get(Matter, matter_id)
            if matter is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            state = s.get(ConversationState, matter_id)
            if state is None:
                s.add(ConversationState(matter_id=matter_id, done_at=now,
                                        done_by_id=actor.user_id))
            else:
                state.done_at, state.done_by_id = now, actor.user_id
            audit.record(s, actor, "conversation.done", now, target_type="matter",
                         target_id=matter.case_number)

    # --- drafts ------------------------------------------------------------------------
    def save_draft(self, actor: Actor, matter_id: int, body: str,
                   to_raw: str | None = None) -> None:
        """Keep the actor's unsent text to a matter (an empty body clears it)."""
        if not body.strip():
            self.clear_draft(actor, matter_id)
            return
        now = self.clock()
        with self.db.transaction() as s:
            user = self._user(s, actor, "keep drafts")
            draft = s.scalar(select(Draft).where(Draft.user_id == user.id,
                                                 Draft.matter_id == matter_id))
            if draft is None:
                s.add(Draft(user_id=user.id, matter_id=matter_id, body=body, to_raw=to_raw,
                            updated_at=now))
            else:
                draft.body, draft.to_raw, draft.updated_at = body, to_raw, now

    def draft(self, actor: Actor, matter_id: int) -> DraftText | None:
        """The actor's draft to a matter, if any."""
        with self.db.session() as s:
            d = s.scalar(select(Draft).where(Draft.user_id == actor.user_id,
                                             Draft.matter_id == matter_id))
            return DraftText(d.matter_id, d.body, d.to_raw, d.updated_at) if d else None

    def clear_draft(self, actor: Actor, matter_id: int) -> None:
        """Forget the actor's draft to a matter (after sending, or when emptied)."""
        with self.db.transaction() as s:
            s.execute(delete(Draft).where(Draft.user_id == actor.user_id,
                                          Draft.matter_id == matter_id))

    # --- replying ----------------------------------------------------------------------
    def reply_targets(self, inbound_id: int) -> list[ReplyTarget]:
        """The matters a reply is filed on (active links), in link order."""
        with self.db.session() as s:
            return [ReplyTarget(m, n, c) for m, n, c in s.execute(
                select(Matter.id, Matter.case_number, Matter.client_name)
                .join(MessageLink, MessageLink.matter_id == Matter.id)
                .where(MessageLink.inbound_id == inbound_id, MessageLink.withdrawn_at.is_(None))
                .order_by(MessageLink.id))]

    def reply_number(self, inbound_id: int) -> str:
        """The number a reply came from, as the compose box takes it."""
        with self.db.session() as s:
            m = s.get(InboundMessage, inbound_id)
            if m is None:
                raise NotFound(f"There is no received message with id {inbound_id}.")
            return m.from_e164 or m.from_raw

    # --- sent history ------------------------------------------------------------------
    def sent(self, actor: Actor, *, author_id: int | None = None, case_number: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             states: Sequence[str] | None = None, limit: int = 1000) -> list[SentRow]:
        """Texts sent from matters, newest first, filtered by author, case, time (``since`` ≤
        at < ``until``, UTC) and state; failures carry their reason in words."""
        region = str(self.settings.get("default_region"))
        author = aliased(User)
        at = type_coerce(func.coalesce(OutboundMessage.sent_at, OutboundMessage.send_at),
                         UTCDateTime())
        stmt = (select(OutboundMessage, Matter.case_number, Matter.client_name, author.name)
                .outerjoin(Matter, Matter.id == OutboundMessage.matter_id)
                .outerjoin(author, author.id == OutboundMessage.author_id)
                .where(OutboundMessage.kind == "client")
                .order_by(at.desc(), OutboundMessage.id.desc()).limit(limit))
        if author_id is not None:
            stmt = stmt.where(OutboundMessage.author_id == author_id)
        if case_number:
            stmt = stmt.where(Matter.case_number == case_number.strip())
        if since is not None:
            stmt = stmt.where(at >= since)
        if until is not None:
            stmt = stmt.where(at < until)
        if states:
            stmt = stmt.where(OutboundMessage.state.in_(list(states)))
        with self.db.session() as s:
            self._user(s, actor, "see sent texts")
            return [SentRow(m.id, m.matter_id, number, client, name,
                            format_display(m.to_e164, region), m.body, m.state,
                            m.sent_at or m.send_at,
                            failure_reason(m.error_code, m.error_message)
                            if m.state in ("failed", "undelivered", "missed") else None)
                    for m, number, client, name in s.execute(stmt)]

    # --- search ------------------------------------------------------------------------
    def _has_fts(self, s: Session) -> bool:
        if self._fts is None:
            self._fts = s.get_bind().dialect.name == "sqlite" and bool(s.scalar(text(
                "SELECT count(*) FROM sqlite_master WHERE name = 'inbound_fts'")))
        return self._fts

    def search(self, actor: Actor, query: str, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        """Messages whose text or number holds every word of the query (case-insensitive,
        anywhere in a word), newest first; raises ValidationError for a too-short query."""
        terms = search_terms(query)
        region = str(self.settings.get("default_region"))
        with self.db.session() as s:
            self._user(s, actor, "search texts")
            inbound_ids, outbound_ids = self._matching_ids(s, terms, limit)
            hits: list[SearchHit] = []
            if inbound_ids:
                # Columns only (no ORM objects): this is the hot path of the Search tab.
                links: dict[int, tuple[int, str, str]] = {}
                for inbound_id, mid, number, client in s.execute(
                        select(MessageLink.inbound_id, Matter.id, Matter.case_number,
                               Matter.client_name)
                        .join(Matter, Matter.id == MessageLink.matter_id)
                        .where(MessageLink.inbound_id.in_(inbound_ids),
                               MessageLink.withdrawn_at.is_(None))
                        .order_by(MessageLink.id.desc())):
                    links[inbound_id] = (mid, number, client)  # the first link wins
                for mid_, at, from_e164, from_raw, body in s.execute(
                        select(InboundMessage.id, InboundMessage.received_at,
                               InboundMessage.from_e164, InboundMessage.from_raw,
                               InboundMessage.body)
                        .where(InboundMessage.id.in_(inbound_ids))):
                    link = links.get(mid_)
                    hits.append(SearchHit(
                        "inbound", mid_, at, _display(from_e164, region) if from_e164
                        else from_raw, snippet(body), link[0] if link else None,
                        link[1] if link else None, link[2] if link else None))
            if outbound_ids:
                for oid, sent_at, send_at, to_e164, body, matter_id, number, client in s.execute(
                        select(OutboundMessage.id, OutboundMessage.sent_at,
                               OutboundMessage.send_at, OutboundMessage.to_e164,
                               OutboundMessage.body, OutboundMessage.matter_id,
                               Matter.case_number, Matter.client_name)
                        .outerjoin(Matter, Matter.id == OutboundMessage.matter_id)
                        .where(OutboundMessage.id.in_(outbound_ids),
                               OutboundMessage.kind == "client")):
                    hits.append(SearchHit("outbound", oid, sent_at or send_at,
                                          _display(to_e164, region), snippet(body), matter_id,
                                          number, client))
        hits.sort(key=lambda h: (h.at, h.id), reverse=True)
        return hits[:limit]

    def _matching_ids(self, s: Session, terms: list[str],
                      limit: int) -> tuple[list[int], list[int]]:
        if self._has_fts(s):
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
            inbound = [int(r) for r in s.execute(text(
                "SELECT rowid FROM inbound_fts WHERE inbound_fts MATCH :q "
                "ORDER BY rowid DESC LIMIT :n"), {"q": match, "n": limit}).scalars()]
            # Staff reminders (about 1% of texts) are dropped when the rows are read: joining
            # here would make SQLite sort every match instead of walking the index newest first.
            outbound = [int(r) for r in s.execute(text(
                "SELECT rowid FROM outbound_fts WHERE outbound_fts MATCH :q "
                "ORDER BY rowid DESC LIMIT :n"), {"q": match, "n": limit + 10}).scalars()]
            return inbound, outbound

        def like(column: QueryableAttribute[Any], term: str) -> ColumnElement[bool]:
            pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            return column.ilike(pattern, escape="\\")

        in_cond = and_(*(or_(like(InboundMessage.body, t), like(InboundMessage.from_e164, t))
                         for t in terms))
        out_cond = and_(*(or_(like(OutboundMessage.body, t), like(OutboundMessage.to_e164, t))
                          for t in terms))
        inbound = list(s.scalars(select(InboundMessage.id).where(in_cond)
                                 .order_by(InboundMessage.id.desc()).limit(limit)))
        outbound = list(s.scalars(select(OutboundMessage.id)
                                  .where(out_cond, OutboundMessage.kind == "client")
                                  .order_by(OutboundMessage.id.desc()).limit(limit)))
        return inbound, outbound
