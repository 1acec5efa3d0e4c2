"""Texts held by Twilio until their time (Message Scheduling), so they go out with every desktop off.

A scheduled text is handed to Twilio at once when the office has a Messaging Service and the
text is due between the minimum lead (setting ``hold_min_lead_minutes``, 15 by default) and 35
days ahead: it is created with ``MessagingServiceSid``, ``ScheduleType=fixed`` and ``SendAt``
(https://www.twilio.com/docs/messaging/features/message-scheduling). Its row moves
``scheduled → holding → held`` with the provider sid; every step is a conditional UPDATE, so a
cancel and a hand-over racing on two desktops never both win. Anything else keeps the local
queue (the dispatcher sends it at its time). See docs/held_by_twilio.md.

Twilio's Message resource has no SendAt property, so a hand-over whose answer was lost (a
crash, a time-out) is looked up by ``To``, body and either status ``scheduled`` or a DateSent
at SendAt before anything is created again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter, OptOut, OutboundMessage
from desktop_sms.domain.phones import mask
from desktop_sms.domain.segments import BodyError, validate_body
from desktop_sms.domain.states import OutboundState, outbound_state_from_twilio
from desktop_sms.providers.base import (
    BadCredentialsError,
    NotCancelableError,
    OptedOutError,
    ProviderError,
    ProviderMessage,
    SmsProvider,
)
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, Clock, ValidationError, utcnow
from desktop_sms.services.consent import read_setting_values
from desktop_sms.services.outbound import CancelOutcome, OutboundService, record_opt_out
from desktop_sms.services.settings import SettingsService

log = logging.getLogger(__name__)

MAX_HOLD_AHEAD = timedelta(days=35)  # Twilio holds texts at most 35 days ahead
HOLD_LEASE = timedelta(minutes=2)  # a `holding` row older than this is looked up at Twilio
LOOKUP_SKEW = timedelta(minutes=5)
HELD_RECHECK = timedelta(hours=1)  # a held text not yet due is fetched again after this
MAX_LOOKUP_SCAN = 500
SENT_AT_ONCE_SENTENCE = ("Twilio sent this text at once instead of holding it until its time "
                         "(it answered '{status}', not 'scheduled').")
# Stored in `claim_token` of a held (or holding) text whose cancel at Twilio was asked for
# inside someone else's transaction (a calendar item moved or deleted); HeldTexts posts the
# cancel right after that commit and again in every hand-over pass until it is done.
CANCEL_REQUESTED = "cancel-requested"
NOT_HELD_SENTENCE = "Twilio would not hold this text ({reason}); it waits in the local queue."


@dataclass(frozen=True)
class HoldDecision:
    """Which path a scheduled text takes and why, in words for the compose dialog."""

    held: bool
    reason: str


def hold_decision(send_at: datetime | None, now: datetime, service_sid: str | None,
                  min_lead: timedelta) -> HoldDecision:
    """Whether a text due at ``send_at`` (aware UTC) is held by Twilio or kept in our queue.

    Held only with a Messaging Service SID and a send time between ``min_lead`` and 35 days
    after ``now``. Pure: the caller reads the settings.
    """
    minutes = int(min_lead.total_seconds() // 60)
    if send_at is None:
        return HoldDecision(False, "Sent now by this computer.")
    if not service_sid:
        return HoldDecision(False, "Waits in the office's queue and goes out from a computer "
                                   "running Desktop SMS: no Messaging Service is set, and "
                                   "Twilio only holds texts sent through one.")
    lead = send_at - now
    if lead < min_lead:
        return HoldDecision(False, f"Waits in the office's queue and goes out from a computer "
                                   f"running Desktop SMS: Twilio only holds texts due at least "
                                   f"{minutes} minutes ahead.")
    if lead > MAX_HOLD_AHEAD:
        return HoldDecision(False, "Waits in the office's queue for now: Twilio only holds texts "
                                   "due within 35 days. It is handed to Twilio when it comes "
                                   "within 35 days (while a computer is running Desktop SMS).")
    return HoldDecision(True, "Held by Twilio: it goes out at its time even if every computer "
                              "is off.")


@dataclass
class HoldReport:
    """What one pass of :meth:`HeldTexts.hold_pending` / :meth:`HeldTexts.reconcile` did."""

    held: list[int] = field(default_factory=list)
    sent_now: list[int] = field(default_factory=list)  # Twilio ignored the schedule: flagged
    kept_local: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    reconciled: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.held or self.sent_now or self.kept_local or self.failed
                    or self.reconciled)


@dataclass(frozen=True)
class _Claim:
    id: int
    to: str
    body: str
    send_at: datetime
    claimed_at: datetime


def _local_time(when: datetime | None) -> str:
    """A time as people in the office read it (the desktop's time zone)."""
    if when is None:
        return "an unknown time"
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


class HeldTexts:
    """Hands scheduled texts to Twilio to hold, cancels, refreshes and reconciles held texts."""

    def __init__(self, db: Database, settings: SettingsService,
                 provider_factory: Callable[[], SmsProvider], clock: Clock = utcnow,
                 desktop_id: str | None = None, lease: timedelta = HOLD_LEASE) -> None:
        self.db = db
        self.settings = settings
        self.provider_factory = provider_factory
        self.clock = clock
        self.desktop_id = desktop_id or f"held-{uuid.uuid4().hex[:8]}"
        self.lease = lease

    # --- settings ----------------------------------------------------------------------
    def service_sid(self) -> str | None:
        """The office's Messaging Service SID, or None."""
        return str(self.settings.get("messaging_service_sid") or "") or None

    def min_lead(self) -> timedelta:
        """The minimum lead for a held text (setting ``hold_min_lead_minutes``)."""
        return timedelta(minutes=int(self.settings.get("hold_min_lead_minutes")))

    def hold_inputs(self) -> tuple[str | None, timedelta]:
        """(Messaging Service SID or None, minimum lead): what ``hold_decision`` needs."""
        return self.service_sid(), self.min_lead()

    def decision(self, send_at: datetime | None) -> HoldDecision:
        """Which path a text due at ``send_at`` takes now (reads settings: not on the GUI thread)."""
        return hold_decision(send_at, self.clock(), self.service_sid(), self.min_lead())

    # --- hand-over -----------------------------------------------------------------------
    def hold_pending(self, provider: SmsProvider | None = None, *,
                     service_sid: str | None | EllipsisType = ...,
                     provider_getter: Callable[[], SmsProvider] | None = None) -> HoldReport:
        """Hand every eligible scheduled text to Twilio; looks up lost hand-overs first.

        Eligible: state ``scheduled``, no earlier refusal by Twilio (``error_code`` empty), due
        between the minimum lead and 35 days from now, and a Messaging Service is set. Provider
        errors never raise: a refusal keeps the text in the local queue with the reason, a
        transient failure leaves it scheduled for the next pass. ``service_sid`` given (the
        dispatcher reads settings once per run) is used instead of reading the setting; the
        provider is built (``provider_getter``, else the factory) only when there is work.
        """
        report = HoldReport()
        sid = self.service_sid() if service_sid is ... else service_sid
        now = self.clock()
        getter = provider_getter or self.provider_factory
        lazy: list[SmsProvider] = [provider] if provider is not None else []

        def chosen_provider() -> SmsProvider:
            if not lazy:
                lazy.append(getter())
            return lazy[0]

        self._reconcile(chosen_provider, report)
        self.settle_cancel_requests(chosen_provider)
        if not sid:
            return report
        with self.db.session() as s:
            ids = list(s.scalars(
                select(OutboundMessage.id)
                .where(OutboundMessage.state == OutboundState.SCHEDULED.value,
                       OutboundMessage.error_code.is_(None),
                       or_(OutboundMessage.claim_token.is_(None),
                           OutboundMessage.claim_token != CANCEL_REQUESTED),
                       OutboundMessage.send_at >= now + self.min_lead(),
                       OutboundMessage.send_at <= now + MAX_HOLD_AHEAD)
                .order_by(OutboundMessage.send_at, OutboundMessage.id)))
        if not ids:
            return report
        chosen = chosen_provider()
        for message_id in ids:
            claim = self._claim(message_id)
            if claim is not None:
                self._hand_over(claim, sid, chosen, report)
        return report

    def _claim(self, message_id: int) -> _Claim | None:
        """scheduled → holding with one conditional UPDATE; None when another desktop (or a
        cancel) changed the row first."""
        now = self.clock()
        with self.db.transaction() as s:
            result = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id,
                       OutboundMessage.state == OutboundState.SCHEDULED.value,
                       OutboundMessage.error_code.is_(None))
                .values(state=OutboundState.HOLDING.value, claimed_by=self.desktop_id,
                        claimed_at=now, lease_until=now + self.lease)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = s.execute(select(OutboundMessage.to_e164, OutboundMessage.body,
                                   OutboundMessage.send_at)
                            .where(OutboundMessage.id == message_id)).one()
        return _Claim(message_id, row[0], row[1], row[2], now)

    def _hand_over(self, claim: _Claim, service_sid: str, provider: SmsProvider,
                   report: HoldReport) -> None:
        try:
            created = provider.send(to=claim.to, body=claim.body,
                                    messaging_service_sid=service_sid, send_at=claim.send_at)
        except ProviderError as exc:
            self._hand_over_failed(claim, exc, report)
            return
        except Exception as exc:  # garbage from the provider: look it up after the lease
            log.exception("unexpected error holding message %s", claim.id)
            report.errors.append(f"holding message {claim.id}: {exc.__class__.__name__}")
            return
        self._record_created(claim.id, created, report)

    def _record_created(self, message_id: int, created: ProviderMessage,
                        report: HoldReport) -> None:
        now = self.clock()
        values: dict[str, Any]
        if created.status == "scheduled":
            values = dict(state=OutboundState.HELD.value, provider_sid=created.sid,
                          provider_status="scheduled", status_updated_at=now, lease_until=None,
                          error_code=None, error_message=None)
            bucket = report.held
        else:
            # Some of Twilio's pages say a schedule may be dropped and the text sent at once:
            # it has gone, so it is recorded as sent, and flagged.
            values = dict(state=OutboundState.SENT.value, provider_sid=created.sid,
                          provider_status=created.status[:20], sent_at=now,
                          status_updated_at=now, lease_until=None,
                          error_message=SENT_AT_ONCE_SENTENCE.format(status=created.status))
            bucket = report.sent_now
        with self.db.transaction() as s:
            changed = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id,
                       OutboundMessage.state == OutboundState.HOLDING.value,
                       OutboundMessage.claimed_by == self.desktop_id)
                .values(**values).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if changed == 1:
            bucket.append(message_id)
            log.info("message %s %s (provider status %s)", message_id,
                     "held by Twilio" if bucket is report.held else "sent at once",
                     created.status)
        else:
            log.warning("message %s was reconciled by another desktop", message_id)

    def _hand_over_failed(self, claim: _Claim, exc: ProviderError, report: HoldReport) -> None:
        now = self.clock()
        values: dict[str, Any] = {"lease_until": None, "claimed_by": None}
        if exc.transient and exc.ambiguous:
            # Twilio may hold it already: leave it `holding`; once the lease ends it is looked
            # up (To, body, SendAt) before anything is created again.
            values = {"lease_until": now}
            report.retry.append(claim.id)
        elif exc.transient or isinstance(exc, BadCredentialsError):
            values.update(state=OutboundState.SCHEDULED.value)
            report.retry.append(claim.id)
            if not exc.transient:
                report.errors.append(f"holding message {claim.id}: {exc.sentence}")
        else:
            values.update(state=OutboundState.SCHEDULED.value, error_code=exc.code,
                          error_message=NOT_HELD_SENTENCE.format(reason=exc.sentence.rstrip(".")))
            report.kept_local.append(claim.id)
        with self.db.transaction() as s:
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.id == claim.id,
                             OutboundMessage.state == OutboundState.HOLDING.value,
                             OutboundMessage.claimed_by == self.desktop_id)
                      .values(**values).execution_options(synchronize_session=False))
            if isinstance(exc, OptedOutError):
                record_opt_out(s, claim.to, True, "provider", now)
        log.info("message %s to %s not held: %s (code %s)", claim.id, mask(claim.to),
                 "will try again" if exc.transient else "kept in the local queue", exc.code)

    # --- cancels asked for inside another transaction -----------------------------------
    def settle_after_calendar_change(self) -> None:
        """After a calendar item's change committed: cancel at Twilio what it marked and hand
        its new texts over (one :meth:`hold_pending` pass; no provider is built without work)."""
        report = self.hold_pending()
        if report.errors:
            log.warning("after a calendar change: %s", "; ".join(report.errors))
    def settle_cancel_requests(self, get_provider: Callable[[], SmsProvider]) -> list[int]:
        """Carry out the cancels marked by :func:`request_cancel`; returns the ids canceled.

        A held text is canceled at Twilio (``Status=canceled``; a 30409 records what Twilio
        did instead); one that went back to our queue (its hand-over was refused) is canceled
        here. A `holding` one waits until its hand-over is settled; a failed cancel stays
        marked and is tried again in the next pass (every dispatcher run).
        """
        with self.db.session() as s:
            rows = s.execute(select(OutboundMessage.id, OutboundMessage.state,
                                    OutboundMessage.error_message)
                             .where(OutboundMessage.claim_token == CANCEL_REQUESTED,
                                    OutboundMessage.state.in_([
                                        OutboundState.HELD.value, OutboundState.SCHEDULED.value,
                                        OutboundState.QUEUED.value, OutboundState.MISSED.value]))
                             .order_by(OutboundMessage.id)).all()
        canceled: list[int] = []
        for message_id, state, reason in rows:
            if state == OutboundState.HELD.value:
                canceled += cancel_held_texts(self.db, get_provider(), [int(message_id)],
                                              str(reason or "Canceled."), self.clock)
                continue
            with self.db.transaction() as s:
                changed = s.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == message_id, OutboundMessage.state == state,
                           OutboundMessage.claim_token == CANCEL_REQUESTED)
                    .values(state=OutboundState.CANCELED.value, status_updated_at=self.clock())
                    .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if changed == 1:
                canceled.append(int(message_id))
        return canceled

    # --- lost hand-overs -----------------------------------------------------------------
    def reconcile(self, provider: SmsProvider | None = None,
                  report: HoldReport | None = None) -> HoldReport:
        """Settle `holding` rows whose lease ran out (a crash or a lost answer).

        Each is taken over with a conditional UPDATE and looked up at Twilio: found → held (or
        sent), not found → scheduled again, so the next pass creates it once.
        """
        report = report if report is not None else HoldReport()
        return self._reconcile(lambda: provider or self.provider_factory(), report)

    def _reconcile(self, get_provider: Callable[[], SmsProvider],
                   report: HoldReport) -> HoldReport:
        now = self.clock()
        with self.db.session() as s:
            ids = list(s.scalars(select(OutboundMessage.id).where(
                OutboundMessage.state == OutboundState.HOLDING.value,
                OutboundMessage.lease_until < now)))
        if not ids:
            return report
        chosen = get_provider()
        for message_id in ids:
            with self.db.transaction() as s:
                taken = s.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == message_id,
                           OutboundMessage.state == OutboundState.HOLDING.value,
                           OutboundMessage.lease_until < now)
                    .values(claimed_by=self.desktop_id, lease_until=now + self.lease)
                    .execution_options(synchronize_session=False))
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                row = s.execute(select(OutboundMessage.to_e164, OutboundMessage.body,
                                       OutboundMessage.send_at, OutboundMessage.claimed_at,
                                       OutboundMessage.created_at)
                                .where(OutboundMessage.id == message_id)).one()
            to, body, send_at, since = row[0], row[1], row[2], row[3] or row[4]
            try:
                found = self.find_at_provider(chosen, to, body, send_at, since)
            except ProviderError as exc:
                report.errors.append(f"looking up held message {message_id}: {exc.sentence}")
                continue
            if found is not None and found.status != "scheduled":
                self._record_went(message_id, found)  # Twilio already sent it at SendAt
            elif found is not None:
                self._record_created(message_id, found, report)
            else:
                with self.db.transaction() as s:
                    s.execute(update(OutboundMessage)
                              .where(OutboundMessage.id == message_id,
                                     OutboundMessage.state == OutboundState.HOLDING.value,
                                     OutboundMessage.claimed_by == self.desktop_id)
                              .values(state=OutboundState.SCHEDULED.value, lease_until=None,
                                      claimed_by=None)
                              .execution_options(synchronize_session=False))
            report.reconciled.append(message_id)
            log.info("held message %s reconciled: %s", message_id,
                     "found at Twilio" if found else "not found, will be handed over again")
        return report

    def _record_went(self, message_id: int, found: ProviderMessage) -> None:
        """A lost hand-over Twilio has held and already sent: record it with its real state."""
        now = self.clock()
        state = outbound_state_from_twilio(found.status) or OutboundState.SENT
        with self.db.transaction() as s:
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.id == message_id,
                             OutboundMessage.state == OutboundState.HOLDING.value,
                             OutboundMessage.claimed_by == self.desktop_id)
                      .values(state=state.value, provider_sid=found.sid,
                              provider_status=found.status[:20],
                              sent_at=found.date_sent or now, status_updated_at=now,
                              lease_until=None)
                      .execution_options(synchronize_session=False))

    def find_at_provider(self, provider: SmsProvider, to: str, body: str, send_at: datetime,
                         since: datetime) -> ProviderMessage | None:
        """A text at Twilio to ``to`` with this body, created since ``since`` and either still
        ``scheduled`` or sent at ``send_at``, that no row of ours holds yet."""
        with self.db.session() as s:
            known = set(s.scalars(select(OutboundMessage.provider_sid).where(
                OutboundMessage.to_e164 == to, OutboundMessage.provider_sid.is_not(None))))
        for scanned, pm in enumerate(provider.list_messages(to=to, page_size=50)):
            if scanned >= MAX_LOOKUP_SCAN:
                break
            if not pm.direction.startswith("outbound") or pm.body != body or pm.sid in known:
                continue
            created = pm.date_created
            if created is not None and created < since - LOOKUP_SKEW:
                continue
            if pm.status == "scheduled" or (
                    pm.date_sent is not None and abs(pm.date_sent - send_at) <= LOOKUP_SKEW):
                return pm
        return None

    # --- cancel --------------------------------------------------------------------------
    def cancel_one(self, actor: Actor, message_id: int,
                   provider: SmsProvider | None = None) -> CancelOutcome:
        """Cancel one held text at Twilio (``Status=canceled``); says why when it can't.

        Twilio's 30409 (no longer scheduled) becomes "Too late: already sent at …" and the row
        takes the message's real state from Twilio. The row changes only with a conditional
        UPDATE from ``held``, so two desktops canceling at once record one cancel.
        """
        actor.require_sms("cancel texts")
        with self.db.session() as s:
            row = s.execute(select(OutboundMessage.state, OutboundMessage.provider_sid,
                                   OutboundMessage.send_at)
                            .where(OutboundMessage.id == message_id)).first()
        if row is None:
            return CancelOutcome(message_id, False, f"Message {message_id} does not exist.")
        state, sid, send_at = row
        if state == OutboundState.HOLDING.value:
            return CancelOutcome(message_id, False, (
                f"Message {message_id} can't be canceled yet: it is being handed to Twilio "
                "right now. Try again in a minute."))
        if state != OutboundState.HELD.value or not sid:
            return CancelOutcome(message_id, False,
                                 f"Message {message_id} is not held by Twilio (it is {state}).")
        chosen = provider or self.provider_factory()
        now = self.clock()
        try:
            chosen.cancel(sid)
        except NotCancelableError:
            return self._too_late(message_id, sid, chosen)
        except ProviderError as exc:
            return CancelOutcome(message_id, False, (
                f"Message {message_id} could not be canceled at Twilio ({exc.sentence.rstrip('.')}"
                f"); it is still held and goes out at {_local_time(send_at)} unless canceled. "
                "Try again."))
        with self.db.transaction() as s:
            changed = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id,
                       OutboundMessage.state == OutboundState.HELD.value)
                .values(state=OutboundState.CANCELED.value, provider_status="canceled",
                        canceled_by_id=actor.user_id, status_updated_at=now)
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if changed == 1:
                audit.record(s, actor, "sms.cancel", now, target_type="message",
                             target_id=message_id, detail="canceled at Twilio")
        if changed != 1:
            return CancelOutcome(message_id, False,
                                 f"Message {message_id} was already canceled.")
        log.info("held message %s canceled at Twilio", message_id)
        return CancelOutcome(message_id, True)

    def _too_late(self, message_id: int, sid: str, provider: SmsProvider) -> CancelOutcome:
        try:
            real = provider.fetch(sid)
        except ProviderError as exc:
            return CancelOutcome(message_id, False, (
                f"Too late: Twilio has already sent message {message_id} (its status could not "
                f"be read: {exc.sentence.rstrip('.')})."))
        self._apply_status(message_id, real)
        if real.status == "canceled":
            return CancelOutcome(message_id, False, f"Message {message_id} was already canceled.")
        return CancelOutcome(message_id, False, (
            f"Too late: already sent at {_local_time(real.date_sent or real.date_updated)} "
            f"(Twilio says it is {real.status})."))

    def _apply_status(self, message_id: int, real: ProviderMessage) -> bool:
        """Record what Twilio says about a held text; True when the row changed."""
        return _apply_real_state(self.db, message_id, real, self.clock)

    def edit(self, actor: Actor, outbound: OutboundService, message_id: int, body: str,
             send_at: datetime) -> int:
        """Change a held text's words or time: cancel it at Twilio, then schedule a new text.

        Twilio can't change a scheduled message, so an edit is a cancel and a new hold (the new
        text is held again when it is still eligible, else it waits in our queue). The new text
        is checked first, so a refused edit leaves the held text as it was. Returns the new
        message id; raises ValidationError (with the cancel's reason) when it can't be canceled.
        """
        actor.require_sms("change texts")
        try:
            validate_body(body)
        except BodyError as exc:
            raise ValidationError(str(exc)) from None
        outbound.check_send_at(send_at)
        with self.db.session() as s:
            row = s.execute(select(OutboundMessage.matter_id, OutboundMessage.to_raw,
                                   OutboundMessage.kind)
                            .where(OutboundMessage.id == message_id)).first()
        if row is None or row[0] is None or row[2] != "client":
            raise ValidationError(f"Message {message_id} is not a client text held by Twilio.")
        outcome = self.cancel_one(actor, message_id)
        if not outcome.canceled:
            raise ValidationError(outcome.reason)
        new_id = outbound.send(actor, int(row[0]), str(row[1]), body, send_at=send_at)
        self.hold_pending()
        return new_id

    # --- status --------------------------------------------------------------------------
    def refresh(self, provider: SmsProvider | None = None, *, all_held: bool = False) -> list[int]:
        """Fetch held texts from Twilio and record any that went out or were canceled there.

        Fetched: texts due by now (plus a minute), and the others once every HELD_RECHECK (so
        a cancel in Twilio's Console shows up); ``all_held`` fetches every held text. Returns
        the changed ids.
        """
        now = self.clock()
        stmt = select(OutboundMessage.id, OutboundMessage.provider_sid).where(
            OutboundMessage.state == OutboundState.HELD.value,
            OutboundMessage.provider_sid.is_not(None))
        if not all_held:
            stmt = stmt.where(or_(OutboundMessage.send_at <= now + timedelta(minutes=1),
                                  OutboundMessage.status_updated_at.is_(None),
                                  OutboundMessage.status_updated_at < now - HELD_RECHECK))
        with self.db.session() as s:
            rows = s.execute(stmt.order_by(OutboundMessage.send_at)).all()
        if not rows:
            return []
        chosen = provider or self.provider_factory()
        changed: list[int] = []
        for message_id, sid in rows:
            try:
                real = chosen.fetch(str(sid))
            except ProviderError:
                continue
            if self._apply_status(int(message_id), real):
                changed.append(int(message_id))
            elif real.status == "scheduled":
                with self.db.transaction() as s:
                    s.execute(update(OutboundMessage)
                              .where(OutboundMessage.id == message_id,
                                     OutboundMessage.state == OutboundState.HELD.value)
                              .values(status_updated_at=now)
                              .execution_options(synchronize_session=False))
        return changed

    # --- our rules -----------------------------------------------------------------------
    def sweep(self, provider: SmsProvider | None = None) -> list[int]:
        """Cancel at Twilio every held text that our rules no longer allow to go out.

        A held client text is canceled when its number's line opted out (STOP), under
        `opt_out_scope` = client when another of its client's numbers did, when its client's
        consent is now "no", or when its matter is closed or rejected. Returns the canceled
        ids.
        """
        with self.db.session() as s:
            (scope,) = read_setting_values(s, "opt_out_scope")
            # Opt-outs compare by line (services/consent.opt_out_key): "+521…" is "+52…".
            own_stop = exists().where(OptOut.opted_out.is_(True),
                                      OptOut.phone_key == OutboundMessage.to_key)
            # Scope `client`: a STOP from any of the case's client numbers stops texts to all
            # of them (the mobile's STOP cancels a held text to the home number).
            client_stop = (and_(Matter.id.is_not(None), exists().where(
                OptOut.opted_out.is_(True),
                or_(OptOut.phone_key == Matter.mobile_key, OptOut.phone_key == Matter.home_key)),
                or_(OutboundMessage.to_key == Matter.mobile_key,
                    OutboundMessage.to_key == Matter.home_key))
                if scope == "client" else false())
            rows = s.execute(
                select(OutboundMessage.id, OutboundMessage.to_e164, Matter.stage, Matter.consent,
                       own_stop, client_stop)
                .outerjoin(Matter, OutboundMessage.matter_id == Matter.id)
                .where(OutboundMessage.state == OutboundState.HELD.value,
                       OutboundMessage.kind == "client",
                       or_(own_stop, client_stop,
                           and_(Matter.id.is_not(None),
                                or_(Matter.stage.in_(["closed", "rejected"]),
                                    Matter.consent == "no"))))).all()
        if not rows:
            return []
        chosen = provider or self.provider_factory()
        canceled: list[int] = []
        for message_id, _to, stage, _consent, opted_out, client_opted_out in rows:
            if opted_out:
                reason = "The number replied STOP; the text held by Twilio was canceled."
            elif client_opted_out:
                reason = ("The client replied STOP from another number; the text held by "
                          "Twilio was canceled.")
            elif stage in ("closed", "rejected"):
                reason = f"The case was {stage}; the text held by Twilio was canceled."
            else:
                reason = "The client said no to texts; the text held by Twilio was canceled."
            canceled += cancel_held_texts(self.db, chosen, [int(message_id)], reason,
                                          self.clock)
        return canceled


