"""Inbound matching over the database (docs/product.md F6): one prebuilt indexed statement per message.

The rules are `domain.matching`'s; here each mode is ONE SQL statement built once at import
(a `text()` with typed bind parameters, so SQLAlchemy compiles it once per dialect and every
call is a cache hit) — the per-message budget is docs/product.md P's p99 ≤ 2 ms, within 3× of a
hand-written query, and Core statement building, cache-key generation and a second round
trip were most of it.

* Single-matter modes: a ``UNION ALL`` of the mode's fallback chain, each rule an
  ``ORDER BY … LIMIT 1`` on its index tagged with its priority; the row with the lowest
  priority wins (the priority names the rule). Same semantics as the pickers in `domain.matching`: latest intake / date opened
  among matters with N as mobile or home (ties: later-created, i.e. higher id); latest
  accepted outbound to N sent at or before T (ties: later message).
* ``all_related``: the matters that texted N (accepted, at or before T) and the matters whose
  mobile is N, in one ``UNION ALL``; `_all_related`'s rule (texted wins) is applied in Python.

`candidates`, `latest_outbound` and `texted_by` stay for callers that want the raw facts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, Dialect, Integer, String, TextClause, bindparam, column, text
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import UTCDateTime
from desktop_sms.domain.matching import (
    FALLBACK_CHAINS,
    Candidate,
    LinkDecision,
    OutboundFact,
)
from desktop_sms.domain.phones import line_key
from desktop_sms.domain.states import LinkRule, MatchingMode

# N is the sender's same-line key (domain.phones.line_key), compared with the stored keys.
# Outbound client texts to N the provider accepted at or before T (ix_outbound_to_key_sent).
_ACCEPTED = ("o.to_key = :n AND o.sent_at <= :t AND o.provider_sid IS NOT NULL "
             "AND o.matter_id IS NOT NULL AND o.kind != 'reminder'")
_HAS_N = "(m.mobile_key = :n OR m.home_key = :n)"

_RULE_SQL: dict[LinkRule, str] = {
    LinkRule.MOST_RECENT_OUTBOUND:
        f"SELECT o.matter_id AS mid FROM outbound_messages o WHERE {_ACCEPTED} "
        "ORDER BY o.sent_at DESC, o.id DESC LIMIT 1",
    LinkRule.MOST_RECENT_INTAKE:
        f"SELECT m.id AS mid FROM matters m WHERE {_HAS_N} AND m.intake_date IS NOT NULL "
        "ORDER BY m.intake_date DESC, m.id DESC LIMIT 1",
    LinkRule.MOST_RECENTLY_OPENED:
        f"SELECT m.id AS mid FROM matters m WHERE {_HAS_N} AND m.date_opened IS NOT NULL "
        "ORDER BY m.date_opened DESC, m.id DESC LIMIT 1",
}


def _chain_sql(chain: tuple[LinkRule, ...]) -> str:
    # No outer ORDER BY: each rule gives at most one row, so the caller takes the row with the
    # lowest priority itself (an outer sort made SQLite merge the branches through temporary
    # B-trees, twice the time of the rules alone).
    return " UNION ALL ".join(
        f"SELECT {pri} AS pri, r{pri}.mid AS mid FROM ({_RULE_SQL[rule]}) AS r{pri}"
        for pri, rule in enumerate(chain))


def _stmt(sql: str) -> TextClause:
    stmt = text(sql)
    if ":t" in sql:
        stmt = stmt.bindparams(bindparam("t", type_=UTCDateTime()))
    return stmt


class _Prepared:
    """A text() statement compiled once per dialect and run on the session's DBAPI cursor.

    The hot path of the matcher: SQLAlchemy's per-execution work (execution context, result
    metadata, row processing) costs two to three times the indexed query itself, so the
    statement's SQL, its parameter order and the datetime bind processor are taken from
    SQLAlchemy once per dialect and the call is one DBAPI `execute` in the session's own
    connection and transaction. Results are plain integers (no result processing needed).
    """

    def __init__(self, stmt: TextClause) -> None:
        self.stmt = stmt
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def rows(self, session: Session, number: str, received_at: datetime) -> list[Any]:
        """All rows for sender N at time T."""
        conn = session.connection()
        dialect = conn.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled.of(self.stmt, dialect)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.params(number, received_at))
            rows = list(cursor.fetchall())
            return rows
        finally:
            cursor.close()


class _Compiled:
    def __init__(self, sql: str, positions: tuple[str, ...] | None,
                 to_db: Callable[[Any], Any] | None) -> None:
        self.sql = sql
        self.positions = positions  # parameter names in order, for positional paramstyles
        self.to_db = to_db

    @classmethod
    def of(cls, stmt: TextClause, dialect: Dialect) -> _Compiled:
        compiled = stmt.compile(dialect=dialect)
        positions = tuple(compiled.positiontup) if compiled.positiontup else None
        return cls(str(compiled), positions,
                   UTCDateTime().dialect_impl(dialect).bind_processor(dialect))

    def params(self, number: str, received_at: datetime) -> Any:
        when: Any = received_at if self.to_db is None else self.to_db(received_at)
        values = {"n": number, "t": when}
        if self.positions is not None:
            return tuple(values[name] for name in self.positions)
        return values


#: mode → (statement, the rule of each priority)
_SINGLE: dict[MatchingMode, tuple[_Prepared, tuple[LinkRule, ...]]] = {
    mode: (_Prepared(_stmt(_chain_sql(chain))), chain) for mode, chain in FALLBACK_CHAINS.items()
}
# 1 = texted N (the stronger evidence), 0 = N is the matter's mobile.
_ALL_RELATED = _Prepared(_stmt(
    f"SELECT DISTINCT o.matter_id, 1 FROM outbound_messages o WHERE {_ACCEPTED} "
    "UNION ALL SELECT m.id, 0 FROM matters m WHERE m.mobile_key = :n"))
_CANDIDATES = _stmt(  # the facts, for callers that want them
    f"SELECT m.id, m.intake_date, m.date_opened, m.mobile_key, m.home_key, m.stage "
    f"FROM matters m WHERE {_HAS_N}").columns(
    column("id", Integer), column("intake_date", Date), column("date_opened", Date),
    column("mobile_key", String), column("home_key", String), column("stage", String))
_LATEST_OUTBOUND = _stmt(
    f"SELECT o.matter_id, o.id, o.sent_at FROM outbound_messages o WHERE {_ACCEPTED} "
    "ORDER BY o.sent_at DESC, o.id DESC LIMIT 1").columns(
    column("matter_id", Integer), column("id", Integer), column("sent_at", UTCDateTime()))
_TEXTED_BY = _stmt(
    f"SELECT o.matter_id, max(o.id), max(o.sent_at) FROM outbound_messages o WHERE {_ACCEPTED} "
    "GROUP BY o.matter_id")

_MODES: dict[str, MatchingMode] = {str(m): m for m in MatchingMode}
_TEXTED = LinkRule.TEXTED_FROM_CASE
_MOBILE = LinkRule.MOBILE_ON_CASE


class InboundMatcher:
    """Decides which matters an inbound message from N at T is filed on, with the rule of each.

    One prebuilt statement per message (see the module docstring); the decision is the same
    as `domain.matching.decide_links` over the facts (tests/test_matcher.py checks every row
    of docs/product.md F6's table on both backends).
    """

    def __init__(self, db: Database | None = None) -> None:
        self.db = db

    def candidates(self, session: Session, number: str) -> list[Candidate]:
        """Matters with N (or another form of the same line) as their mobile or home phone."""
        number = _key(number)
        rows = session.connection().execute(_CANDIDATES, {"n": number}).all()
        return [Candidate(matter_id=r[0], created_seq=r[0], intake_date=r[1], date_opened=r[2],
                          mobile_is_n=r[3] == number, home_is_n=r[4] == number, stage=r[5])
                for r in rows]

    def latest_outbound(self, session: Session, number: str,
                        received_at: datetime) -> list[OutboundFact]:
        """The one accepted outbound to N with the latest send time at or before T (ties: later id)."""
        number = _key(number)
        row = session.connection().execute(
            _LATEST_OUTBOUND, {"n": number, "t": received_at}).first()
        if row is None or row[0] is None or row[2] is None:
            return []
        return [OutboundFact(matter_id=row[0], message_id=row[1], sent_at=row[2])]

    def texted_by(self, session: Session, number: str,
                  received_at: datetime) -> list[OutboundFact]:
        """One fact per matter that texted N (accepted at or before T)."""
        number = _key(number)
        rows = session.connection().execute(_TEXTED_BY, {"n": number, "t": received_at}).all()
        facts: list[OutboundFact] = []
        for matter_id, message_id, sent_at in rows:
            if matter_id is None or sent_at is None:
                continue
            # max() loses the column type: give it back its UTC zone.
            facts.append(OutboundFact(matter_id=int(matter_id), message_id=int(message_id),
                                      sent_at=_as_utc(sent_at)))
        return facts

    def match(self, session: Session, from_e164: str | None, received_at: datetime,
              mode: MatchingMode | str) -> list[LinkDecision]:
        """The links for a message from N received at T under `mode`; [] means unmatched."""
        key = _key(from_e164) if from_e164 else None
        if not key:
            return []
        from_e164 = key
        found = _MODES.get(mode) if isinstance(mode, str) else None
        mode = found if found is not None else MatchingMode(mode)
        if mode is MatchingMode.ALL_RELATED:
            rules: dict[int, LinkRule] = {}
            for matter_id, texted in _ALL_RELATED.rows(session, from_e164, received_at):
                if texted or matter_id not in rules:
                    rules[matter_id] = _TEXTED if texted else _MOBILE
            return [LinkDecision(matter_id, rules[matter_id]) for matter_id in sorted(rules)]
        prepared, chain = _SINGLE[mode]
        rows = prepared.rows(session, from_e164, received_at)
        if not rows:
            return []
        pri, matter_id = min(rows)  # the first rule of the chain that found a matter
        return [LinkDecision(int(matter_id), chain[int(pri)])]

    def match_now(self, from_e164: str | None, received_at: datetime,
                  mode: MatchingMode | str) -> list[LinkDecision]:
        """`match` in a session of its own (for the CLI and benchmarks)."""
        if self.db is None:
            raise RuntimeError("InboundMatcher was built without a database")
        with self.db.session() as session:
            return self.match(session, from_e164, received_at, mode)


def _key(number: str) -> str:
    """The same-line key of N (domain.phones.line_key); the text itself if it has none."""
    return _line_key(number) or number


@lru_cache(maxsize=4096)
def _line_key(number: str) -> str | None:
    return line_key(number)


def _as_utc(value: datetime | str) -> datetime:
    """An aggregate's datetime as aware UTC (SQLite gives text, PostgreSQL a naive datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
