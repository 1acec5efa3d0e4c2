"""InboundMatcher over the database (docs/product.md F6): each mode, each fallback step, on both backends.

The helpers at the top (`add_matter`, `add_outbound`, …) are shared by the other inbound tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from desktop_sms.db.database import Database
from desktop_sms.db.models import Assignment, Matter, OutboundMessage, User
from desktop_sms.domain.states import LinkRule, MatchingMode
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.matcher import InboundMatcher
from desktop_sms.services.matters import MatterInput, MatterService

N = "+12125550123"
OTHER = "+13125550188"
T = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
_seq = iter(range(1, 10**9))


def add_matter(db: Database, number: str, *, stage: str = "intake", mobile: str | None = None,
               home: str | None = None, intake: date | None = None,
               opened: date | None = None, client: str = "Client") -> int:
    """A matter written straight to the table (so odd legacy data can be made too)."""
    with db.transaction() as s:
        m = Matter(case_number=number, client_name=client, stage=stage, mobile_raw=mobile,
                   mobile_e164=mobile, home_raw=home, home_e164=home, intake_date=intake,
                   date_opened=opened, consent="yes", created_at=T - timedelta(days=400),
                   updated_at=T - timedelta(days=400))
        s.add(m)
        s.flush()
        return m.id


def add_outbound(db: Database, matter_id: int | None, to: str, sent_at: datetime | None, *,
                 accepted: bool = True, state: str = "delivered", kind: str = "client") -> int:
    """An outbound text; `accepted` gives it a provider id (the provider took it)."""
    with db.transaction() as s:
        o = OutboundMessage(kind=kind, matter_id=matter_id, to_raw=to, to_e164=to,
                            from_number="+12125550100", body="hello", state=state,
                            send_at=sent_at or T - timedelta(days=1),
                            created_at=(sent_at or T) - timedelta(minutes=1),
                            provider_sid=f"SMout{next(_seq):030d}" if accepted else None,
                            sent_at=sent_at if accepted else None,
                            error_code=None if accepted else 21211)
        s.add(o)
        s.flush()
        return o.id


def add_user(db: Database, username: str) -> int:
    """A staff user."""
    with db.transaction() as s:
        u = User(username=username, name=username.title(), role="staff", sms_access=True,
                 active=True, created_at=T)
        s.add(u)
        s.flush()
        return u.id


def assign(db: Database, matter_id: int, user_id: int, kind: str = "primary",
           end: date | None = None) -> None:
    """Put a user on a matter."""
    with db.transaction() as s:
        s.add(Assignment(matter_id=matter_id, user_id=user_id, kind=kind,
                         start_date=date(2024, 1, 1), end_date=end))


@dataclass
class Case:
    """One row of the table: how to build the data and what each mode must file."""

    name: str
    matters: dict[str, dict[str, object]]
    outbound: list[tuple[str | None, dict[str, object]]] = field(default_factory=list)
    expect: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    sender: str | None = N


D = date
UNMATCHED: list[tuple[str, str]] = []
ALL_MODES = [m.value for m in MatchingMode]

CASES = [
    Case("spec example 1",
         {"A": {"intake": D(2024, 1, 5), "opened": D(2024, 2, 1), "mobile": N, "stage": "open"},
          "B": {"intake": D(2025, 3, 1), "home": N},
          "C": {"stage": "prescreen"}},
         [("C", {"sent_at": T - timedelta(days=1)})],
         {"all_related": [("A", "mobile_on_case"), ("C", "texted_from_case")],
          "most_recent_intake": [("B", "most_recent_intake")],
          "most_recently_opened": [("A", "most_recently_opened")],
          "most_recent_outbound": [("C", "most_recent_outbound")]}),
    Case("spec example 2: nobody has N",
         {"X": {"intake": D(2025, 1, 1), "mobile": OTHER, "home": OTHER}},
         [("X", {"to": OTHER, "sent_at": T - timedelta(days=1)})],
         {mode: UNMATCHED for mode in ALL_MODES}),
    Case("home phone counts for single modes, not for all_related",
         {"H": {"intake": D(2025, 5, 1), "opened": D(2025, 6, 1), "home": N, "stage": "open"}},
         [],
         {"all_related": UNMATCHED,
          "most_recent_intake": [("H", "most_recent_intake")],
          "most_recently_opened": [("H", "most_recently_opened")],
          "most_recent_outbound": [("H", "most_recently_opened")]}),
    Case("prescreen with N as mobile: only all_related finds it",
         {"P": {"stage": "prescreen", "mobile": N}},
         [],
         {"all_related": [("P", "mobile_on_case")],
          "most_recent_intake": UNMATCHED, "most_recently_opened": UNMATCHED,
          "most_recent_outbound": UNMATCHED}),
    Case("intake chain step 2 and opened chain step 2: outbound when nobody has dates",
         {"P": {"stage": "prescreen", "mobile": N}, "X": {"intake": D(2025, 1, 1)}},
         [("X", {"sent_at": T - timedelta(hours=3)})],
         {"all_related": [("P", "mobile_on_case"), ("X", "texted_from_case")],
          "most_recent_intake": [("X", "most_recent_outbound")],
          "most_recently_opened": [("X", "most_recent_outbound")],
          "most_recent_outbound": [("X", "most_recent_outbound")]}),
    Case("intake chain step 3: only a legacy opened matter without intake date",
         {"L": {"stage": "closed", "opened": D(2020, 1, 1), "mobile": N}},
         [],
         {"all_related": [("L", "mobile_on_case")],
          "most_recent_intake": [("L", "most_recently_opened")],
          "most_recently_opened": [("L", "most_recently_opened")],
          "most_recent_outbound": [("L", "most_recently_opened")]}),
    Case("opened chain step 3 and outbound chain step 3: intake only",
         {"I": {"intake": D(2025, 9, 1), "mobile": N}},
         [],
         {"all_related": [("I", "mobile_on_case")],
          "most_recent_intake": [("I", "most_recent_intake")],
          "most_recently_opened": [("I", "most_recent_intake")],
          "most_recent_outbound": [("I", "most_recent_intake")]}),
    Case("outbound chain step 2: opened beats a later intake",
         {"O": {"intake": D(2023, 1, 1), "opened": D(2023, 2, 1), "mobile": N, "stage": "open"},
          "I": {"intake": D(2025, 9, 1), "mobile": N}},
         [],
         {"all_related": [("O", "mobile_on_case"), ("I", "mobile_on_case")],
          "most_recent_intake": [("I", "most_recent_intake")],
          "most_recently_opened": [("O", "most_recently_opened")],
          "most_recent_outbound": [("O", "most_recently_opened")]}),
    Case("ties: same intake and opened dates go to the later-created matter",
         {"A": {"intake": D(2025, 1, 1), "opened": D(2025, 2, 1), "mobile": N, "stage": "open"},
          "B": {"intake": D(2025, 1, 1), "opened": D(2025, 2, 1), "home": N, "stage": "open"}},
         [],
         {"most_recent_intake": [("B", "most_recent_intake")],
          "most_recently_opened": [("B", "most_recently_opened")],
          "all_related": [("A", "mobile_on_case")]}),
    Case("ties: same send time goes to the later message",
         {"A": {"intake": D(2025, 1, 1)}, "B": {"intake": D(2025, 1, 2)}},
         [("B", {"sent_at": T - timedelta(hours=1)}), ("A", {"sent_at": T - timedelta(hours=1)})],
         {"most_recent_outbound": [("A", "most_recent_outbound")],
          "all_related": [("A", "texted_from_case"), ("B", "texted_from_case")]}),
    Case("outbound that failed before acceptance does not count",
         {"A": {"intake": D(2025, 1, 1)}, "B": {"intake": D(2024, 1, 1), "mobile": N}},
         [("A", {"sent_at": T - timedelta(hours=1), "accepted": False, "state": "failed"})],
         {"all_related": [("B", "mobile_on_case")],
          "most_recent_outbound": [("B", "most_recent_intake")],
          "most_recent_intake": [("B", "most_recent_intake")]}),
    Case("outbound sent after the reply does not count",
         {"A": {"intake": D(2025, 1, 1)}, "B": {"intake": D(2024, 1, 1)}},
         [("B", {"sent_at": T - timedelta(days=2)}), ("A", {"sent_at": T + timedelta(seconds=1)})],
         {"all_related": [("B", "texted_from_case")],
          "most_recent_outbound": [("B", "most_recent_outbound")],
          "most_recent_intake": [("B", "most_recent_outbound")]}),
    Case("outbound at exactly the reply's time counts",
         {"A": {"intake": D(2025, 1, 1)}},
         [("A", {"sent_at": T})],
         {"most_recent_outbound": [("A", "most_recent_outbound")]}),
    Case("a reminder to a staff phone is not a matter's text",
         {"A": {"intake": D(2025, 1, 1)}},
         [(None, {"sent_at": T - timedelta(hours=1), "kind": "reminder"})],
         {mode: UNMATCHED for mode in ALL_MODES}),
    Case("texted and mobile on the same matter: one link, texted wins",
         {"A": {"intake": D(2025, 1, 1), "mobile": N}},
         [("A", {"sent_at": T - timedelta(hours=1)})],
         {"all_related": [("A", "texted_from_case")]}),
    Case("no sender number (short code): unmatched",
         {"A": {"intake": D(2025, 1, 1), "mobile": N}},
         [], {mode: UNMATCHED for mode in ALL_MODES}, sender=None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matcher_table(db: Database, case: Case) -> None:
    ids: dict[str, int] = {}
    for i, (name, spec) in enumerate(case.matters.items()):
        ids[name] = add_matter(db, f"25-{i:06d}", stage=str(spec.get("stage", "intake")),
                               mobile=spec.get("mobile"), home=spec.get("home"),  # type: ignore[arg-type]
                               intake=spec.get("intake"), opened=spec.get("opened"))  # type: ignore[arg-type]
    for name, spec in case.outbound:
        add_outbound(db, ids[name] if name else None, str(spec.get("to", N)),
                     spec["sent_at"],  # type: ignore[arg-type]
                     accepted=bool(spec.get("accepted", True)),
                     state=str(spec.get("state", "delivered")), kind=str(spec.get("kind", "client")))
    names = {v: k for k, v in ids.items()}
    matcher = InboundMatcher(db)
    for mode, expected in case.expect.items():
        with db.session() as s:
            got = matcher.match(s, case.sender, T, mode)
        assert [(names[d.matter_id], str(d.rule)) for d in got] == expected, mode


def test_number_formats_match_the_same_client(db: Database) -> None:
    matters = MatterService(db, lambda: T)
    a = matters.save(SYSTEM, MatterInput("25-000001", "Ann", mobile="(212) 555-0123",
                                         intake_date=date(2025, 1, 1)))
    b = matters.save(SYSTEM, MatterInput("25-000002", "Bob", home="212.555.0123",
                                         intake_date=date(2025, 2, 1)))
    with db.session() as s:
        all_related = InboundMatcher(db).match(s, "+12125550123", T, MatchingMode.ALL_RELATED)
        intake = InboundMatcher(db).match(s, "+12125550123", T, "most_recent_intake")
    assert [(d.matter_id, d.rule) for d in all_related] == [(a, LinkRule.MOBILE_ON_CASE)]
    assert [(d.matter_id, d.rule) for d in intake] == [(b, LinkRule.MOST_RECENT_INTAKE)]


def test_match_now_uses_its_own_session(db: Database) -> None:
    a = add_matter(db, "25-000009", mobile=N, intake=date(2025, 1, 1))
    assert [d.matter_id for d in InboundMatcher(db).match_now(N, T, "all_related")] == [a]


def test_one_statement_per_mode_agrees_with_the_domain_rules_on_random_data(db: Database) -> None:
    """`match` (one prebuilt statement per mode) gives what `decide_links` gives over the facts
    the matcher fetches separately, on random matters, texts and reply times (with
    microseconds, and replies at exactly a text's send time)."""
    import random

    from desktop_sms.domain.matching import decide_links

    rng = random.Random(20260110)
    numbers = [f"+1212555{n:04d}" for n in range(120, 126)]
    matters: list[int] = []
    for i in range(30):
        intake = D(2020 + rng.randrange(6), 1 + rng.randrange(12), 1) if rng.random() < 0.7 else None
        opened = D(2021 + rng.randrange(5), 1 + rng.randrange(12), 1) if rng.random() < 0.5 else None
        matters.append(add_matter(db, f"26-{i:06d}", mobile=rng.choice([*numbers, None]),
                                  home=rng.choice([*numbers, None, None]), intake=intake,
                                  opened=opened))
    times: list[datetime] = []
    for _ in range(60):
        sent = T - timedelta(hours=rng.randrange(1, 500), microseconds=rng.randrange(10**6))
        times.append(sent)
        add_outbound(db, rng.choice([*matters, None]), rng.choice(numbers), sent,
                     accepted=rng.random() < 0.85, kind="reminder" if rng.random() < 0.05 else "client")
    matcher = InboundMatcher(db)
    checked = 0
    with db.session() as s:
        for when in [T, *rng.sample(times, 15)]:
            for number in numbers:
                candidates = matcher.candidates(s, number)
                for mode in MatchingMode:
                    facts = (matcher.texted_by(s, number, when) if mode is MatchingMode.ALL_RELATED
                             else matcher.latest_outbound(s, number, when))
                    assert matcher.match(s, number, when, mode) == decide_links(
                        mode, when, candidates, facts), (number, when, mode)
                    checked += 1
    assert checked == 16 * len(numbers) * 4


def test_mode_may_be_given_as_text_or_enum_and_unknown_modes_are_refused(db: Database) -> None:
    a = add_matter(db, "25-000010", mobile=N, intake=date(2025, 1, 1))
    with db.session() as s:
        matcher = InboundMatcher(db)
        assert matcher.match(s, N, T, "most_recent_intake") == matcher.match(
            s, N, T, MatchingMode.MOST_RECENT_INTAKE)
        assert [d.matter_id for d in matcher.match(s, N, T, "most_recent_intake")] == [a]
        with pytest.raises(ValueError):
            matcher.match(s, N, T, "nearest")
