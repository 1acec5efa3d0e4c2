"""The dispatcher: sends due texts exactly once with any number of desktops (SPEC F3).

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import OutboundMessage
from desktop_sms.domain.phones import mask
from desktop_sms.providers.base import (
    OptedOutError,
    ProviderError,
    SmsProvider,
)
from desktop_sms.services.common import Clock, utcnow
from desktop_sms.services.outbound import record_opt_out
from desktop_sms.services.settings import SettingsService

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 20.0  # 20, 40, 80, 160 s between five attempts: about ten minutes in all
BACKOFF_MAX_S = 300.0
CLAIM_BATCH = 200


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

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.failed or self.retried or self.missed or self.reconciled)


class Dispatcher:
    """Claims and sends due messages; safe to run on several desktops at once."""

    def __init__(self, db: Database, settings: SettingsService,
                 provider_factory: Callable[[], SmsProvider], clock: Clock = utcnow,
                 desktop_id: str | None = None, lease: timedelta = DEFAULT_LEASE,
                 max_attempts: int = MAX_ATTEMPTS, rng: random.Random | None = None) -> None:
        self.db = db
        self.settings = settings
        self.provider_factory = provider_factory
        self.clock = clock
        self.desktop_id = desktop_id or new_desktop_id()
        self.lease = lease
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self._provider: SmsProvider | None = None

    @property
    def provider(self) -> SmsProvider:
        if self._provider is None:
            self._provider = self.provider_factory()
        return self._provider

    def reset_provider(self) -> None:
        """Forget the provider so the next send builds one from the current settings."""
        self._provider = None

    # --- the run ------------------------------------------------------------------------
    def run_due(self) -> DispatchReport:
        """Promote due messages, mark the too-late ones missed, reconcile, then send."""
        report = DispatchReport()
        now = self.clock()
        self._promote_and_expire(now, report)
        self._reconcile_expired_leases(now, report)
        while True:
            ids = self._due_ids(self.clock())
            if not ids:
                break
            progressed = False
            for message_id in ids:
                if self._claim(message_id):
                    progressed = True
                    self._send_claimed(message_id, report)
            if not progressed:
                break
        return report

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
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

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
        now = self.clock()
        with self.db.transaction() as s:
            result = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id, OutboundMessage.state == "sending",
                       OutboundMessage.claimed_by == self.desktop_id)
                .values(state="sent", provider_sid=sent.sid, provider_status=sent.status,
                        sent_at=now, status_updated_at=now, lease_until=None,
                        next_attempt_at=None, error_code=None, error_message=None)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                # Our lease ran out and another desktop reconciled the row meanwhile: it found
                # this very message at the provider (same body, same recipient) and filed it.
                log.warning("message %s was reconciled by another desktop", message_id)
        report.sent.append(message_id)
        log.info("message %s sent to %s", message_id, mask(to))

    def _record_failure(self, message_id: int, to: str, attempts: int, exc: ProviderError,
                        report: DispatchReport, force_transient: bool = False) -> None:
        now = self.clock()
        transient = exc.transient or force_transient
        values: dict[str, object] = {"error_code": exc.code, "error_message": exc.sentence,
                                     "lease_until": None, "status_updated_at": now}
        if transient and attempts < self.max_attempts:
            delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempts - 1))
            delay = delay * (0.5 + self.rng.random())  # jitter: desktops don't retry in step
            if exc.retry_after:
                delay = max(delay, exc.retry_after)
            values.update(state="queued", next_attempt_at=now + timedelta(seconds=delay))
            report.retried.append(message_id)
        else:
            values.update(state="failed")
            report.failed.append(message_id)
        with self.db.transaction() as s:
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.id == message_id, OutboundMessage.state == "sending",
                             OutboundMessage.claimed_by == self.desktop_id)
                      .values(**values).execution_options(synchronize_session=False))
            if isinstance(exc, OptedOutError):
                record_opt_out(s, to, True, "provider", now)
        log.info("message %s to %s: %s (code %s)", message_id, mask(to),
                 "retry later" if values["state"] == "queued" else "failed", exc.code)

    # --- crash recovery -----------------------------------------------------------------
    def reconcile_on_startup(self) -> DispatchReport:
        """At start-up every `sending` row claimed by a desktop that is gone is reconciled.

        Rows of other running desktops keep their lease; this desktop's own earlier process
        is gone, so its rows are taken over at once (a fresh id is used per process).
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
                values = dict(state="queued", lease_until=None, next_attempt_at=None)
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

    def _find_at_provider(self, to: str, body: str,
                          since: datetime) -> tuple[str, str, datetime | None] | None:
        """A message at the provider to `to` with this body, created since the claim."""
        skew = timedelta(minutes=5)
        with self.db.session() as s:
            known = set(s.scalars(select(OutboundMessage.provider_sid).where(
                OutboundMessage.to_e164 == to, OutboundMessage.provider_sid.is_not(None))))
        for pm in self.provider.list_messages(to=to,
                                              date_sent_on_or_after=(since - timedelta(days=1)).date()):
            if pm.direction.startswith("outbound") and pm.body == body and pm.sid not in known:
                created = pm.date_created or pm.date_sent
                if created is None or created >= since - skew:
                    return pm.sid, pm.status, pm.date_sent or pm.date_created
        return None


def claim_owner(session: Session, message_id: int) -> str | None:
    """Which desktop holds a message's claim (for tests and diagnostics)."""
    return session.scalar(select(OutboundMessage.claimed_by)
                          .where(OutboundMessage.id == message_id))
