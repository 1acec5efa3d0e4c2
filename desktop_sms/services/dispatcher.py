"""The dispatcher: sends due texts exactly once with any number of desktops (docs/product.md F3).

The database is the source of truth. A due message is claimed with one conditional UPDATE
(`state='queued' → 'sending'` with this desktop's id and a lease); only the desktop whose
update changed the row calls the provider, and the provider id is stored in that same row.
A row left in `sending` (a crash, a killed process) is reconciled against the provider's own
list of messages before anything is sent again: Twilio has no idempotency key.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import OutboundBatch, OutboundMessage
from desktop_sms.domain.phones import mask
from desktop_sms.providers.base import (
    OptedOutError,
    ProviderError,
    ProviderMessage,
    SmsProvider,
)
from desktop_sms.services.common import Clock, utcnow
from desktop_sms.services.consent import hold_quiet_hours, opt_out_key, opted_out_keys
from desktop_sms.services.outbound import record_opt_out
from desktop_sms.services.pacing import Pacer
from desktop_sms.services.settings import SettingsService

if TYPE_CHECKING:
    from desktop_sms.services.held import HeldTexts

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 20.0  # 20, 40, 80, 160 s between five attempts: about ten minutes in all
BACKOFF_MAX_S = 300.0
CLAIM_BATCH = 200  # due ids looked at per pass
CLAIM_CHUNK = 16  # claimed by one conditional UPDATE, then sent: well inside one lease
SEND_WORKERS = 4  # texts in flight at once (the provider's latency, not the database, bounds a run)
# A claim this close to its lease's end is not sent: one provider call can take two time-outs
# (connect + read, 10 s each) plus a look-up, and must finish while the lease still holds.
LEASE_MARGIN = timedelta(seconds=30)
MAX_LOOKUP_SCAN = 500  # texts to one number read back when looking for an unanswered send
CHECKING_SENTENCE = ("Twilio's answer to this text was unclear; checking with Twilio whether it "
                     "went before trying again. It will not be sent twice.")
NOT_SENT_AFTER_CHECK = ("Twilio did not answer clearly several times and does not have this text: "
                        "it was not sent. Choose Send again to try once more.")
OPTED_OUT_SENTENCE = ("The number replied STOP after this text was written and has opted out "
                      "of texts; it was not sent.")


_OUT_TABLE = cast(Table, OutboundMessage.__table__)
_OUT = _OUT_TABLE.c
# Built once: the conditional UPDATE that files a message the provider accepted.
_MARK_SENT = (
    update(_OUT_TABLE)
    .where(_OUT.id == bindparam("b_id"), _OUT.state == "sending",
           _OUT.claimed_by == bindparam("b_desktop"))
    .values(state="sent", provider_sid=bindparam("b_sid"), provider_status=bindparam("b_status"),
            sent_at=bindparam("b_sent", type_=_OUT.sent_at.type),
            status_updated_at=bindparam("b_now", type_=_OUT.sent_at.type), lease_until=None,
            next_attempt_at=None, error_code=None, error_message=None, verify_since=None))


def provider_sent_at(message: ProviderMessage, fallback: datetime) -> datetime:
    """When a text was sent, by Twilio's clock: its `date_sent`, else its `date_created`
    (Twilio's answer to the create request), else `fallback` (this desktop's clock).

    Replies are dated by Twilio, so matching the latest text before a reply compares
    Twilio's times with Twilio's times even when this desktop's clock is off
    (docs/media_and_clocks.md). Aware UTC.
    """
    return message.date_sent or message.date_created or fallback


def new_desktop_id() -> str:
    """A name for this running process, unique across desktops (host, random part)."""
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}"


@dataclass
class DispatchReport:
    """What one dispatcher run did."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    reconciled: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # handed to Twilio to hold (or settled)

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.failed or self.retried or self.missed or self.reconciled
                    or self.held)


@dataclass(frozen=True)
class _Claimed:
    """A message this desktop's own conditional UPDATE moved to `sending`."""

    id: int
    to: str
    body: str
    from_: str | None
    attempts: int
    lease_until: datetime
    verify_since: datetime | None = None  # look for it at the provider before sending again
    batch_id: int | None = None  # its outbound_batches row, if sent as part of a batch


