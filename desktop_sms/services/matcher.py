"""Inbound matching over the database (SPEC F6): small indexed queries feed the domain rules."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter, OutboundMessage
from desktop_sms.domain.matching import Candidate, LinkDecision, OutboundFact, decide_links
from desktop_sms.domain.states import MatchingMode

# Core tables rather than ORM entities: the matcher runs per message and the ORM's per-query
# overhead would be most of its time budget (SPEC §5: p99 ≤ 2 ms).
_MATTERS = Matter.__table__.c
_OUTBOUND = OutboundMessage.__table__.c


def _accepted_to(number: str, received_at: datetime) -> list[ColumnElement[bool]]:
    """Conditions for outbound client texts to N the provider accepted at or before T."""
    return [
        _OUTBOUND.to_e164 == number,
        _OUTBOUND.sent_at <= received_at,
        _OUTBOUND.provider_sid.is_not(None),
        _OUTBOUND.matter_id.is_not(None),
        _OUTBOUND.kind != "reminder",
    ]


class InboundMatcher:
    """Decides which matters an inbound message from N at T is filed on, with the rule of each.

    At most two indexed queries: matters by mobile/home E.164 (ix on each column) and accepted
    outbound to N (ix_outbound_to_sent). The decision itself is `domain.matching.decide_links`.
    """

    def __init__(self, db: Database | None = None) -> None:
        self.db = db

    def candidates(self, session: Session, number: str) -> list[Candidate]:
        """Matters with N as their mobile or home phone."""
        rows = session.connection().execute(
            select(_MATTERS.id, _MATTERS.intake_date, _MATTERS.date_opened, _MATTERS.mobile_e164,
                   _MATTERS.home_e164, _MATTERS.stage)
            .where(or_(_MATTERS.mobile_e164 == number, _MATTERS.home_e164 == number))
        ).all()
        return [Candidate(matter_id=r[0], created_seq=r[0], intake_date=r[1], date_opened=r[2],
                          mobile_is_n=r[3] == number, home_is_n=r[4] == number, stage=r[5])
                for r in rows]

    def latest_outbound(self, session: Session, number: str,
                        received_at: datetime) -> list[OutboundFact]:
        """The one accepted outbound to N with the latest send time at or before T (ties: later id)."""
        row = session.connection().execute(
            select(_OUTBOUND.matter_id, _OUTBOUND.id, _OUTBOUND.sent_at)
            .where(*_accepted_to(number, received_at))
            .order_by(_OUTBOUND.sent_at.desc(), _OUTBOUND.id.desc()).limit(1)
        ).first()
        if row is None or row[0] is None or row[2] is None:
            return []
        return [OutboundFact(matter_id=row[0], message_id=row[1], sent_at=row[2])]

    def texted_by(self, session: Session, number: str,
                  received_at: datetime) -> list[OutboundFact]:
        """One fact per matter that texted N (accepted at or before T)."""
        rows = session.connection().execute(
            select(_OUTBOUND.matter_id, func.max(_OUTBOUND.id), func.max(_OUTBOUND.sent_at))
            .where(*_accepted_to(number, received_at))
            .group_by(_OUTBOUND.matter_id)
        ).all()
        facts: list[OutboundFact] = []
        for matter_id, message_id, sent_at in rows:
            if matter_id is None or sent_at is None:
                continue
            # func.max loses the column type on some backends: give it back its UTC zone.
            facts.append(OutboundFact(matter_id=int(matter_id), message_id=int(message_id),
                                      sent_at=_as_utc(sent_at)))
        return facts

    def match(self, session: Session, from_e164: str | None, received_at: datetime,
              mode: MatchingMode | str) -> list[LinkDecision]:
        """The links for a message from N received at T under `mode`; [] means unmatched."""
        if not from_e164:
            return []
        mode = MatchingMode(mode)
        if mode is MatchingMode.ALL_RELATED:
            outbound = self.texted_by(session, from_e164, received_at)
        else:
            outbound = self.latest_outbound(session, from_e164, received_at)
        if mode is MatchingMode.MOST_RECENT_OUTBOUND and outbound:
            return decide_links(mode, received_at, [], outbound)  # first rule decides: no 2nd query
        return decide_links(mode, received_at, self.candidates(session, from_e164), outbound)

    def match_now(self, from_e164: str | None, received_at: datetime,
                  mode: MatchingMode | str) -> list[LinkDecision]:
        """`match` in a session of its own (for the CLI and benchmarks)."""
        if self.db is None:
            raise RuntimeError("InboundMatcher was built without a database")
        with self.db.session() as session:
            return self.match(session, from_e164, received_at, mode)


def _as_utc(value: datetime | str) -> datetime:
    """An aggregate's datetime as aware UTC (SQLite gives text, PostgreSQL a naive datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
