"""The inbound matching rules of docs/product.md F6, as pure decisions over facts about number N."""

from __future__ import annotations

import datetime as dt

import pytest

from desktop_sms.domain.matching import (
    FALLBACK_CHAINS,
    Candidate,
    LinkDecision,
    OutboundFact,
    decide_links,
    most_recent_intake,
    most_recent_outbound,
    most_recently_opened,
)
from desktop_sms.domain.states import (
    CANCELABLE_STATES,
    CLAIMABLE_STATES,
    DEFAULT_MATCHING_MODE,
    FINAL_STATES,
    AssignmentKind,
    Consent,
    LinkRule,
    MatchingMode,
    OutboundState,
    Role,
    Stage,
    may_advance,
    outbound_state_from_twilio,
)

T = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)  # when the inbound text from N arrived
D = dt.date

ALL = MatchingMode.ALL_RELATED
INTAKE = MatchingMode.MOST_RECENT_INTAKE
OPENED = MatchingMode.MOST_RECENTLY_OPENED
OUTBOUND = MatchingMode.MOST_RECENT_OUTBOUND

R_TEXTED = LinkRule.TEXTED_FROM_CASE
R_MOBILE = LinkRule.MOBILE_ON_CASE
R_INTAKE = LinkRule.MOST_RECENT_INTAKE
R_OPENED = LinkRule.MOST_RECENTLY_OPENED
R_OUTBOUND = LinkRule.MOST_RECENT_OUTBOUND


def matter(
    matter_id: int,
    *,
    intake: dt.date | None = None,
    opened: dt.date | None = None,
    m: bool = False,
    h: bool = False,
    seq: int | None = None,
    stage: str | None = None,
) -> Candidate:
    """A candidate; created_seq defaults to the id, stage follows from the dates."""
    if stage is None:
        stage = "open" if opened else "intake" if intake else "prescreen"
    return Candidate(
        matter_id=matter_id,
        created_seq=matter_id if seq is None else seq,
        intake_date=intake,
        date_opened=opened,
        mobile_is_n=m,
        home_is_n=h,
        stage=stage,
    )


def texted(matter_id: int, message_id: int, ago: dt.timedelta) -> OutboundFact:
    """An accepted outbound message to N sent ``ago`` before T (negative: after T)."""
    return OutboundFact(matter_id=matter_id, message_id=message_id, sent_at=T - ago)


DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)

# docs/product.md F6 public example 1: A opened with mobile N, B a later intake with home N, C a prescreen
# that texted N yesterday.
A = matter(1, intake=D(2024, 1, 5), opened=D(2024, 2, 1), m=True)
B = matter(2, intake=D(2025, 3, 1), h=True)
C_TEXT = texted(3, 100, DAY)
EX1 = ([A, B], [C_TEXT])

# Only the fallbacks have something to find: prescreen with home N (no dates).
PRESCREEN_HOME = matter(9, h=True)
INTAKE_ONLY = matter(4, intake=D(2025, 1, 1), h=True)
OPENED_NO_INTAKE = matter(5, opened=D(2023, 1, 1), m=True, stage="closed")  # dirty data
OLD_OPEN = matter(6, intake=D(2020, 1, 1), opened=D(2020, 2, 1), h=True)

L = LinkDecision

