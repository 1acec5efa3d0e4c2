"""Enumerations shared by every layer: message states, matching modes, link rules, roles.

Values are the snake_case ids stored in the database and settings; ``label`` gives the words
people see. Pure Python: no Qt, no SQL.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "CANCELABLE_STATES",
    "CLAIMABLE_STATES",
    "DEFAULT_MATCHING_MODE",
    "FINAL_STATES",
    "HELD_QUEUE_TEXT",
    "HELD_STATES",
    "AssignmentKind",
    "Consent",
    "LinkRule",
    "MatchingMode",
    "OutboundState",
    "Role",
    "Stage",
    "may_advance",
    "outbound_state_from_twilio",
    "CHECKING",
    "CHECKING_LABEL",
    "shown_state",
]


class OutboundState(StrEnum):
    """Where an outbound message is in its life (docs/product.md F3)."""

    SCHEDULED = "scheduled"  # waiting for its time
    QUEUED = "queued"  # due, waiting for a desktop to claim it
    SENDING = "sending"  # claimed by exactly one desktop
    SENT = "sent"  # accepted by the provider; has a provider id
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    MISSED = "missed"  # its time passed while no desktop could send it
    HOLDING = "holding"  # being handed to Twilio to hold until its time (outcome not yet known)
    HELD = "held"  # held by Twilio (Message Scheduling) with a provider sid; Twilio sends it


FINAL_STATES: Final = frozenset(
    {
        OutboundState.DELIVERED,
        OutboundState.UNDELIVERED,
        OutboundState.FAILED,
        OutboundState.CANCELED,
    }
)
CANCELABLE_STATES: Final = frozenset(
    {OutboundState.SCHEDULED, OutboundState.QUEUED, OutboundState.MISSED}
)
CLAIMABLE_STATES: Final = frozenset({OutboundState.QUEUED})
# Texts Twilio holds until their time (Message Scheduling): canceled at Twilio, not locally.
HELD_STATES: Final = frozenset({OutboundState.HOLDING, OutboundState.HELD})
HELD_QUEUE_TEXT: Final = "held by Twilio — goes out even if every computer is off"

# Order used by may_advance: provider callbacks may arrive late or out of order.
_PROGRESS: Final = {
    OutboundState.SCHEDULED: 0,
    OutboundState.MISSED: 0,
    OutboundState.QUEUED: 1,
    OutboundState.SENDING: 2,
    OutboundState.HOLDING: 2,
    OutboundState.HELD: 2,
    OutboundState.SENT: 3,
    OutboundState.DELIVERED: 4,
    OutboundState.UNDELIVERED: 4,
    OutboundState.FAILED: 4,
    OutboundState.CANCELED: 4,
}

# Twilio MessageStatus values for a message it has accepted but not finished with. They all
# mean "the provider has it" (it has a SID), which is our single state ``sent``.
_TWILIO_ACCEPTED: Final = frozenset({"accepted", "scheduled", "queued", "sending", "sent"})
_TWILIO_FINAL: Final = {
    "delivered": OutboundState.DELIVERED,
    "read": OutboundState.DELIVERED,  # WhatsApp/RCS read receipt: delivered and then some
    "undelivered": OutboundState.UNDELIVERED,
    "failed": OutboundState.FAILED,
    "canceled": OutboundState.CANCELED,
}


def outbound_state_from_twilio(status: str | None) -> OutboundState | None:
    """Map a Twilio MessageStatus to our state; None for statuses we don't act on.

    Every status of a message Twilio holds ("accepted", "queued", "scheduled", "sending",
    "sent") maps to ``sent``; final statuses map to themselves ("read" to ``delivered``).
    Inbound statuses ("receiving", "received"), "partially_delivered" and unknown values
    give None: keep the current state. Use ``may_advance`` before applying the result, as
    callbacks can arrive after a later status.
    """
    if not status:
        return None
    key = status.strip().lower()
    if key in _TWILIO_ACCEPTED:
        return OutboundState.SENT
    return _TWILIO_FINAL.get(key)


def may_advance(current: OutboundState, new: OutboundState) -> bool:
    """True when moving from ``current`` to ``new`` is progress, so a late callback can't undo it.

    Final states never change; otherwise only a strictly later stage is allowed (so ``sent``
    never goes back to ``sending``, and ``delivered`` is never overwritten by ``sent``).
    """
    if current in FINAL_STATES:
        return False
    return _PROGRESS[new] > _PROGRESS[current]


class MatchingMode(StrEnum):
    """How an inbound text is filed on cases (docs/product.md F6); stored as a setting."""

    ALL_RELATED = "all_related"
    MOST_RECENT_INTAKE = "most_recent_intake"
    MOST_RECENTLY_OPENED = "most_recently_opened"
    MOST_RECENT_OUTBOUND = "most_recent_outbound"

    @property
    def label(self) -> str:
        """The words shown in Preferences (exactly as docs/product.md F6)."""
        return _MODE_LABELS[self]

    @property
    def description(self) -> str:
        """A short sentence explaining the mode in Preferences."""
        return _MODE_DESCRIPTIONS[self]

    @property
    def is_recommended(self) -> bool:
        """True for the mode most people expect (Preferences says so)."""
        return self is MatchingMode.MOST_RECENT_OUTBOUND


DEFAULT_MATCHING_MODE: Final = MatchingMode.ALL_RELATED

_MODE_LABELS: Final = {
    MatchingMode.ALL_RELATED: "All cases related to sender's mobile number (original logic)",
    MatchingMode.MOST_RECENT_INTAKE: "Most Recent Intake",
    MatchingMode.MOST_RECENTLY_OPENED: "Most Recently Opened",
    MatchingMode.MOST_RECENT_OUTBOUND: "Most Recent Outbound Message",
}
_MODE_DESCRIPTIONS: Final = {
    MatchingMode.ALL_RELATED: (
        "Files the reply on every case that texted this number and every case with it as the "
        "client's mobile phone."
    ),
    MatchingMode.MOST_RECENT_INTAKE: (
        "Files the reply on one case: the latest intake with this number, else the case that "
        "last texted it, else the most recently opened case with it."
    ),
    MatchingMode.MOST_RECENTLY_OPENED: (
        "Files the reply on one case: the most recently opened case with this number, else the "
        "case that last texted it, else the latest intake with it."
    ),
    MatchingMode.MOST_RECENT_OUTBOUND: (
        "Files the reply on one case: the case that last texted this number, else the most "
        "recently opened case with it, else the latest intake with it. This is what most "
        "people expect."
    ),
}


class LinkRule(StrEnum):
    """The rule that filed an inbound message on a case; every link records one."""

    TEXTED_FROM_CASE = "texted_from_case"
    MOBILE_ON_CASE = "mobile_on_case"
    MOST_RECENT_INTAKE = "most_recent_intake"
    MOST_RECENTLY_OPENED = "most_recently_opened"
    MOST_RECENT_OUTBOUND = "most_recent_outbound"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        """The words shown next to a link (docs/product.md, Words)."""
        return _LINK_RULE_LABELS[self]


_LINK_RULE_LABELS: Final = {
    LinkRule.TEXTED_FROM_CASE: "texted from this case",
    LinkRule.MOBILE_ON_CASE: "mobile phone on case",
    LinkRule.MOST_RECENT_INTAKE: "most recent intake",
    LinkRule.MOST_RECENTLY_OPENED: "most recently opened",
    LinkRule.MOST_RECENT_OUTBOUND: "most recent outbound",
    LinkRule.MANUAL: "manual",
}


class Stage(StrEnum):
    """The stage of a matter; prescreens have no intake date and no assignments."""

    PRESCREEN = "prescreen"
    INTAKE = "intake"
    OPEN = "open"
    CLOSED = "closed"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """The stage as shown in the case list."""
        return self.value.capitalize()


class Role(StrEnum):
    """A user's role: admins configure Preferences and users."""

    STAFF = "staff"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role as shown in the user list."""
        return self.value.capitalize()


class Consent(StrEnum):
    """The matter's SMS consent answer (docs/product.md F2/F10)."""

    YES = "yes"
    NO = "no"
    NOT_ASKED = "not_asked"

    @property
    def label(self) -> str:
        """The answer as shown on the case header."""
        return {"yes": "Yes", "no": "No", "not_asked": "Not asked"}[self.value]


class AssignmentKind(StrEnum):
    """Whether a user is the matter's primary assignee or another one."""

    PRIMARY = "primary"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The kind as shown in the case view."""
        return self.value.capitalize()


# Outcome unknown: the provider's answer to a send was unreadable, cut off or never came
# (docs/outcome_unknown.md). Such a text is looked up at the provider before any retry and
# is shown as one state, never as failed or refused.
CHECKING: Final = "checking"
CHECKING_LABEL: Final = "Checking with Twilio"


def shown_state(state: str, outcome_unknown: bool) -> str:
    """The state people see: CHECKING for a queued/sending text whose last send's outcome
    is unknown (its row has verify_since), else the stored state."""
    if outcome_unknown and state in (OutboundState.QUEUED, OutboundState.SENDING):
        return CHECKING
    return state