@dataclass(frozen=True)
class _Outcome:
    """What the provider said about one claimed message."""

    claimed: _Claimed
    sent: ProviderMessage | None = None
    error: ProviderError | None = None
    force_transient: bool = False
    not_sent: bool = False  # the lease ran short before its turn: left for reconciliation
    canceled: bool = False  # its batch was canceled while it waited for its pace slot


class Dispatcher:
    """Claims and sends due messages; safe to run on several desktops at once."""

    def __init__(self, db: Database, settings: SettingsService,
                 provider_factory: Callable[[], SmsProvider], clock: Clock = utcnow,
                 desktop_id: str | None = None, lease: timedelta = DEFAULT_LEASE,
                 max_attempts: int = MAX_ATTEMPTS, rng: random.Random | None = None,
                 workers: int = SEND_WORKERS, pacer: Pacer | None = None) -> None:
        self.db = db
        # Never faster than max_messages_per_second across the send pool (read once per run).
        self.pacer = pacer or Pacer()
        self.settings = settings
        self.provider_factory = provider_factory
        self.clock = clock
        self.desktop_id = desktop_id or new_desktop_id()
        self.lease = lease
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self.workers = max(1, workers)
        self._provider: SmsProvider | None = None
        # Providers for the sending threads, one per thread at a time (a TwilioProvider holds
        # one requests Session, which is not meant to be shared between threads).
        self._spare_providers: list[SmsProvider] = []
        self._providers_lock = threading.Lock()
        self._providers_generation = 0  # bumped by reset_provider: in-flight ones are dropped
        self._run_lock = threading.Lock()
        # Texts held by Twilio (services/held.py): set by build_services; None keeps all local.
        self.held: HeldTexts | None = None
        self._stopping = False

    def stop(self) -> None:
        """The application is quitting: claimed texts not yet handed to the provider are
        left for reconciliation (as when a lease runs short) and no new claims are made."""
        self._stopping = True

    @property
    def provider(self) -> SmsProvider:
        if self._provider is None:
            self._provider = self.provider_factory()
        return self._provider

    def reset_provider(self) -> None:
        """Forget the provider so the next send builds one from the current settings."""
        self._provider = None
        with self._providers_lock:
            self._spare_providers.clear()
            self._providers_generation += 1

    # --- the run ------------------------------------------------------------------------
    def run_due(self) -> DispatchReport:
        """Promote due messages, mark the too-late ones missed, reconcile, then send.

        Settings are read once per run. Due messages are claimed CLAIM_CHUNK at a time by one
        conditional UPDATE carrying a fresh claim token; only the rows that UPDATE changed
        (read back by token in the same transaction) are sent, on up to `workers` threads.
        Each result is written by this thread with the same conditional UPDATE as before.
        """
        if not self._run_lock.acquire(blocking=False):
            # The alarm's wake-up and safety tick can fire together: one run at a time per
            # process, or a late result of one run could overwrite the other's claim.
            return DispatchReport()
        try:
            return self._run_due()
        finally:
            self._run_lock.release()

    def _run_due(self) -> DispatchReport:
        report = DispatchReport()
        # The provider is built afresh for every run: another desktop may have switched the
        # office between Sandbox and Twilio (a setting in the shared database) since the last.
        self.reset_provider()
        now = self.clock()
        self._promote_and_expire(now, report)
        self._reconcile_expired_leases(now, report)
        service_sid = str(self.settings.get("messaging_service_sid") or "") or None
        self._hold_at_provider(report, service_sid)
        chunk = self._paced_chunk()
        pool: ThreadPoolExecutor | None = None
        try:
            while not self._stopping:
                ids = self._due_ids(self.clock())
                if not ids:
                    break
                progressed = False
                for start in range(0, len(ids), chunk):
                    claimed = self._claim_batch(ids[start:start + chunk], report)
                    if not claimed:
                        continue
                    progressed = True
                    if pool is None and len(claimed) > 1 and self.workers > 1:
                        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="dispatch")
                    self._send_batch(claimed, service_sid, report, pool)
                if not progressed:
                    break
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return report

    def _paced_chunk(self) -> int:
        """Set the pace from the settings; a slow pace claims fewer texts at a time, so a
        chunk is sent well inside its lease."""
        self.pacer.rate = float(self.settings.get("max_messages_per_second"))
        usable = (self.lease - LEASE_MARGIN).total_seconds() / 2
        return max(1, min(CLAIM_CHUNK, int(self.pacer.rate * usable)))

    def next_wakeup(self) -> datetime | None:
        """When the next message falls due here: a schedule, a retry, or a lease running out."""
        with self.db.session() as s:
            candidates = [
                s.scalar(select(func.min(OutboundMessage.send_at))
                         .where(OutboundMessage.state == "scheduled")),
                s.scalar(select(func.min(func.coalesce(OutboundMessage.next_attempt_at,
                                                       OutboundMessage.send_at)))
                         .where(OutboundMessage.state == "queued")),
                s.scalar(select(func.min(OutboundMessage.lease_until))
                         .where(OutboundMessage.state == "sending")),
            ]
            if self.held is not None:
                from desktop_sms.services.held import held_wakeup

                candidates.append(held_wakeup(s, self.clock()))
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    def _hold_at_provider(self, report: DispatchReport, service_sid: str | None) -> None:
        """Hand eligible scheduled texts to Twilio to hold (docs/held_by_twilio.md)."""
        if self.held is None:
            return
        try:
            held = self.held.hold_pending(service_sid=service_sid,
                                          provider_getter=lambda: self.provider)
        except ProviderError as exc:
            report.errors.append(f"handing texts to Twilio: {exc.sentence}")
            return
        report.held.extend(held.held + held.sent_now + held.reconciled)
        report.errors.extend(held.errors)

    # --- steps --------------------------------------------------------------------------
    def _grace(self) -> timedelta:
        return timedelta(minutes=int(self.settings.get("overdue_grace_minutes")))

    def _promote_and_expire(self, now: datetime, report: DispatchReport) -> None:
        """Scheduled and never-tried queued messages more than the grace late become missed."""
        cutoff = now - self._grace()
        with self.db.transaction() as s:
            late = list(s.scalars(select(OutboundMessage.id).where(
                OutboundMessage.send_at < cutoff,
                or_(OutboundMessage.state == "scheduled",
                    and_(OutboundMessage.state == "queued", OutboundMessage.attempts == 0)))))
            if late:
                s.execute(update(OutboundMessage)
                          .where(OutboundMessage.id.in_(late),
                                 OutboundMessage.state.in_(["scheduled", "queued"]))
                          .values(state="missed", status_updated_at=now,
                                  error_message="Its time passed while no desktop could send "
                                                "it; choose Send now or Cancel.")
                          .execution_options(synchronize_session=False))
                report.missed.extend(late)
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.state == "scheduled", OutboundMessage.send_at <= now)
                      .values(state="queued")
                      .execution_options(synchronize_session=False))

    def _due_ids(self, now: datetime) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(
                select(OutboundMessage.id)
                .where(OutboundMessage.state == "queued", OutboundMessage.send_at <= now,
                       or_(OutboundMessage.next_attempt_at.is_(None),
                           OutboundMessage.next_attempt_at <= now))
                .order_by(OutboundMessage.send_at, OutboundMessage.id).limit(CLAIM_BATCH)))

    def _claim_batch(self, ids: Sequence[int],
                     report: DispatchReport | None = None) -> list[_Claimed]:
        """One conditional UPDATE for a chunk of due ids; returns the rows it changed.

        The UPDATE stamps a token unique to this claim; reading the rows back by that token in
        the same transaction yields exactly the rows this desktop won (a row another desktop
        or a cancel took first no longer matches `state='queued'`). On PostgreSQL the rows
        are locked in id order with SKIP LOCKED, so two desktops never wait on each other.
        """
        now = self.clock()
        token = uuid.uuid4().hex
        lease_until = now + self.lease
        due = (OutboundMessage.state == "queued", OutboundMessage.send_at <= now,
               or_(OutboundMessage.next_attempt_at.is_(None),
                   OutboundMessage.next_attempt_at <= now))
        lockable = (select(OutboundMessage.id).where(OutboundMessage.id.in_(list(ids)), *due)
                    .order_by(OutboundMessage.id).with_for_update(skip_locked=True))
        with self.db.transaction() as s:
            s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id.in_(lockable.scalar_subquery()), *due)
                .values(state="sending", claimed_by=self.desktop_id, claim_token=token,
                        claimed_at=now, lease_until=lease_until,
                        attempts=OutboundMessage.attempts + 1)
                .execution_options(synchronize_session=False))
            rows = s.execute(
                select(OutboundMessage.id, OutboundMessage.to_e164, OutboundMessage.body,
                       OutboundMessage.from_number, OutboundMessage.attempts,
                       OutboundMessage.verify_since, OutboundMessage.batch_id)
                .where(OutboundMessage.id.in_(list(ids)), OutboundMessage.claim_token == token,
                       OutboundMessage.claimed_by == self.desktop_id,
                       OutboundMessage.state == "sending")
                .order_by(OutboundMessage.send_at, OutboundMessage.id)).all()
            # A number may have replied STOP after its text was written (scheduled on Monday
            # for Friday): refused here, before the provider is called (docs/product.md F10).
            # Compared by line (services/consent.opt_out_key): "+521…" and "+52…" are one.
            stopped_keys = opted_out_keys(s, {r[1] for r in rows})
            stopped = {r[1] for r in rows if opt_out_key(r[1]) in stopped_keys}
            if stopped:
                blocked = [r[0] for r in rows if r[1] in stopped]
                s.execute(update(OutboundMessage)
                          .where(OutboundMessage.id.in_(blocked),
                                 OutboundMessage.claim_token == token)
                          .values(state="failed", error_code=21610, lease_until=None,
                                  status_updated_at=now, error_message=OPTED_OUT_SENTENCE)
                          .execution_options(synchronize_session=False))
                if report is not None:
                    report.failed.extend(blocked)
                log.info("%d due text(s) not sent: the number opted out", len(blocked))
            # Due inside the recipient's quiet hours: scheduled again for when they end.
            held = hold_quiet_hours(s, [r[0] for r in rows if r[1] not in stopped], token, now)
        return [_Claimed(r[0], r[1], r[2], r[3], r[4], lease_until, r[5], r[6]) for r in rows
                if r[1] not in stopped and r[0] not in held]

    def _send_batch(self, claimed: list[_Claimed], service_sid: str | None,
                    report: DispatchReport, pool: ThreadPoolExecutor | None) -> None:
        """Send claimed messages (on the pool when given) and record each result here."""
        results: dict[int, str] = {}
        if pool is None or len(claimed) == 1:
            for c in claimed:
                results.update(self._record([self._send_one(c, service_sid,
                                                            lambda: self.provider)]))
        else:
            pending: set[Future[_Outcome]] = {
                pool.submit(self._send_pooled, c, service_sid) for c in claimed}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                # What finished meanwhile is written in one transaction (sent rows) here.
                results.update(self._record([f.result() for f in done]))
        for c in claimed:  # the report lists messages in their due order, not finishing order
            kind = results[c.id]
            if kind:
                getattr(report, kind).append(c.id)

    def _send_pooled(self, c: _Claimed, service_sid: str | None) -> _Outcome:
        """`_send_one` on a pool thread, with a provider no other thread is using."""
        taken: list[tuple[SmsProvider, int]] = []

        def provider() -> SmsProvider:
            with self._providers_lock:
                spare = self._spare_providers.pop() if self._spare_providers else None
                generation = self._providers_generation
            taken.append((spare or self.provider_factory(), generation))
            return taken[0][0]

        try:
            return self._send_one(c, service_sid, provider)
        finally:
            if taken:
                with self._providers_lock:
                    if taken[0][1] == self._providers_generation:
                        self._spare_providers.append(taken[0][0])

    def _send_one(self, c: _Claimed, service_sid: str | None,
                  provider: Callable[[], SmsProvider]) -> _Outcome:
        """Call the provider for one claimed message; never raises."""
        self.pacer.wait_turn()
        if self._stopping or self.clock() >= c.lease_until - min(LEASE_MARGIN, self.lease / 4):
            # Another desktop may take the row over when the lease ends; sending now could send
            # it twice. Reconciliation after the lease settles it (found → sent, else queued).
            return _Outcome(c, not_sent=True)
        if c.batch_id is not None and c.verify_since is None and self._cancel_if_batch_canceled(c):
            return _Outcome(c, not_sent=True, canceled=True)
        try:
            if c.verify_since is not None:
                # The last attempt's outcome is unknown: the provider may already have it.
                try:
                    found = self._find_at_provider(c.to, c.body, c.verify_since, provider())
                except ProviderError as exc:
                    # Still unknown: keep checking, never send blind (docs/outcome_unknown.md).
                    log.info("message %s: look-up failed (%s)", c.id, type(exc).__name__)
                    return _Outcome(c, error=ProviderError(CHECKING_SENTENCE, ambiguous=True,
                                                           retry_after=exc.retry_after))
                if found is None and c.attempts > self.max_attempts:
                    # The look-up says it is not there: now it may be offered for resend.
                    return _Outcome(c, error=ProviderError(NOT_SENT_AFTER_CHECK))
                if found is not None:
                    log.info("message %s was already at the provider; not sent again", c.id)
                    return _Outcome(c, sent=ProviderMessage(
                        sid=found[0], direction="outbound-api", from_=c.from_ or "", to=c.to,
                        body=c.body, status=found[1], date_sent=found[2]))
            sent = provider().send(to=c.to, body=c.body, from_=None if service_sid else c.from_,
                                   messaging_service_sid=service_sid)
        except ProviderError as exc:
            return _Outcome(c, error=exc)
        except Exception as exc:  # a bug or garbage from the provider: retry, never lose it
            log.exception("unexpected error sending message %s", c.id)
            return _Outcome(c, error=ProviderError(f"Unexpected error: {exc.__class__.__name__}"),
                            force_transient=True)
        return _Outcome(c, sent=sent)

    def _cancel_if_batch_canceled(self, c: _Claimed) -> bool:
        """True when the row's batch was canceled (Cancel batch) after this desktop claimed it
        and before the provider was called: the row becomes `canceled` with one conditional
        UPDATE (still `sending`, still this desktop's), so it is never sent.

        A chunk is claimed before each text waits for its pace slot (docs/templates.md), so
        without this a batch canceled while sending would still send its claimed texts.
        """
        canceled_batches = (select(OutboundBatch.id)
                            .where(OutboundBatch.canceled_at.is_not(None)).scalar_subquery())
        with self.db.transaction() as s:
            result = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == c.id, OutboundMessage.state == "sending",
                       OutboundMessage.claimed_by == self.desktop_id,
                       OutboundMessage.batch_id.in_(canceled_batches))
                .values(state="canceled", lease_until=None, status_updated_at=self.clock())
                .execution_options(synchronize_session=False))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _record(self, outcomes: list[_Outcome]) -> dict[int, str]:
        """Write results with the conditional UPDATEs of the one-message path.

        The sent ones share one transaction; each failure has its own. Returns, per message,
        the report list it belongs on: "sent", "retried", "failed" or "" (not sent).
        """
        results: dict[int, str] = {}
        sent = [o for o in outcomes if o.sent is not None]
        if sent:
            self._record_sent_many([(o.claimed.id, o.claimed.to, o.sent) for o in sent
                                    if o.sent is not None])
            results.update((o.claimed.id, "sent") for o in sent)
        for o in outcomes:
            c = o.claimed
            if o.error is not None:
                retried = self._write_failure(c.id, c.to, c.attempts, o.error, o.force_transient)
                results[c.id] = "retried" if retried else "failed"
            elif o.canceled:
                log.info("message %s not sent: its batch was canceled", c.id)
                results[c.id] = ""
            elif o.sent is None:
                log.warning("message %s not sent: its claim's lease was about to run out", c.id)
                results[c.id] = ""
        return results

    def _claim(self, message_id: int) -> bool:
        """One conditional UPDATE; True only for the desktop whose update changed the row."""
        now = self.clock()
        with self.db.transaction() as s:
            result = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id, OutboundMessage.state == "queued")
                .values(state="sending", claimed_by=self.desktop_id, claimed_at=now,
                        lease_until=now + self.lease, attempts=OutboundMessage.attempts + 1)
                .execution_options(synchronize_session=False))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _send_claimed(self, message_id: int, report: DispatchReport) -> None:
        """Send one message claimed by `_claim` (the reconciliation path)."""
        with self.db.session() as s:
            msg = s.get(OutboundMessage, message_id)
            assert msg is not None
            to, body, from_, attempts = msg.to_e164, msg.body, msg.from_number, msg.attempts
        service_sid = str(self.settings.get("messaging_service_sid") or "") or None
        try:
            sent = self.provider.send(to=to, body=body, from_=None if service_sid else from_,
                                      messaging_service_sid=service_sid)
        except ProviderError as exc:
            self._record_failure(message_id, to, attempts, exc, report)
            return
        except Exception as exc:  # a bug or garbage from the provider: retry, never lose it
            log.exception("unexpected error sending message %s", message_id)
            self._record_failure(message_id, to, attempts,
                                 ProviderError(f"Unexpected error: {exc.__class__.__name__}"),
                                 report, force_transient=True)
            return
        self._record_sent(message_id, to, sent)
        report.sent.append(message_id)

    def _record_sent(self, message_id: int, to: str, sent: ProviderMessage) -> None:
        self._record_sent_many([(message_id, to, sent)])

    def _record_sent_many(self, sent: list[tuple[int, str, ProviderMessage]]) -> None:
        """Mark messages sent (each only while this desktop still holds its claim)."""
        now = self.clock()
        with self.db.transaction() as s:
            for message_id, _to, message in sent:
                result = s.execute(_MARK_SENT, {"b_id": message_id, "b_desktop": self.desktop_id,
                                                "b_sid": message.sid, "b_status": message.status,
                                                "b_now": now,
                                                "b_sent": provider_sent_at(message, now)})
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    # Our lease ran out and another desktop reconciled the row meanwhile: it
                    # found this very message at the provider (same body, same recipient).
                    log.warning("message %s was reconciled by another desktop", message_id)
        if log.isEnabledFor(logging.INFO):
            for message_id, to, _message in sent:
                log.info("message %s sent to %s", message_id, mask(to))

    def _record_failure(self, message_id: int, to: str, attempts: int, exc: ProviderError,
                        report: DispatchReport, force_transient: bool = False) -> None:
        if self._write_failure(message_id, to, attempts, exc, force_transient):
            report.retried.append(message_id)
        else:
            report.failed.append(message_id)

    def _write_failure(self, message_id: int, to: str, attempts: int, exc: ProviderError,
                       force_transient: bool = False) -> bool:
        """Queue the message again after a back-off, or fail it; True when it will be retried."""
        now = self.clock()
        transient = exc.transient or force_transient
        values: dict[str, object] = {"error_code": exc.code, "error_message": exc.sentence,
                                     "lease_until": None, "status_updated_at": now}
        retry = transient and attempts < self.max_attempts
        if exc.ambiguous:
            # Outcome unknown: never failed, never offered for resend; the next attempt looks
            # the text up at the provider first (docs/outcome_unknown.md).
            retry = True
            values["error_message"] = CHECKING_SENTENCE
        if retry:
            delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempts - 1))
            delay = delay * (0.5 + self.rng.random())  # jitter: desktops don't retry in step
            if exc.retry_after:
                delay = max(delay, exc.retry_after)
            values.update(state="queued", next_attempt_at=now + timedelta(seconds=delay))
            if exc.ambiguous:
                # The request may have been accepted: the next attempt looks before sending.
                # The earliest unknown attempt counts: a later one must not hide it.
                values["verify_since"] = func.coalesce(
                    OutboundMessage.verify_since, now - self.lease - timedelta(minutes=1))
        else:
            values.update(state="failed", verify_since=None)
        with self.db.transaction() as s:
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.id == message_id, OutboundMessage.state == "sending",
                             OutboundMessage.claimed_by == self.desktop_id)
                      .values(**values).execution_options(synchronize_session=False))
            if isinstance(exc, OptedOutError):
                record_opt_out(s, to, True, "provider", now)
        log.info("message %s to %s: %s (code %s)", message_id, mask(to),
                 "retry later" if retry else "failed", exc.code)
        return retry

    # --- crash recovery -----------------------------------------------------------------
    def reconcile_on_startup(self) -> DispatchReport:
        """At start-up: too-late texts become missed; `sending` rows whose lease has run out
        (a crashed or killed desktop, this one's earlier process included) are reconciled.

        Rows still under a live lease are left alone: their desktop may be sending them now.
        """
        report = DispatchReport()
        now = self.clock()
        self._promote_and_expire(now, report)
        self._reconcile_expired_leases(now, report)
        return report

    def reconcile_all_sending(self) -> DispatchReport:
        """Reconcile every `sending` row regardless of lease (one desktop alone, after a crash)."""
        report = DispatchReport()
        with self.db.session() as s:
            ids = list(s.scalars(select(OutboundMessage.id)
                                 .where(OutboundMessage.state == "sending")))
        for message_id in ids:
            self._reconcile(message_id, report, require_expired=False)
        return report

    def _reconcile_expired_leases(self, now: datetime, report: DispatchReport) -> None:
        with self.db.session() as s:
            ids = list(s.scalars(select(OutboundMessage.id).where(
                OutboundMessage.state == "sending", OutboundMessage.lease_until < now)))
        for message_id in ids:
            self._reconcile(message_id, report, require_expired=True)

    def _reconcile(self, message_id: int, report: DispatchReport, require_expired: bool) -> None:
        """Take the row over, look for it at the provider; found → sent, else queue again."""
        now = self.clock()
        with self.db.transaction() as s:
            conds = [OutboundMessage.id == message_id, OutboundMessage.state == "sending"]
            if require_expired:
                conds.append(OutboundMessage.lease_until < now)
            taken = s.execute(update(OutboundMessage).where(*conds)
                              .values(claimed_by=self.desktop_id, lease_until=now + self.lease)
                              .execution_options(synchronize_session=False))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return
            msg = s.get(OutboundMessage, message_id)
            assert msg is not None
            to, body, since = msg.to_e164, msg.body, msg.claimed_at or msg.created_at
            if msg.verify_since is not None:  # an earlier attempt's outcome is unknown too
                since = min(since, msg.verify_since)
        try:
            match = self._find_at_provider(to, body, since)
        except ProviderError as exc:
            # Can't tell whether it went: leave it claimed until the lease ends, then try again.
            report.errors.append(f"reconciling message {message_id}: {exc.sentence}")
            return
        with self.db.transaction() as s:
            if match is not None:
                values: dict[str, object] = dict(
                    state="sent", provider_sid=match[0], provider_status=match[1],
                    sent_at=match[2] or now, status_updated_at=now, lease_until=None)
            else:
                values = dict(state="queued", lease_until=None, next_attempt_at=None,
                              verify_since=None)
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.id == message_id, OutboundMessage.state == "sending",
                             OutboundMessage.claimed_by == self.desktop_id)
                      .values(**values).execution_options(synchronize_session=False))
        report.reconciled.append(message_id)
        log.info("message %s reconciled: %s", message_id,
                 "found at the provider" if match else "not found, will be sent")
        # Not found at the provider: send it again at once rather than wait for the next alarm.
        if match is None and self._claim(message_id):
            self._send_claimed(message_id, report)

    def _find_at_provider(self, to: str, body: str, since: datetime,
                          provider: SmsProvider | None = None
                          ) -> tuple[str, str, datetime | None] | None:
        """A message at the provider to `to` with this body, created since the claim, that no
        row of ours holds yet."""
        skew = timedelta(minutes=5)
        with self.db.session() as s:
            known = set(s.scalars(select(OutboundMessage.provider_sid).where(
                OutboundMessage.to_e164 == to, OutboundMessage.provider_sid.is_not(None))))
        # No DateSent filter: Twilio leaves DateSent empty while a text waits in its own queue,
        # and such a text must be found too. Twilio lists by DateSent, newest first; the scan
        # stops at the first text *sent* before the claim (one still queued at Twilio, with no
        # DateSent, never stops it) or after MAX_LOOKUP_SCAN texts to that one number.
        listing = (provider or self.provider).list_messages(to=to, page_size=50)
        for scanned, pm in enumerate(listing):
            if scanned >= MAX_LOOKUP_SCAN or (pm.date_sent is not None
                                              and pm.date_sent < since - skew):
                break
            created = pm.date_created or pm.date_sent
            if created is not None and created < since - skew:
                continue
            if pm.direction.startswith("outbound") and pm.body == body and pm.sid not in known:
                return pm.sid, pm.status, pm.date_sent or pm.date_created
        return None


def claim_owner(session: Session, message_id: int) -> str | None:
    """Which desktop holds a message's claim (for tests and diagnostics)."""
    return session.scalar(select(OutboundMessage.claimed_by)
                          .where(OutboundMessage.id == message_id))
