"""The pure decision rules of inbound matching (docs/product.md F6): facts in, links out, no SQL.

For an inbound message from number N received at time T the caller gathers:

* ``candidates``: matters with N as their mobile or home phone (``Candidate``);
* ``outbound``: outbound messages to N accepted by the provider (they have a provider id),
  ideally already limited to ``sent_at <= T`` (``OutboundFact``).

``decide_links`` applies the mode. The pickers are public so a database-backed service can run
them on small pre-filtered sets, or replace one with an indexed query of the same semantics:

* most recent intake with N: latest ``intake_date`` among candidates that have one; ties go to
  the later-created matter (higher ``created_seq``);
* most recently opened with N: the same with ``date_opened``;
* most recent outbound to N: the matter of the message with the latest ``sent_at`` at or
  before T; ties go to the later message (higher ``message_id``).

Datetimes must follow one convention (timezone-aware UTC throughout the application);
comparing naive with aware values raises ``TypeError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop_sms.domain.states import LinkRule, MatchingMode

__all__ = [
    "FALLBACK_CHAINS",
    "Candidate",
    "LinkDecision",
    "OutboundFact",
    "decide_links",
    "most_recent_intake",
    "most_recent_outbound",
    "most_recently_opened",
]


@dataclass(frozen=True)
class Candidate:
    """A matter that has N as its mobile or home phone, with what the rules look at."""

    matter_id: int
    created_seq: int  # monotonic creation order (e.g. the primary key): breaks date ties
    intake_date: dt.date | None  # None for prescreens
    date_opened: dt.date | None  # stays set after the matter closes
    mobile_is_n: bool
    home_is_n: bool
    stage: str


@dataclass(frozen=True)
class OutboundFact:
    """An outbound message to N that the provider accepted (it has a provider id)."""

    matter_id: int
    message_id: int
    sent_at: dt.datetime


@dataclass(frozen=True)
class LinkDecision:
    """File the inbound message on ``matter_id``, recording ``rule`` as the reason."""

    matter_id: int
    rule: LinkRule


def _has_n(candidate: Candidate) -> bool:
    return candidate.mobile_is_n or candidate.home_is_n


def most_recent_intake(candidates: Sequence[Candidate]) -> int | None:
    """The matter with N (mobile or home) with the latest intake date; ties: later-created."""
    dated = [c for c in candidates if c.intake_date is not None and _has_n(c)]
    if not dated:
        return None
    return max(dated, key=lambda c: (c.intake_date, c.created_seq)).matter_id


def most_recently_opened(candidates: Sequence[Candidate]) -> int | None:
    """The matter with N (mobile or home) with the latest date opened; ties: later-created."""
    opened = [c for c in candidates if c.date_opened is not None and _has_n(c)]
    if not opened:
        return None
    return max(opened, key=lambda c: (c.date_opened, c.created_seq)).matter_id


def most_recent_outbound(outbound: Sequence[OutboundFact], received_at: dt.datetime) -> int | None:
    """The matter of the latest accepted outbound to N sent at or before T; ties: later message."""
    before = [o for o in outbound if o.sent_at <= received_at]
    if not before:
        return None
    return max(before, key=lambda o: (o.sent_at, o.message_id)).matter_id


_Picker = Callable[[Sequence[Candidate], Sequence[OutboundFact], dt.datetime], int | None]


def _intake_step(c: Sequence[Candidate], _o: Sequence[OutboundFact], _t: dt.datetime) -> int | None:
    return most_recent_intake(c)


def _opened_step(c: Sequence[Candidate], _o: Sequence[OutboundFact], _t: dt.datetime) -> int | None:
    return most_recently_opened(c)


def _outbound_step(
    _c: Sequence[Candidate], o: Sequence[OutboundFact], t: dt.datetime
) -> int | None:
    return most_recent_outbound(o, t)


_PICKERS: dict[LinkRule, _Picker] = {
    LinkRule.MOST_RECENT_INTAKE: _intake_step,
    LinkRule.MOST_RECENTLY_OPENED: _opened_step,
    LinkRule.MOST_RECENT_OUTBOUND: _outbound_step,
}

#: The order in which each single-matter mode tries its rules (the docs/product.md F6 table).
FALLBACK_CHAINS: dict[MatchingMode, tuple[LinkRule, ...]] = {
    MatchingMode.MOST_RECENT_INTAKE: (
        LinkRule.MOST_RECENT_INTAKE,
        LinkRule.MOST_RECENT_OUTBOUND,
        LinkRule.MOST_RECENTLY_OPENED,
    ),
    MatchingMode.MOST_RECENTLY_OPENED: (
        LinkRule.MOST_RECENTLY_OPENED,
        LinkRule.MOST_RECENT_OUTBOUND,
        LinkRule.MOST_RECENT_INTAKE,
    ),
    MatchingMode.MOST_RECENT_OUTBOUND: (
        LinkRule.MOST_RECENT_OUTBOUND,
        LinkRule.MOST_RECENTLY_OPENED,
        LinkRule.MOST_RECENT_INTAKE,
    ),
}


def _all_related(
    received_at: dt.datetime, candidates: Sequence[Candidate], outbound: Sequence[OutboundFact]
) -> list[LinkDecision]:
    """Every matter that texted N and every matter whose mobile (not home) is N.

    A matter that is both gets one link, with ``texted_from_case``: the stronger evidence that
    the conversation belongs to it. Links are ordered by matter id, so results are repeatable.
    """
    rules: dict[int, LinkRule] = {}
    for c in candidates:
        if c.mobile_is_n:
            rules[c.matter_id] = LinkRule.MOBILE_ON_CASE
    for o in outbound:
        if o.sent_at <= received_at:
            rules[o.matter_id] = LinkRule.TEXTED_FROM_CASE
    return [LinkDecision(matter_id, rules[matter_id]) for matter_id in sorted(rules)]


def decide_links(
    mode: MatchingMode,
    received_at: dt.datetime,
    candidates: Sequence[Candidate],
    outbound: Sequence[OutboundFact],
) -> list[LinkDecision]:
    """Decide which matters an inbound message from N is filed on; [] means unmatched.

    ``all_related`` may give several links; the other modes give at most one, from the first
    rule of the mode's chain that finds a matter. Outbound sent after ``received_at`` is ignored
    even if the caller passed it.
    """
    mode = MatchingMode(mode)
    if mode is MatchingMode.ALL_RELATED:
        return _all_related(received_at, candidates, outbound)
    for rule in FALLBACK_CHAINS[mode]:
        matter_id = _PICKERS[rule](candidates, outbound, received_at)
        if matter_id is not None:
            return [LinkDecision(matter_id, rule)]
    return []