def request_cancel(session: Session, message_id: int, reason: str) -> bool:
    """Inside the caller's transaction, mark a `held`/`holding` text to be canceled at Twilio.

    No network call: :meth:`HeldTexts.settle_cancel_requests` posts the cancel after the
    commit (the calendar's after-commit hook, then every dispatcher run until it is done).
    ``reason`` (a sentence) becomes the text's error message. True when the row was marked.
    """
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id,
               OutboundMessage.state.in_([OutboundState.HELD.value,
                                          OutboundState.HOLDING.value]))
        .values(claim_token=CANCEL_REQUESTED, error_message=reason)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def cancel_held_for(db: Database, provider: SmsProvider, *, to_e164: str | None = None,
                    matter_id: int | None = None, reason: str,
                    clock: Clock = utcnow) -> list[int]:
    """Cancel at Twilio every held text to ``to_e164`` and/or from ``matter_id``.

    For the places that cancel a client's waiting texts (a STOP, consent revoked, a matter
    closed or rejected): local texts are canceled in the database, held ones must be canceled
    at Twilio too. ``reason`` (a sentence) is stored as the text's error message. Provider
    failures are logged and the text stays held (the next poll's sweep tries again). Returns
    the ids canceled.
    """
    if to_e164 is None and matter_id is None:
        raise ValueError("give to_e164 or matter_id")
    stmt = select(OutboundMessage.id).where(OutboundMessage.state == OutboundState.HELD.value)
    if to_e164 is not None:
        stmt = stmt.where(OutboundMessage.to_e164 == to_e164)
    if matter_id is not None:
        stmt = stmt.where(OutboundMessage.matter_id == matter_id)
    with db.session() as s:
        ids = [int(i) for i in s.scalars(stmt)]
    return cancel_held_texts(db, provider, ids, reason, clock)


