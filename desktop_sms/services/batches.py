"""One text to many clients: preview, queue, progress and cancel (docs/templates.md).

Every recipient gets its own `outbound_messages` row (linked by `batch_id`), so the dispatcher
sends each exactly once with the same claim, retry and opt-out rules as a single text. The
rows are written in one transaction with one multi-row INSERT, and the batch is audited
without message bodies or whole numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import cast

from sqlalchemy import Table, func, insert, select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import Matter, OutboundBatch, OutboundMessage, User
from desktop_sms.domain.phones import format_display
from desktop_sms.domain.segments import (
    GSM7_EXTENSION,
    BodyError,
    count_segments,
    is_gsm7,
    validate_body,
)
from desktop_sms.domain.states import CANCELABLE_STATES, OutboundState
from desktop_sms.domain.templates import TemplateError, fill, validate_template
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, utcnow
from desktop_sms.services.consent import opt_out_key, opted_out_keys, quiet_policy
from desktop_sms.services.outbound import OutboundService
from desktop_sms.services.settings import SettingsService
from desktop_sms.services.templates import TemplateService, merge_values

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 5000
_CHUNK = 500  # ids per IN (…) when reading matters and opt-outs

NO_CONSENT = "no consent"
OPTED_OUT = "opted out"
NO_MOBILE = "no mobile"
INVALID_NUMBER = "invalid number"
QUIET_HOURS = "quiet hours"


@dataclass(frozen=True)
class Recipient:
    """One matter of a batch: its filled text and segments, or why it is skipped."""

    matter_id: int
    case_number: str
    client_name: str
    to: str  # as people read it ('' when there is no mobile)
    to_e164: str | None
    text: str
    segments: int
    reason: str = ""  # '' when the text will go
    fill_reason: str = ""  # a merge field left empty ('client first name is empty'), or ''

    @property
    def skipped(self) -> bool:
        return bool(self.reason)


@dataclass(frozen=True)
class BatchPreview:
    """What a batch would do: the texts that go and the recipients skipped with reasons."""

    recipients: tuple[Recipient, ...]

    @property
    def sending(self) -> list[Recipient]:
        return [r for r in self.recipients if not r.skipped]

    @property
    def skipped(self) -> list[Recipient]:
        return [r for r in self.recipients if r.skipped]


@dataclass(frozen=True)
class BatchLine:
    """One recipient's outcome, as `bulk-send` prints it."""

    case: str
    to: str
    status: str  # queued / scheduled / skipped
    reason: str
    message_id: int | None


@dataclass(frozen=True)
class BatchResult:
    """A batch written: its id (None when every recipient was skipped) and one line each."""

    batch_id: int | None
    lines: tuple[BatchLine, ...]


@dataclass(frozen=True)
class BatchProgress:
    """A batch as SMS → Queue shows it."""

    id: int
    created_at: datetime
    send_at: datetime
    author: str | None
    template_name: str | None
    recipients: int
    skipped: int
    done: int  # sent, delivered or undelivered (handed to the provider)
    failed: int
    canceled: int
    waiting: int  # scheduled, queued, sending or missed
    canceled_at: datetime | None
    estimated_finish: datetime | None  # None once nothing waits

    @property
    def label(self) -> str:
        return (f"Batch {self.id}: {self.done} of {self.recipients} sent"
                + (f", {self.failed} failed" if self.failed else "")
                + (f", {self.canceled} canceled" if self.canceled else "")
                + (f", {self.skipped} skipped" if self.skipped else ""))