CASES: list[tuple[str, MatchingMode, list[Candidate], list[OutboundFact], list[LinkDecision]]] = [
    # --- the two public examples -------------------------------------------------------------
    ("example 1, all_related", ALL, *EX1, [L(1, R_MOBILE), L(3, R_TEXTED)]),
    ("example 1, intake", INTAKE, *EX1, [L(2, R_INTAKE)]),
    ("example 1, opened", OPENED, *EX1, [L(1, R_OPENED)]),
    ("example 1, outbound", OUTBOUND, *EX1, [L(3, R_OUTBOUND)]),
    ("example 2, all_related", ALL, [], [], []),
    ("example 2, intake", INTAKE, [], [], []),
    ("example 2, opened", OPENED, [], [], []),
    ("example 2, outbound", OUTBOUND, [], [], []),
    # --- most_recent_intake: intake -> outbound -> opened ------------------------------------
    ("intake step 1", INTAKE, [INTAKE_ONLY, OLD_OPEN], [C_TEXT], [L(4, R_INTAKE)]),
    ("intake step 2", INTAKE, [PRESCREEN_HOME, OPENED_NO_INTAKE], [C_TEXT], [L(3, R_OUTBOUND)]),
    ("intake step 3", INTAKE, [PRESCREEN_HOME, OPENED_NO_INTAKE], [], [L(5, R_OPENED)]),
    ("intake unmatched", INTAKE, [PRESCREEN_HOME], [], []),
    # --- most_recently_opened: opened -> outbound -> intake ----------------------------------
    ("opened step 1", OPENED, [INTAKE_ONLY, OLD_OPEN], [C_TEXT], [L(6, R_OPENED)]),
    ("opened step 2", OPENED, [INTAKE_ONLY, PRESCREEN_HOME], [C_TEXT], [L(3, R_OUTBOUND)]),
    ("opened step 3", OPENED, [INTAKE_ONLY, PRESCREEN_HOME], [], [L(4, R_INTAKE)]),
    ("opened unmatched", OPENED, [PRESCREEN_HOME], [], []),
    # --- most_recent_outbound: outbound -> opened -> intake ----------------------------------
    ("outbound step 1", OUTBOUND, [INTAKE_ONLY, OLD_OPEN], [C_TEXT], [L(3, R_OUTBOUND)]),
    ("outbound step 2", OUTBOUND, [INTAKE_ONLY, OLD_OPEN], [], [L(6, R_OPENED)]),
    ("outbound step 3", OUTBOUND, [INTAKE_ONLY, PRESCREEN_HOME], [], [L(4, R_INTAKE)]),
    ("outbound unmatched", OUTBOUND, [PRESCREEN_HOME], [], []),
    # --- outbound sent after T does not count, at T does --------------------------------------
    ("after T ignored", OUTBOUND, [OLD_OPEN], [texted(3, 100, -SECOND)], [L(6, R_OPENED)]),
    ("exactly T counts", OUTBOUND, [OLD_OPEN], [texted(3, 100, 0 * SECOND)], [L(3, R_OUTBOUND)]),
    ("after T not texted", ALL, [], [texted(3, 100, -SECOND)], []),
    (
        "latest before T wins over one after T",
        OUTBOUND,
        [],
        [texted(7, 1, DAY), texted(8, 2, 2 * DAY), texted(9, 3, -DAY)],
        [L(7, R_OUTBOUND)],
    ),
    # --- home vs mobile ------------------------------------------------------------------------
    ("home not in all_related", ALL, [INTAKE_ONLY, OLD_OPEN], [], []),
    ("home counts for intake", INTAKE, [INTAKE_ONLY], [], [L(4, R_INTAKE)]),
    ("home counts for opened", OPENED, [OLD_OPEN], [], [L(6, R_OPENED)]),
    (
        "prescreen with mobile N is related but never picked",
        ALL,
        [matter(9, m=True)],
        [],
        [L(9, R_MOBILE)],
    ),
    ("prescreen mobile unmatched in single modes", INTAKE, [matter(9, m=True)], [], []),
    # --- all_related details -------------------------------------------------------------------
    (
        "texted and mobile: one link, texted wins; ordered by id",
        ALL,
        [matter(5, intake=D(2024, 1, 1), m=True), matter(2, intake=D(2024, 1, 1), m=True)],
        [texted(5, 1, DAY), texted(5, 2, 2 * DAY), texted(4, 3, DAY)],
        [L(2, R_MOBILE), L(4, R_TEXTED), L(5, R_TEXTED)],
    ),
    # --- ties ---------------------------------------------------------------------------------
    (
        "intake tie: later-created wins, not higher id",
        INTAKE,
        [
            matter(10, intake=D(2025, 1, 1), h=True, seq=50),
            matter(20, intake=D(2025, 1, 1), m=True, seq=40),
        ],
        [],
        [L(10, R_INTAKE)],
    ),
    (
        "opened tie: later-created wins",
        OPENED,
        [
            matter(20, opened=D(2025, 1, 1), intake=D(2024, 1, 1), m=True, seq=40),
            matter(10, opened=D(2025, 1, 1), intake=D(2024, 6, 1), h=True, seq=50),
        ],
        [],
        [L(10, R_OPENED)],
    ),
    (
        "outbound tie: later message wins",
        OUTBOUND,
        [],
        [texted(7, 31, DAY), texted(8, 30, DAY)],
        [L(7, R_OUTBOUND)],
    ),
    (
        "intake picks latest date over creation order",
        INTAKE,
        [
            matter(1, intake=D(2025, 5, 1), m=True, seq=1),
            matter(2, intake=D(2025, 4, 1), m=True, seq=2),
        ],
        [],
        [L(1, R_INTAKE)],
    ),
    (
        "closed matter keeps its date opened",
        OPENED,
        [matter(1, intake=D(2024, 1, 1), opened=D(2025, 1, 1), m=True, stage="closed"), OLD_OPEN],
        [],
        [L(1, R_OPENED)],
    ),
    (
        "candidate without N in mobile or home is ignored",
        INTAKE,
        [matter(1, intake=D(2025, 1, 1))],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("mode", "candidates", "outbound", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decide_links(
    mode: MatchingMode,
    candidates: list[Candidate],
    outbound: list[OutboundFact],
    expected: list[LinkDecision],
) -> None:
    assert decide_links(mode, T, candidates, outbound) == expected
    # The answer never depends on the order the facts arrive in.
    assert decide_links(mode, T, candidates[::-1], outbound[::-1]) == expected


def test_single_modes_file_on_at_most_one_matter() -> None:
    candidates = [A, B, INTAKE_ONLY, OLD_OPEN, matter(7, m=True)]
    outbound = [C_TEXT, texted(1, 5, 2 * DAY)]
    for mode in (INTAKE, OPENED, OUTBOUND):
        assert len(decide_links(mode, T, candidates, outbound)) == 1
    assert len(decide_links(ALL, T, candidates, outbound)) == 3  # A (texted), C, 7


def test_mode_may_be_given_as_its_setting_value() -> None:
    assert decide_links("most_recent_outbound", T, *EX1) == [L(3, R_OUTBOUND)]  # type: ignore[arg-type]


def test_fallback_chains_follow_the_spec_table() -> None:
    assert FALLBACK_CHAINS == {
        INTAKE: (R_INTAKE, R_OUTBOUND, R_OPENED),
        OPENED: (R_OPENED, R_OUTBOUND, R_INTAKE),
        OUTBOUND: (R_OUTBOUND, R_OPENED, R_INTAKE),
    }


def test_pickers_on_their_own() -> None:
    assert most_recent_intake([A, B]) == 2
    assert most_recent_intake([PRESCREEN_HOME]) is None
    assert most_recent_intake([]) is None
    assert most_recently_opened([A, B]) == 1
    assert most_recently_opened([B]) is None
    assert most_recent_outbound([C_TEXT], T) == 3
    assert most_recent_outbound([C_TEXT], T - 2 * DAY) is None
    assert most_recent_outbound([], T) is None


# --- states.py: the enums the matching rules and the queue share -------------------------------
# (Kept here because the brief limits new test files; move to test_domain_states.py if wanted.)


def test_mode_labels_are_the_spec_words() -> None:
    assert [m.label for m in MatchingMode] == [
        "All cases related to sender's mobile number (original logic)",
        "Most Recent Intake",
        "Most Recently Opened",
        "Most Recent Outbound Message",
    ]
    assert DEFAULT_MATCHING_MODE is MatchingMode.ALL_RELATED
    assert [m for m in MatchingMode if m.is_recommended] == [OUTBOUND]
    assert "most people expect" in OUTBOUND.description
    assert all(m.description.endswith(".") for m in MatchingMode)


def test_link_rule_ids_and_labels() -> None:
    assert {r.value: r.label for r in LinkRule} == {
        "texted_from_case": "texted from this case",
        "mobile_on_case": "mobile phone on case",
        "most_recent_intake": "most recent intake",
        "most_recently_opened": "most recently opened",
        "most_recent_outbound": "most recent outbound",
        "manual": "manual",
    }


def test_state_sets() -> None:
    S = OutboundState
    assert {S.DELIVERED, S.UNDELIVERED, S.FAILED, S.CANCELED} == FINAL_STATES
    assert {S.SCHEDULED, S.QUEUED, S.MISSED} == CANCELABLE_STATES
    assert {S.QUEUED} == CLAIMABLE_STATES
    assert not CANCELABLE_STATES & FINAL_STATES


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [
        ("accepted", OutboundState.SENT),
        ("queued", OutboundState.SENT),
        ("scheduled", OutboundState.SENT),
        ("sending", OutboundState.SENT),
        ("sent", OutboundState.SENT),
        ("delivered", OutboundState.DELIVERED),
        ("read", OutboundState.DELIVERED),
        ("undelivered", OutboundState.UNDELIVERED),
        ("failed", OutboundState.FAILED),
        ("canceled", OutboundState.CANCELED),
        (" Delivered ", OutboundState.DELIVERED),
        ("received", None),
        ("partially_delivered", None),
        ("", None),
        (None, None),
        ("bogus", None),
    ],
)
def test_outbound_state_from_twilio(twilio: str | None, ours: OutboundState | None) -> None:
    assert outbound_state_from_twilio(twilio) == ours


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (OutboundState.SENDING, OutboundState.SENT, True),
        (OutboundState.SENDING, OutboundState.FAILED, True),
        (OutboundState.SENT, OutboundState.DELIVERED, True),
        (OutboundState.SENT, OutboundState.SENT, False),
        (OutboundState.DELIVERED, OutboundState.SENT, False),  # late "sent" callback
        (OutboundState.UNDELIVERED, OutboundState.DELIVERED, False),  # final stays final
        (OutboundState.SENT, OutboundState.SENDING, False),
        (OutboundState.SCHEDULED, OutboundState.QUEUED, True),
        (OutboundState.QUEUED, OutboundState.CANCELED, True),
    ],
)
def test_may_advance(current: OutboundState, new: OutboundState, allowed: bool) -> None:
    assert may_advance(current, new) is allowed


def test_other_enums_round_trip_their_stored_values() -> None:
    assert [s.value for s in Stage] == ["prescreen", "intake", "open", "closed", "rejected"]
    assert [r.value for r in Role] == ["staff", "admin"]
    assert [c.value for c in Consent] == ["yes", "no", "not_asked"]
    assert Consent.NOT_ASKED.label == "Not asked"
    assert [a.value for a in AssignmentKind] == ["primary", "other"]
    assert Stage("open") is Stage.OPEN