def cancel_held_texts(db: Database, provider: SmsProvider, ids: Iterable[int], reason: str,
                      clock: Clock = utcnow) -> list[int]:
    """Cancel the given held texts at Twilio (no user: a rule did it); returns those canceled.

    A 30409 answer (already sent) records Twilio's real state instead.
    """
    canceled: list[int] = []
    for message_id in ids:
        with db.session() as s:
            sid = s.scalar(select(OutboundMessage.provider_sid).where(
                OutboundMessage.id == message_id,
                OutboundMessage.state == OutboundState.HELD.value))
        if not sid:
            continue
        try:
            provider.cancel(sid)
        except NotCancelableError:
            _record_real_state(db, provider, message_id, sid, clock)
            continue
        except ProviderError as exc:
            log.warning("held message %s could not be canceled at Twilio: %s", message_id,
                        exc.sentence)
            continue
        with db.transaction() as s:
            changed = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id,
                       OutboundMessage.state == OutboundState.HELD.value)
                .values(state=OutboundState.CANCELED.value, provider_status="canceled",
                        status_updated_at=clock(), error_message=reason)
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if changed == 1:
            canceled.append(message_id)
            log.info("held message %s canceled at Twilio by a rule", message_id)
    return canceled


def _record_real_state(db: Database, provider: SmsProvider, message_id: int, sid: str,
                       clock: Clock) -> None:
    try:
        real = provider.fetch(sid)
    except ProviderError:
        return
    _apply_real_state(db, message_id, real, clock)


