"""Reminders of a task or event texted to the matter's client (docs/templates.md).

Each reminder's text is written as a `scheduled` outbound message at its time, so the
dispatcher sends it exactly once across desktops with the usual claim, retries and opt-out
check. A reminder that would land in the recipient's quiet hours (the office's `quiet_hours`
rule in the number's own zone, domain/quiet_hours.py) goes at the last allowed minute before. Moving the item moves (and refills) the texts still scheduled; deleting
it cancels them. Consent, a mobile number and opt-out are checked when the reminder is set:
a reminder that can't go is kept with its reason instead of a text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import CalendarItem, ClientReminder, Matter, OutboundMessage, User
from desktop_sms.domain.phones import format_display, mask
from desktop_sms.domain.quiet_hours import QuietPolicy
from desktop_sms.domain.reminders import (
    ReminderError,
    ReminderSpec,
    compute_remind_at,
    describe_offset,
)
from desktop_sms.domain.segments import BodyError, validate_body
from desktop_sms.domain.states import CANCELABLE_STATES, OutboundState
from desktop_sms.domain.templates import TemplateError, fill, validate_template
from desktop_sms.services import audit
from desktop_sms.services.calendar import CalendarService
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, utcnow
from desktop_sms.services.consent import quiet_policy
from desktop_sms.services.held import request_cancel
from desktop_sms.services.outbound import is_opted_out
from desktop_sms.services.settings import SettingsService
from desktop_sms.services.templates import TemplateService, merge_values

log = logging.getLogger(__name__)

# (office name, office phone as shown, quiet-hours rule, "yes" when consent is required)
_Context = tuple[str, str | None, QuietPolicy, str]

ClientReminderSpec = ReminderSpec  # an offset before the item, or a fixed time

DEFAULT_BODY = ("Reminder: your hearing is on {event_date} at {event_time} at {event_place}. "
                "Reply to this text with questions.")
DEFAULT_BODY_NO_PLACE = ("Reminder: {event_title} on {event_date} at {event_time}. "
                         "Reply to this text with questions.")
MAX_CLIENT_REMINDERS = 5
PASSED = "its time has already passed"
CANCELED_DELETED = "canceled: the item was deleted"
CANCELED_REPLACED = "canceled: replaced by the item's new reminders"
CANCELED_MOVED_PAST = "canceled: the item was moved and this reminder's time had passed"
HELD_CANCELED_DELETED = "The calendar item was deleted; the text held by Twilio was canceled."
HELD_CANCELED_MOVED = ("The calendar item was moved; the text held by Twilio was canceled "
                       "and a new one scheduled.")


@dataclass(frozen=True)
class ClientReminderLine:
    """One client reminder and where its text is."""

    id: int
    description: str  # '1 day before', 'at Mon Mar 9, 9:00 AM'
    remind_at: datetime | None  # when its text goes (after quiet hours), None when skipped
    status: str  # scheduled / queued / sent / delivered / failed / canceled / skipped …
    detail: str  # why it is skipped or canceled, or the provider's error
    outbound_id: int | None
    offset_minutes: int | None = None
    template_body: str = ""

    @property
    def label(self) -> str:
        return f"Client reminder {self.description}: {self.status}" + (
            f" ({self.detail})" if self.detail else "")


class ClientReminderService:
    """Sets, moves, cancels and lists reminders texted to clients."""

    def __init__(self, db: Database, settings: SettingsService, templates: TemplateService,
                 calendar: CalendarService, clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.templates = templates
        self.calendar = calendar
        self.clock = clock

    @property
    def tz(self) -> tzinfo:
        return self.calendar.tz

    def default_body(self, has_place: bool) -> str:
        return DEFAULT_BODY if has_place else DEFAULT_BODY_NO_PLACE

    def set_for_item(self, actor: Actor, item_id: int, specs: Sequence[ReminderSpec],
                     body: str | None = None) -> list[ClientReminderLine]:
        """Replace the item's client reminders (the waiting texts of the old ones are canceled).

        Args:
            body: the template text (merge fields allowed); None for the default reminder.

        Raises:
            ValidationError: the item has no case, a reminder is malformed or after the item,
                an unknown merge field, or more than MAX_CLIENT_REMINDERS.
            PermissionDenied: no SMS access.
        """
        actor.require_sms("set reminders to clients")
        if len(specs) > MAX_CLIENT_REMINDERS:
            raise ValidationError(f"At most {MAX_CLIENT_REMINDERS} reminders to the client.")
        for spec in specs:
            try:
                spec.validate()
            except ReminderError as exc:
                raise ValidationError(str(exc)) from None
        if body is not None:
            try:
                validate_template("reminder", body)
            except TemplateError as exc:
                raise ValidationError(str(exc)) from None
        ctx = self._context()
        now = self.clock()
        with self.db.transaction() as s:
            item = s.get(CalendarItem, item_id)
            if item is None or item.deleted_at is not None:
                raise NotFound("That task or event does not exist (it may have been deleted).")
            if item.matter_id is None:
                raise ValidationError("Reminders to the client need a case: put the item on "
                                      "a case first.")
            for spec in specs:
                if spec.fixed_at is not None and spec.fixed_at > item.starts_at:
                    raise ValidationError("A reminder to the client must come before the item.")
            for replaced in self._cancel_waiting(s, actor, item_id, CANCELED_REPLACED, now):
                s.delete(replaced)  # its text (if any) stays, canceled, in the message history
            chosen = body if body is not None else self.default_body(bool(item.location))
            seen: set[tuple[int | None, datetime | None]] = set()
            for spec in specs:
                if spec.key() in seen:
                    continue
                seen.add(spec.key())
                self._add(s, actor, item, spec, chosen, ctx, now)
            audit.record(s, actor, "calendar.client_reminders", now, target_type="calendar_item",
                         target_id=item_id, detail=f"{len(seen)} reminder(s) to the client")
        return self.for_item(item_id)

    def _context(self) -> _Context:
        office_name, office_phone = self.templates.office_values()
        region = str(self.settings.get("default_region"))
        with self.db.session() as s:
            policy = quiet_policy(s)
        consent_required = "yes" if self.settings.get("sms_consent_required") else "no"
        phone = format_display(office_phone, region) if office_phone else None
        return office_name, phone, policy, consent_required

    def _fill(self, s: Session, item: CalendarItem, body: str,
              ctx: _Context) -> tuple[str, str]:
        """(text, reason): the filled text, or why it can't go."""
        matter = s.get(Matter, item.matter_id) if item.matter_id is not None else None
        if matter is None:
            return "", "the case no longer exists"
        staff = s.scalar(select(User.name).where(User.id == item.created_by_id)) \
            if item.created_by_id is not None else None
        filled = fill(body, merge_values(
            client_name=matter.client_name, case_number=matter.case_number,
            office_name=ctx[0], office_phone=ctx[1], staff_name=staff,
            event_title=item.title, event_at=item.starts_at, event_place=item.location,
            tz=self.tz))
        if ctx[3] == "yes" and matter.consent != "yes":
            return filled.text, "no consent"
        if not (matter.mobile_raw or "").strip():
            return filled.text, "no mobile"
        if not matter.mobile_e164:
            return filled.text, "invalid number"
        if is_opted_out(s, matter.mobile_e164):
            return filled.text, "opted out"
        if not filled.ok:
            return filled.text, filled.reason
        try:
            validate_body(filled.text)
        except BodyError as exc:
            return filled.text, str(exc)
        return filled.text, ""

    @staticmethod
    def _mobile(s: Session, item: CalendarItem) -> str | None:
        matter = s.get(Matter, item.matter_id) if item.matter_id is not None else None
        return matter.mobile_e164 if matter is not None else None

    def _when(self, item: CalendarItem, spec: ReminderSpec, policy: QuietPolicy,
              to_e164: str | None) -> datetime:
        """When the reminder's text goes: its own time, or the last allowed minute before the
        recipient's quiet hours when it would land in them (domain/quiet_hours.py)."""
        at = compute_remind_at(item.starts_at, spec, self.tz)
        return policy.last_allowed_before(at, to_e164) if to_e164 else at

    def _add(self, s: Session, actor: Actor, item: CalendarItem, spec: ReminderSpec, body: str,
             ctx: _Context,
             now: datetime) -> None:
        at = self._when(item, spec, ctx[2], self._mobile(s, item))
        text, reason = self._fill(s, item, body, ctx)
        if not reason and at < now + timedelta(minutes=1):
            reason = PASSED
        row = ClientReminder(item_id=item.id, offset_minutes=spec.offset_minutes,
                             fixed_at=spec.fixed_at, template_body=body,
                             state="skipped" if reason else "scheduled", detail=reason or None)
        if not reason:
            matter = s.get(Matter, item.matter_id)
            assert matter is not None and matter.mobile_e164
            stored = self.settings.get("office_numbers")
            msg = OutboundMessage(kind="client", matter_id=matter.id, author_id=actor.user_id,
                                  to_raw=matter.mobile_raw or matter.mobile_e164,
                                  to_e164=matter.mobile_e164,
                                  from_number=stored[0] if stored else None, body=text,
                                  state=str(OutboundState.SCHEDULED), send_at=at,
                                  created_at=now, attempts=0)
            s.add(msg)
            s.flush()
            row.outbound_id = msg.id
            log.info("client reminder for item %s to %s at %s", item.id,
                     mask(matter.mobile_e164), at.isoformat())
        s.add(row)
        s.flush()

    def _cancel_waiting(self, s: Session, actor: Actor | None, item_id: int, detail: str,
                        now: datetime) -> list[ClientReminder]:
        """Cancel the item's reminders whose text still waits (one conditional UPDATE each);
        a text already being sent or sent stays. Returns the reminders canceled."""
        rows = list(s.scalars(select(ClientReminder).where(
            ClientReminder.item_id == item_id, ClientReminder.state != "canceled")))
        canceled: list[ClientReminder] = []
        for r in rows:
            if r.outbound_id is None:
                done = True
            else:
                result = s.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == r.outbound_id,
                           OutboundMessage.state.in_([str(x) for x in CANCELABLE_STATES]),
                           OutboundMessage.verify_since.is_(None))
                    .values(state=str(OutboundState.CANCELED),
                            canceled_by_id=actor.user_id if actor else None,
                            status_updated_at=now)
                    .execution_options(synchronize_session=False))
                done = result.rowcount == 1  # type: ignore[attr-defined]
                # Held by Twilio: marked here, canceled there right after the commit.
                done = done or request_cancel(s, r.outbound_id, HELD_CANCELED_DELETED)
            if done:
                r.state, r.detail = "canceled", detail
                canceled.append(r)
        return canceled

    # --- hooks the calendar calls inside its own transaction ----------------------------
    def on_item_changed(self, s: Session, actor: Actor, item: CalendarItem, change: str) -> None:
        """'delete': cancel the waiting texts; 'update': move and refill the scheduled ones."""
        now = self.clock()
        if change == "delete":
            self._cancel_waiting(s, actor, item.id, CANCELED_DELETED, now)
            return
        rows = list(s.scalars(select(ClientReminder).where(
            ClientReminder.item_id == item.id, ClientReminder.state == "scheduled")))
        if not rows:
            return
        ctx = self._context()
        for r in rows:
            spec = ReminderSpec(r.offset_minutes, r.fixed_at)
            at = self._when(item, spec, ctx[2], self._mobile(s, item))
            text, reason = self._fill(s, item, r.template_body, ctx)
            if not reason and at < now + timedelta(minutes=1):
                reason = PASSED
            if reason:
                values: dict[str, object] = {"state": str(OutboundState.CANCELED),
                                             "status_updated_at": now}
            else:
                values = {"send_at": at, "body": text}
            changed = s.execute(update(OutboundMessage)
                                .where(OutboundMessage.id == r.outbound_id,
                                       OutboundMessage.state == str(OutboundState.SCHEDULED))
                                .values(**values)
                                .execution_options(synchronize_session=False))
            done = changed.rowcount == 1  # type: ignore[attr-defined]
            if not done and r.outbound_id is not None:
                done = self._move_held(s, r, None if reason else at, text, now)
            if reason and done:
                r.state = "canceled"
                r.detail = CANCELED_MOVED_PAST if reason == PASSED else f"canceled: {reason}"

    def _move_held(self, s: Session, r: ClientReminder, at: datetime | None, text: str,
                   now: datetime) -> bool:
        """A reminder text held by Twilio whose item moved: Twilio can't change a scheduled
        message, so it is marked for cancel there (done right after the commit, see
        docs/held_by_twilio.md) and, when ``at`` is given, a new text is scheduled at ``at``
        (held again by the next hand-over when eligible, else it waits in our queue). False
        when the text was no longer held (sending, sent or canceled): it is left as it is."""
        assert r.outbound_id is not None
        old = s.execute(select(OutboundMessage.kind, OutboundMessage.matter_id,
                               OutboundMessage.author_id, OutboundMessage.to_raw,
                               OutboundMessage.to_e164, OutboundMessage.from_number)
                        .where(OutboundMessage.id == r.outbound_id)).one()
        if not request_cancel(s, r.outbound_id, HELD_CANCELED_MOVED):
            return False
        if at is not None:
            msg = OutboundMessage(kind=old[0], matter_id=old[1], author_id=old[2], to_raw=old[3],
                                  to_e164=old[4], from_number=old[5], body=text,
                                  state=str(OutboundState.SCHEDULED), send_at=at,
                                  created_at=now, attempts=0)
            s.add(msg)
            s.flush()
            log.info("client reminder %s: held text %s replaced by %s at %s", r.id,
                     r.outbound_id, msg.id, at.isoformat())
            r.outbound_id = msg.id
        return True

    # --- reading ------------------------------------------------------------------------
    def for_item(self, item_id: int) -> list[ClientReminderLine]:
        """The item's client reminders, soonest first, with their texts' status."""
        return self.for_items([item_id]).get(item_id, [])

    def for_items(self, item_ids: Sequence[int]) -> dict[int, list[ClientReminderLine]]:
        """Client reminders of several items (one query), by item id; replaced ones omitted."""
        if not item_ids:
            return {}
        with self.db.session() as s:
            rows = s.execute(
                select(ClientReminder, OutboundMessage.state, OutboundMessage.send_at,
                       OutboundMessage.error_message)
                .outerjoin(OutboundMessage, OutboundMessage.id == ClientReminder.outbound_id)
                .where(ClientReminder.item_id.in_(list(item_ids)))
                .order_by(ClientReminder.id)).all()
        by_item: dict[int, list[ClientReminderLine]] = {}
        for r, state, send_at, error in rows:
            spec = ReminderSpec(r.offset_minutes, r.fixed_at)
            if r.state == "skipped":
                status, detail = "skipped", r.detail or ""
            elif r.state == "canceled" and state in (None, "canceled"):
                status, detail = "canceled", r.detail or ""
            else:
                status, detail = state or r.state, (error or "") if state in (
                    "failed", "undelivered", "missed") else ""
            by_item.setdefault(r.item_id, []).append(ClientReminderLine(
                r.id, describe_offset(spec, self.tz), send_at if r.outbound_id else None,
                status, detail, r.outbound_id, r.offset_minutes, r.template_body))
        for lines in by_item.values():
            lines.sort(key=lambda line: (line.remind_at is None,
                                         line.remind_at.timestamp() if line.remind_at else 0.0,
                                         line.id))
        return by_item

    def for_matter(self, matter_id: int) -> dict[int, list[ClientReminderLine]]:
        """Client reminders of every live item of a case, by item id."""
        with self.db.session() as s:
            item_ids = list(s.scalars(select(CalendarItem.id).where(
                CalendarItem.matter_id == matter_id, CalendarItem.deleted_at.is_(None))))
        return {i: lines for i in item_ids if (lines := self.for_item(i))}
