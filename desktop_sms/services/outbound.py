"""Sending and scheduling texts, the queue and cancelling (docs/product.md F2, F3, F10 outbound side).

Every check the compose dialog makes is made here too, so the command line and any other
caller get the same refusals. Cancelling and "send now" are single conditional updates, so a
cancel racing a send on another desktop never both win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter, OptOut, OutboundMessage, Setting, User
from desktop_sms.domain.phones import InvalidPhoneNumber, mask, normalize_for_texting
from desktop_sms.domain.segments import BodyError, validate_body
from desktop_sms.domain.states import (
    CANCELABLE_STATES,
    CHECKING,
    HELD_STATES,
    OutboundState,
    shown_state,
)
from desktop_sms.services import access, audit, consent
from desktop_sms.services.common import (
    Actor,
    Clock,
    NotFound,
    ServiceError,
    ValidationError,
    utcnow,
)
from desktop_sms.services.settings import SettingsService

log = logging.getLogger(__name__)

MIN_SCHEDULE_AHEAD = timedelta(minutes=1)
QUEUE_FAILED_WINDOW = timedelta(days=7)


class ConsentRequired(ServiceError):
    """The office requires SMS consent and the client has not said yes."""


class OptedOutNumber(ServiceError):
    """The number replied STOP; texting it is refused before the provider is called."""


@dataclass(frozen=True)
class QueueRow:
    """One line of SMS → Queue."""

    id: int
    state: str
    send_at: datetime
    to: str
    case_number: str | None
    client_name: str | None
    author: str | None
    body: str
    error: str | None
    matter_id: int | None
    checking: bool = False  # outcome unknown: being looked up at the provider (verify_since)


@dataclass(frozen=True)
class CancelOutcome:
    """What happened to one message the user asked to cancel."""

    id: int
    canceled: bool
    reason: str = ""


def is_opted_out(session: Session, e164: str) -> bool:
    """True when the number's line has opted out (a STOP reply or a 21610 from the provider),
    from this number or another form of it (Mexico's "+521…" and "+52…")."""
    return bool(consent.opted_out_keys(session, [e164]))


def record_opt_out(session: Session, e164: str, opted_out: bool, source: str, at: datetime,
                   inbound_id: int | None = None) -> None:
    """Upsert a number's opt-out in the caller's transaction; an older event never overrides a
    newer one (replies can be filed out of order by several desktops). Every stored form of
    the same line (`opt_out_key`) is brought to this event too, so they never disagree."""
    key = consent.opt_out_key(e164)
    newest = session.execute(select(OptOut.opted_out, OptOut.source, OptOut.changed_at)
                             .where(OptOut.phone_key == key)
                             .order_by(OptOut.changed_at.desc()).limit(1)).first()
    if newest is not None and newest[2] > at:
        # The line has a newer event (from another form of it): this number takes that one.
        opted_out, source, at, inbound_id = bool(newest[0]), str(newest[1]), newest[2], None
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(OptOut).values(phone_e164=e164, phone_key=key, opted_out=opted_out,
                                        source=source, changed_at=at, inbound_id=inbound_id)
    stmt = stmt.on_conflict_do_update(
        index_elements=["phone_e164"],
        set_={"opted_out": stmt.excluded.opted_out, "source": stmt.excluded.source,
              "changed_at": stmt.excluded.changed_at, "inbound_id": stmt.excluded.inbound_id,
              "phone_key": stmt.excluded.phone_key},
        where=OptOut.changed_at <= stmt.excluded.changed_at,
    )
    session.execute(stmt)
    session.execute(update(OptOut)
                    .where(OptOut.phone_key == key, OptOut.phone_e164 != e164,
                           OptOut.changed_at <= at)
                    .values(opted_out=opted_out, source=source, changed_at=at)
                    .execution_options(synchronize_session=False))


class OutboundService:
    """Writes texts to send (now or later), lists the queue, cancels and re-queues."""

    def __init__(self, db: Database, settings: SettingsService, clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []
        # Cancels a text held by Twilio (HeldTexts.cancel_one); set by build_services.
        self.held_cancel: Callable[[Actor, int], CancelOutcome] | None = None

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Called after a message is added or re-queued (the dispatcher's alarm clock listens)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    def notify(self) -> None:
        """Tell the listeners a message was added elsewhere (the consent request)."""
        self._notify()

    # --- checks shared by the dialog and the service ------------------------------------
    def normalize_recipient(self, raw: str) -> str:
        """E.164 of the recipient, or ValidationError with a sentence."""
        try:
            return normalize_for_texting(raw, str(self.settings.get("default_region")))
        except InvalidPhoneNumber as exc:
            raise ValidationError(str(exc)) from None

    def _normalize_for_matter(self, matter_id: int, raw: str) -> str:
        """E.164 of `raw`; a number typed as stored on the matter is read in the region it was
        stored under (a UK "07911 123423" imported before `default_region` became US), so a
        change of region does not stop texting the matter's own numbers. Extensions are still
        refused. Raises ValidationError with a sentence."""
        try:
            return self.normalize_recipient(raw)
        except ValidationError:
            with self.db.session() as s:
                matter = s.get(Matter, matter_id)
                stored = [] if matter is None else [
                    (r, e) for r, e in ((matter.mobile_raw, matter.mobile_e164),
                                        (matter.home_raw, matter.home_e164))
                    if r and e and r.strip() == raw.strip()]
            for _, e164 in stored:
                region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
                try:
                    return normalize_for_texting(raw, region or "ZZ")
                except InvalidPhoneNumber as exc:
                    raise ValidationError(str(exc)) from None
            raise

    def opted_out(self, e164: str) -> bool:
        with self.db.session() as s:
            return is_opted_out(s, e164)

    def check_send_at(self, send_at: datetime | None) -> None:
        """A scheduled time must be at least a minute ahead."""
        if send_at is None:
            return
        if send_at.tzinfo is None:
            raise ValidationError("The scheduled time has no time zone.")
        if send_at < self.clock() + MIN_SCHEDULE_AHEAD:
            raise ValidationError("The scheduled time must be at least one minute from now; "
                                  "choose a later time or Send now.")

    # --- send / schedule ----------------------------------------------------------------
    def send(self, actor: Actor, matter_id: int, to: str, body: str,
             send_at: datetime | None = None, *, override_quiet_hours: str | None = None,
             override_opt_out: str | None = None) -> int:
        """Queue (send_at None) or schedule a text from a matter; returns the message id.

        Raises ConsentRequired, OptedOutNumber (the number replied STOP), OptedOutClient (another
        number of the client did, scope `client`, without an allowed override) or
        QuietHoursError (a schedule inside the recipient's quiet hours, or a send-now there
        without `override_quiet_hours`); see services/consent.py. Overrides are audited.
        """
        actor = access.require_sms(self.db, actor, "send texts")
        try:
            validate_body(body)
        except BodyError as exc:
            raise ValidationError(str(exc)) from None
        e164 = self._normalize_for_matter(matter_id, to)
        self.check_send_at(send_at)
        consent_required = bool(self.settings.get("sms_consent_required"))
        from_number = self._default_sender()
        now = self.clock()
        with self.db.transaction() as s:
            matter = s.get(Matter, matter_id)
            if matter is None:
                raise NotFound(f"There is no case with id {matter_id}.")
            if consent_required and matter.consent != "yes":
                asked = "was not asked" if matter.consent == "not_asked" else "said no"
                raise ConsentRequired(
                    f"The client of case {matter.case_number} {asked} about texts; the office "
                    "requires SMS consent before texting. Record the client's consent first.")
            if is_opted_out(s, e164):
                raise OptedOutNumber(f"{to.strip()} replied STOP and has opted out of texts; it "
                                     "cannot be texted until the client texts START.")
            consent.check_opt_out(s, actor, matter, e164, now, override_opt_out)
            quiet_override = consent.check_quiet_hours(s, actor, matter, e164, send_at, now,
                                                       override_quiet_hours)
            state = OutboundState.SCHEDULED if send_at else OutboundState.QUEUED
            msg = OutboundMessage(kind="client", matter_id=matter_id, author_id=actor.user_id,
                                  to_raw=to.strip(), to_e164=e164, from_number=from_number,
                                  body=body, state=str(state), send_at=send_at or now,
                                  created_at=now, attempts=0,
                                  quiet_hours_override=quiet_override)
            s.add(msg)
            s.flush()
            audit.record(s, actor, "sms.schedule" if send_at else "sms.send", now,
                         target_type="matter", target_id=matter.case_number,
                         detail=f"message {msg.id} to {mask(e164)}"
                                + (f" at {send_at.isoformat()}" if send_at else ""))
            message_id = msg.id
        log.info("message %s %s to %s", message_id, state, mask(e164))
        self._notify()
        return message_id

    def enqueue_reminder(self, session: Session, user_id: int, to_e164: str, body: str,
                         due: datetime) -> int:
        """A reminder text to a member of staff, in the caller's transaction (no consent needed)."""
        # The sender is read through the caller's session: a second session here would wait on
        # the caller's own SQLite write lock.
        stored = session.get(Setting, "office_numbers")
        sender = stored.value.split(",")[0].strip() if stored and stored.value.strip() else None
        msg = OutboundMessage(kind="reminder", matter_id=None, author_id=user_id, to_raw=to_e164,
                              to_e164=to_e164, from_number=sender, body=body,
                              state=str(OutboundState.QUEUED), send_at=due,
                              created_at=self.clock(), attempts=0)
        session.add(msg)
        session.flush()
        return msg.id

    def _default_sender(self) -> str | None:
        numbers = self.settings.get("office_numbers")
        return numbers[0] if numbers else None

    # --- queue --------------------------------------------------------------------------
    def queue(self, *, mine_user_id: int | None = None, matter_id: int | None = None,
              limit: int = 2000, sort: str = "Send time",
              descending: bool = False) -> list[QueueRow]:
        """Scheduled, queued, sending, missed, recently failed and recently canceled-by-STOP
        messages, soonest first unless sorted otherwise.

        sort: a Queue column name ("Send time", "State", "Recipient", "Case", "Client",
        "Author", "Error", "Message"; anything else sorts by send time); ties by send time.
        """
        author = aliased(User)
        keys: dict[str, Any] = {
            "State": OutboundMessage.state, "Recipient": OutboundMessage.to_raw,
            "Case": Matter.case_number, "Client": Matter.client_name, "Author": author.name,
            "Error": OutboundMessage.error_message, "Message": OutboundMessage.body,
        }
        key = keys.get(sort, OutboundMessage.send_at)
        first = [key.desc() if descending else key.asc()]
        if key is not OutboundMessage.send_at:
            first.append(OutboundMessage.send_at)
        since = self.clock() - QUEUE_FAILED_WINDOW
        stmt = (select(OutboundMessage, Matter.case_number, Matter.client_name, author.name)
                .outerjoin(Matter, OutboundMessage.matter_id == Matter.id)
                .outerjoin(author, OutboundMessage.author_id == author.id)
                .where(or_(OutboundMessage.state.in_(["scheduled", "queued", "sending", "missed",
                                                                "holding", "held"]),
                           (OutboundMessage.state == "failed")
                           & (OutboundMessage.created_at >= since),
                           # canceled by a STOP: shown with the reason "client opted out"
                           (OutboundMessage.state == "canceled")
                           & (OutboundMessage.error_message == consent.CANCEL_REASON)
                           & (OutboundMessage.created_at >= since)))
                .order_by(*first, OutboundMessage.id).limit(limit))
        if mine_user_id is not None:
            stmt = stmt.where(OutboundMessage.author_id == mine_user_id)
        if matter_id is not None:
            stmt = stmt.where(OutboundMessage.matter_id == matter_id)
        with self.db.session() as s:
            return [QueueRow(m.id, m.state, m.send_at, m.to_raw, num, client, name, m.body,
                             m.error_message, m.matter_id,
                             checking=shown_state(m.state, m.verify_since is not None) == CHECKING)
                    for m, num, client, name in s.execute(stmt)]

    def cancel(self, actor: Actor, ids: Iterable[int]) -> list[CancelOutcome]:
        """Cancel each message with one conditional update; says why when it can't.

        An id named more than once is canceled (and reported) once, in its first place.
        """
        actor = access.require_sms(self.db, actor, "cancel texts")
        now = self.clock()
        outcomes: list[CancelOutcome] = []
        for message_id in dict.fromkeys(ids):
            with self.db.transaction() as s:
                result = s.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == message_id,
                           OutboundMessage.state.in_([str(x) for x in CANCELABLE_STATES]),
                           # an unanswered send may be at the provider already: not cancelable
                           OutboundMessage.verify_since.is_(None))
                    .values(state=str(OutboundState.CANCELED), canceled_by_id=actor.user_id,
                            status_updated_at=now)
                    .execution_options(synchronize_session=False))
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    audit.record(s, actor, "sms.cancel", now, target_type="message",
                                 target_id=message_id)
                    outcomes.append(CancelOutcome(message_id, True))
                    continue
                row = s.execute(select(OutboundMessage.state, OutboundMessage.verify_since)
                                .where(OutboundMessage.id == message_id)).first()
            if row is not None and row[0] in HELD_STATES and self.held_cancel is not None:
                outcomes.append(self.held_cancel(actor, message_id))  # canceled at Twilio
                continue
            if row is not None and row[1] is not None and row[0] in CANCELABLE_STATES:
                reason = (f"Message {message_id} can't be canceled: the provider did not answer "
                          "its last attempt, so it may already have been sent; it is being "
                          "checked and will not be sent twice.")
            else:
                reason = _why_not_cancelable(message_id, row[0] if row is not None else None)
            outcomes.append(CancelOutcome(message_id, False, reason))
        return outcomes

    def send_missed_now(self, actor: Actor, message_id: int) -> None:
        """A person chose Send now for a missed message: it is queued again, due now."""
        actor = access.require_sms(self.db, actor, "send texts")
        now = self.clock()
        with self.db.transaction() as s:
            msg = s.get(OutboundMessage, message_id)
            if msg is None:
                raise NotFound(f"There is no message {message_id}.")
            if msg.kind == "client" and is_opted_out(s, msg.to_e164):
                raise OptedOutNumber("That number has opted out of texts; it cannot be texted.")
            result = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id, OutboundMessage.state == "missed")
                .values(state="queued", send_at=now, attempts=0, next_attempt_at=None,
                        error_code=None, error_message=None)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise ValidationError(f"Message {message_id} is no longer missed "
                                      f"(it is {msg.state}); it was not re-sent.")
            audit.record(s, actor, "sms.send_missed", now, target_type="message",
                         target_id=message_id)
        self._notify()


def _why_not_cancelable(message_id: int, state: str | None) -> str:
    if state is None:
        return f"Message {message_id} does not exist."
    reasons = {
        "sending": "it is being sent right now",
        "sent": "it has already been sent",
        "delivered": "it has already been delivered",
        "undelivered": "it was already sent (and not delivered)",
        "failed": "it has already failed",
        "canceled": "it was already canceled",
    }
    return f"Message {message_id} can't be canceled: {reasons.get(state, f'it is {state}')}."