def _apply_real_state(db: Database, message_id: int, real: ProviderMessage,
                      clock: Clock) -> bool:
    """Move a `held` row to the state Twilio reports (not while still scheduled)."""
    new_state = outbound_state_from_twilio(real.status)
    if real.status == "scheduled" or new_state is None:
        return False
    now = clock()
    values: dict[str, Any] = dict(state=new_state.value, provider_status=real.status[:20],
                                  status_updated_at=now)
    if new_state is not OutboundState.CANCELED:
        values["sent_at"] = real.date_sent or now
    if real.error_code:
        values.update(error_code=real.error_code, error_message=real.error_message)
    with db.transaction() as s:
        changed = s.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id,
                   OutboundMessage.state == OutboundState.HELD.value)
            .values(**values).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return bool(changed == 1)


def held_wakeup(session: Session, now: datetime) -> datetime | None:
    """When a scheduled text next becomes eligible to be held (it comes within 35 days), or a
    `holding` lease runs out; None when nothing is waiting for that."""
    candidates = [
        session.scalar(select(func.min(OutboundMessage.send_at)).where(
            OutboundMessage.state == OutboundState.SCHEDULED.value,
            OutboundMessage.error_code.is_(None),
            OutboundMessage.send_at > now + MAX_HOLD_AHEAD)),
        session.scalar(select(func.min(OutboundMessage.lease_until)).where(
            OutboundMessage.state == OutboundState.HOLDING.value)),
    ]
    found: list[datetime] = []
    if candidates[0] is not None:
        found.append(candidates[0] - MAX_HOLD_AHEAD)
    if candidates[1] is not None:
        found.append(candidates[1] + timedelta(seconds=1))
    return min(found) if found else None