def _segments(text: str) -> int:
    """count_segments(text).segments, without its per-character work for plain ASCII text
    (one unit per character, nothing that can't be split): the common case of a batch."""
    if text.isascii() and is_gsm7(text) and not any(c in GSM7_EXTENSION for c in text):
        return 1 if len(text) <= 160 else -(-len(text) // 153)
    return count_segments(text).segments


class BatchService:
    """Writes, lists and cancels batches of texts to many clients."""

    def __init__(self, db: Database, settings: SettingsService, outbound: OutboundService,
                 templates: TemplateService, clock: Clock = utcnow,
                 tz: tzinfo | None = None) -> None:
        self.db = db
        self.settings = settings
        self.outbound = outbound
        self.templates = templates
        self.clock = clock
        self.tz = tz
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Called after a batch is written or canceled."""
        self._listeners.append(listener)

    # --- preview ----------------------------------------------------------------------
    def preview(self, actor: Actor, matter_ids: Sequence[int], *, body: str | None = None,
                template_name: str | None = None,
                send_at: datetime | None = None) -> BatchPreview:
        """Fill the text for each matter and say who is skipped and why; writes nothing.

        Reasons: 'no consent', 'opted out', 'no mobile', 'invalid number', 'quiet hours'
        (the sending time is inside the recipient's quiet hours: `quiet_hours` in the number's
        own zone, stricter states with `quiet_hours_strict_states`, domain/quiet_hours.py;
        docs/consent_and_quiet_hours.md), a merge field left empty
        ('client first name is empty'), or the filled text's own problem (too long).

        Raises:
            ValidationError: no recipients, too many, both or neither of body and template,
                an unknown merge field, or a scheduled time under a minute ahead.
            NotFound: an unknown template.
        """
        actor.require_sms("send texts")
        text = self._text(body, template_name)
        self.outbound.check_send_at(send_at)
        ids = list(dict.fromkeys(matter_ids))
        if not ids:
            raise ValidationError("Choose at least one case to text.")
        if len(ids) > MAX_RECIPIENTS:
            raise ValidationError(f"At most {MAX_RECIPIENTS:,} cases can be texted at once; "
                                  f"{len(ids):,} were chosen.")
        consent_required = bool(self.settings.get("sms_consent_required"))
        office_name, office_phone = self.templates.office_values()
        region = str(self.settings.get("default_region"))
        office_display = format_display(office_phone, region) if office_phone else None
        when = send_at or self.clock()
        with self.db.session() as s:
            policy = quiet_policy(s)
            staff_name = (s.scalar(select(User.name).where(User.id == actor.user_id))
                          if actor.user_id is not None else None)
            matters: dict[int, tuple[str, str, str | None, str | None, str]] = {}
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                for row in s.execute(select(Matter.id, Matter.case_number, Matter.client_name,
                                            Matter.mobile_raw, Matter.mobile_e164,
                                            Matter.consent).where(Matter.id.in_(chunk))):
                    matters[row[0]] = (row[1], row[2], row[3], row[4], row[5])
            numbers = sorted({m[3] for m in matters.values() if m[3]})
            stopped_keys: set[str] = set()  # compared by line ("+521…" and "+52…" are one)
            for start in range(0, len(numbers), _CHUNK):
                stopped_keys |= opted_out_keys(s, numbers[start:start + _CHUNK])
            stopped = {n for n in numbers if opt_out_key(n) in stopped_keys}
        missing = [i for i in ids if i not in matters]
        if missing:
            raise NotFound(f"There is no case with id {missing[0]}.")
        out: list[Recipient] = []
        for matter_id in ids:
            case_number, client_name, mobile_raw, e164, consent = matters[matter_id]
            filled = fill(text, merge_values(
                client_name=client_name, case_number=case_number, office_name=office_name,
                office_phone=office_display, staff_name=staff_name))
            reason = ""
            if consent_required and consent != "yes":
                reason = NO_CONSENT
            elif not (mobile_raw or "").strip():
                reason = NO_MOBILE
            elif not e164:
                reason = INVALID_NUMBER
            elif e164 in stopped:
                reason = OPTED_OUT
            elif policy.is_quiet(when, e164):
                reason = QUIET_HOURS
            elif not filled.ok:
                reason = filled.reason
            else:
                try:
                    validate_body(filled.text)
                except BodyError as exc:
                    reason = str(exc)
            segments = _segments(filled.text) if filled.ok else 0
            out.append(Recipient(matter_id, case_number, client_name,
                                 (mobile_raw or "").strip(), e164, filled.text, segments,
                                 reason, filled.reason))
        return BatchPreview(tuple(out))

    def _text(self, body: str | None, template_name: str | None) -> str:
        if (body is None) == (template_name is None):
            raise ValidationError("Give either a template or a typed text.")
        if template_name is not None:
            return self.templates.by_name(template_name).body
        assert body is not None
        if not body.strip():
            raise ValidationError("The message is empty. Type a message before sending.")
        try:
            # A typed text may use merge fields too; an unknown one is refused at once.
            validate_template("typed", body)
        except TemplateError as exc:
            raise ValidationError(str(exc)) from None
        return body

    # --- write ------------------------------------------------------------------------
    def send(self, actor: Actor, matter_ids: Sequence[int], *, body: str | None = None,
             template_name: str | None = None, send_at: datetime | None = None) -> BatchResult:
        """Check every recipient again and write one message per recipient that can be texted.

        The batch row, its messages and the audit entry commit together; returns a line per
        recipient (queued / scheduled / skipped with its reason, message id).
        """
        plan = self.preview(actor, matter_ids, body=body, template_name=template_name,
                            send_at=send_at)
        now = self.clock()
        from_number = self._sender()
        state = str(OutboundState.SCHEDULED if send_at else OutboundState.QUEUED)
        going = plan.sending
        message_ids: dict[int, int] = {}
        batch_id: int | None = None
        if going:
            with self.db.transaction() as s:
                batch = OutboundBatch(author_id=actor.user_id, template_name=template_name,
                                      send_at=send_at or now, created_at=now,
                                      recipients=len(going), skipped=len(plan.skipped))
                s.add(batch)
                s.flush()
                batch_id = batch.id
                rows = [{"kind": "client", "matter_id": r.matter_id, "author_id": actor.user_id,
                         "to_raw": r.to, "to_e164": r.to_e164, "from_number": from_number,
                         "body": r.text, "state": state, "send_at": send_at or now,
                         "created_at": now, "attempts": 0, "batch_id": batch_id}
                        for r in going]
                # Core multi-row INSERT … RETURNING (not the ORM's unit of work): one
                # statement per few hundred rows on both SQLite and PostgreSQL.
                table = cast(Table, OutboundMessage.__table__)
                ids = s.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                rows).scalars().all()
                message_ids = {r.matter_id: i for r, i in zip(going, ids, strict=True)}
                audit.record(s, actor, "sms.batch", now, target_type="batch", target_id=batch_id,
                             detail=f"{len(going)} text(s), {len(plan.skipped)} skipped"
                                    + (f", template '{template_name}'" if template_name else "")
                                    + (f", at {send_at.isoformat()}" if send_at else ""))
            log.info("batch %s: %d %s, %d skipped", batch_id, len(going), state,
                     len(plan.skipped))
            self.outbound._notify()
            for listener in list(self._listeners):
                listener()
        lines = tuple(BatchLine(r.case_number, r.to, "skipped" if r.skipped else state,
                                r.reason, message_ids.get(r.matter_id))
                      for r in plan.recipients)
        return BatchResult(batch_id, lines)

    def _sender(self) -> str | None:
        numbers = self.settings.get("office_numbers")
        return numbers[0] if numbers else None

    # --- queue ------------------------------------------------------------------------
    def progress(self, *, limit: int = 50) -> list[BatchProgress]:
        """Recent batches, newest first, with counts per state and an estimated finish.

        The estimate assumes the dispatcher's pace (`max_messages_per_second`): the later of
        now and the batch's time, plus the waiting texts at that pace.
        """
        rate = float(self.settings.get("max_messages_per_second"))
        now = self.clock()
        with self.db.session() as s:
            batches = list(s.execute(
                select(OutboundBatch, User.name).outerjoin(User, User.id == OutboundBatch.author_id)
                .order_by(OutboundBatch.id.desc()).limit(limit)))
            counts: dict[int, dict[str, int]] = {}
            if batches:
                for batch_id, state, n in s.execute(
                        select(OutboundMessage.batch_id, OutboundMessage.state, func.count())
                        .where(OutboundMessage.batch_id.in_([b.id for b, _ in batches]))
                        .group_by(OutboundMessage.batch_id, OutboundMessage.state)):
                    if batch_id is not None:
                        counts.setdefault(batch_id, {})[state] = n
        out: list[BatchProgress] = []
        for b, author in batches:
            c = counts.get(b.id, {})
            done = sum(c.get(x, 0) for x in ("sent", "delivered", "undelivered"))
            waiting = sum(c.get(x, 0) for x in ("scheduled", "queued", "sending", "missed"))
            finish = (max(now, b.send_at) + timedelta(seconds=waiting / rate)
                      if waiting else None)
            out.append(BatchProgress(b.id, b.created_at, b.send_at, author, b.template_name,
                                     b.recipients, b.skipped, done, c.get("failed", 0),
                                     c.get("canceled", 0), waiting, b.canceled_at, finish))
        return out

    def cancel(self, actor: Actor, batch_id: int) -> int:
        """Cancel every text of the batch still waiting (one conditional UPDATE); returns how
        many. Texts being sent, already sent, or whose last send went unanswered stay."""
        actor.require_sms("cancel texts")
        now = self.clock()
        with self.db.transaction() as s:
            batch = s.get(OutboundBatch, batch_id)
            if batch is None:
                raise NotFound(f"There is no batch {batch_id}.")
            result = s.execute(
                update(OutboundMessage)
                .where(OutboundMessage.batch_id == batch_id,
                       OutboundMessage.state.in_([str(x) for x in CANCELABLE_STATES]),
                       OutboundMessage.verify_since.is_(None))
                .values(state=str(OutboundState.CANCELED), canceled_by_id=actor.user_id,
                        status_updated_at=now)
                .execution_options(synchronize_session=False))
            n = int(result.rowcount or 0)  # type: ignore[attr-defined]
            if batch.canceled_at is None:
                batch.canceled_at, batch.canceled_by_id = now, actor.user_id
            audit.record(s, actor, "sms.batch_cancel", now, target_type="batch",
                         target_id=batch_id, detail=f"{n} waiting text(s) canceled")
        for listener in list(self._listeners):
            listener()
        return n
