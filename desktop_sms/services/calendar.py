"""Tasks, calendar events and their SMS reminders (docs/product.md F11).

A reminder is an offset before the item's time or a fixed time; each (reminder, attendee) has
one delivery row. When it falls due, a desktop claims the row with one conditional UPDATE
(`pending → claimed`, with this desktop's id and a lease), exactly as the dispatcher claims
messages; only the desktop whose update changed the row goes on. In one transaction it then
hands the text to the outbound pipeline (`OutboundService.enqueue_reminder`) and marks the
delivery `queued` with the message id, so the dispatcher sends it once, with its retries,
statuses and opt-outs. A claim whose desktop died before that transaction committed has no
message id; once its lease runs out any desktop takes it over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from desktop_sms.db.database import Database
from desktop_sms.db.models import (
    Attendee,
    CalendarItem,
    Matter,
    OutboundMessage,
    Reminder,
    ReminderDelivery,
    User,
)
from desktop_sms.domain.phones import mask
from desktop_sms.domain.reminders import (
    ReminderError,
    ReminderSpec,
    compute_remind_at,
    describe_offset,
    format_local_time,
    reminder_text,
)
from desktop_sms.domain.states import CANCELABLE_STATES, OutboundState
from desktop_sms.services import audit
from desktop_sms.services.common import Actor, Clock, NotFound, ValidationError, utcnow
from desktop_sms.services.dispatcher import Dispatcher, DispatchReport, new_desktop_id
from desktop_sms.services.outbound import OutboundService, is_opted_out
from desktop_sms.services.settings import SettingsService

log = logging.getLogger(__name__)

DEFAULT_LEASE: Final = timedelta(minutes=2)
CLAIM_BATCH: Final = 200
MAX_TITLE: Final = 200
MAX_LOCATION: Final = 200
MAX_REMINDERS: Final = 10
KINDS: Final = ("task", "event")

NO_MOBILE: Final = "not sent: no mobile number on profile"
OPTED_OUT: Final = "not sent: the mobile number on profile has opted out of texts (replied STOP)"
MISSED: Final = ("not sent: its time passed more than the grace period ago while no desktop "
                 "was running")
CANCELED_DELETED: Final = "canceled: the item was deleted"
CANCELED_NOT_ATTENDING: Final = "canceled: no longer an attendee"
CANCELED_REMOVED: Final = "canceled: the reminder was removed"
CANCELED_PASSED: Final = "not sent: the item was moved and this reminder's time had already passed"
CANCELED_JOINED_LATE: Final = "not sent: added as an attendee after this reminder's time"


def local_zone() -> tzinfo:
    """This machine's time zone (an IANA zone when the system names one, for DST-correct math)."""
    try:
        from tzlocal import get_localzone

        zone = get_localzone()
        if isinstance(zone, tzinfo):
            return zone
    except Exception:  # no tzlocal or an unnamed zone: fall back to the current offset
        log.debug("tzlocal could not name the local zone", exc_info=True)
    return datetime.now().astimezone().tzinfo or UTC


# --- what callers give and get --------------------------------------------------------------

@dataclass(frozen=True)
class CalendarItemInput:
    """A task (due at `starts_at`) or an event (`starts_at` … `ends_at`) as a form gives it."""

    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    matter_id: int | None = None
    location: str | None = None
    attendee_ids: tuple[int, ...] = ()
    reminders: tuple[ReminderSpec, ...] = ()

    @classmethod
    def task(cls, title: str, due_at: datetime, *, matter_id: int | None = None,
             attendee_ids: Iterable[int] = (),
             reminders: Iterable[ReminderSpec] = ()) -> CalendarItemInput:
        return cls("task", title, due_at, None, matter_id, None, tuple(attendee_ids),
                   tuple(reminders))

    @classmethod
    def event(cls, title: str, starts_at: datetime, ends_at: datetime, *,
              matter_id: int | None = None, location: str | None = None,
              attendee_ids: Iterable[int] = (),
              reminders: Iterable[ReminderSpec] = ()) -> CalendarItemInput:
        return cls("event", title, starts_at, ends_at, matter_id, location, tuple(attendee_ids),
                   tuple(reminders))


@dataclass(frozen=True)
class DeliveryStatus:
    """One (reminder, attendee) text and where it is."""

    id: int
    user_id: int
    user_name: str
    state: str  # pending / claimed / queued / missed / no_mobile / canceled (the delivery row)
    status: str  # what people see: pending, sending, queued, sent, delivered, failed, missed …
    detail: str  # a sentence for the not-sent cases, or the provider's error
    due_at: datetime
    outbound_id: int | None

    @property
    def label(self) -> str:
        """'Pat Paralegal: sent', 'Ivy Intake: not sent: no mobile number on profile'."""
        text = self.detail if self.state in ("no_mobile", "canceled") and self.detail else (
            f"{self.status}: {self.detail}" if self.detail else self.status)
        return f"{self.user_name}: {text}"


@dataclass(frozen=True)
class ReminderView:
    """A reminder of an item with its deliveries."""

    id: int
    spec: ReminderSpec
    remind_at: datetime
    description: str  # '1 day before', 'at Mon Mar 9, 9:00 AM'
    deliveries: tuple[DeliveryStatus, ...]


@dataclass(frozen=True)
class AttendeeView:
    """A user attending an item."""

    user_id: int
    name: str
    has_mobile: bool


@dataclass(frozen=True)
class CalendarItemView:
    """A task or event as the Calendar page, the Home block and the matter tab show it."""

    id: int
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    matter_id: int | None
    case_number: str | None
    location: str | None
    created_by: str | None
    attendees: tuple[AttendeeView, ...]
    reminders: tuple[ReminderView, ...]

    @property
    def kind_label(self) -> str:
        return "Task" if self.kind == "task" else "Event"

    def to_input(self) -> CalendarItemInput:
        """The item as a form would give it back unchanged (for editing)."""
        return CalendarItemInput(self.kind, self.title, self.starts_at, self.ends_at,
                                 self.matter_id, self.location,
                                 tuple(a.user_id for a in self.attendees),
                                 tuple(r.spec for r in self.reminders))


@dataclass
class ReminderRunReport:
    """What one run of due reminders did (delivery ids)."""

    queued: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    no_mobile: list[int] = field(default_factory=list)
    opted_out: list[int] = field(default_factory=list)
    canceled: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.queued or self.missed or self.no_mobile or self.opted_out
                    or self.canceled)


@dataclass
class RemindAndDispatchReport:
    """A reminder run followed by a dispatcher run (what the alarm clock gets back)."""

    reminders: ReminderRunReport
    dispatch: DispatchReport

    @property
    def changed(self) -> bool:
        return self.reminders.changed or self.dispatch.changed

    def __getattr__(self, name: str) -> Any:
        # Listeners written for a DispatchReport (sent, failed, missed …) keep working.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dispatch, name)


class _ClaimLost(Exception):
    """Another desktop (or a cancel) changed the delivery between our claim and our commit."""


@dataclass(frozen=True)
class _Clean:
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    location: str | None
    attendee_ids: tuple[int, ...]
    reminders: tuple[ReminderSpec, ...]


# --- the service ----------------------------------------------------------------------------

class CalendarService:
    """Creates, moves and deletes tasks and events; turns due reminders into outbound texts."""

    def __init__(self, db: Database, outbound: OutboundService, settings: SettingsService,
                 clock: Clock = utcnow, tz: tzinfo | None = None, *,
                 desktop_id: str | None = None, lease: timedelta = DEFAULT_LEASE) -> None:
        self.db = db
        self.outbound = outbound
        self.settings = settings
        self.clock = clock
        self.tz = tz if tz is not None else local_zone()
        self.desktop_id = desktop_id or new_desktop_id()
        self.lease = lease
        self._listeners: list[Callable[[], None]] = []
        # Called inside update/delete's transaction: (session, actor, item, "update"|"delete").
        self._item_hooks: list[Callable[[Session, Actor, CalendarItem, str], None]] = []
        self._after_commit_hooks: list[Callable[[], None]] = []

    def add_item_hook(self, hook: Callable[[Session, Actor, CalendarItem, str], None]) -> None:
        """Run `hook` in the same transaction when an item is updated (moved) or deleted."""
        self._item_hooks.append(hook)

    def add_after_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` (no arguments) right after update/delete committed, outside any
        transaction: the place for provider calls the item hooks asked for (a hook must not
        make a network call inside the calendar's transaction). Its errors are logged, never
        raised: the item change itself has been saved."""
        self._after_commit_hooks.append(hook)

    def _run_after_commit(self) -> None:
        for hook in list(self._after_commit_hooks):
            try:
                hook()
            except Exception:  # the change is saved; the dispatcher's next run retries
                log.exception("after-commit calendar hook failed")

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Called after an item is saved or deleted (the alarm clock and the views listen)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # --- create / update / delete -------------------------------------------------------
    def create(self, actor: Actor, data: CalendarItemInput) -> int:
        """Save a new task or event with its attendees, reminders and their deliveries."""
        clean = self._validate(data)
        now = self.clock()
        with self.db.transaction() as s:
            case_number = self._check_refs(s, data.matter_id, clean.attendee_ids, ())
            item = CalendarItem(kind=clean.kind, title=clean.title, matter_id=data.matter_id,
                                starts_at=clean.starts_at, ends_at=clean.ends_at,
                                location=clean.location, created_by_id=actor.user_id,
                                created_at=now)
            s.add(item)
            s.flush()
            for user_id in clean.attendee_ids:
                s.add(Attendee(item_id=item.id, user_id=user_id))
            for spec in clean.reminders:
                self._add_reminder(s, item.id, clean.starts_at, spec, clean.attendee_ids, now)
            audit.record(s, actor, f"calendar.{clean.kind}.create", now,
                         target_type="calendar_item", target_id=item.id,
                         detail=_audit_detail(clean, case_number, self.tz))
            item_id = item.id
        log.info("%s %s created with %d reminder(s)", clean.kind, item_id, len(clean.reminders))
        self._notify()
        return item_id

    def create_task(self, actor: Actor, title: str, due_at: datetime, *,
                    matter_id: int | None = None, attendee_ids: Iterable[int] = (),
                    reminders: Iterable[ReminderSpec] = ()) -> int:
        """A task due at a time."""
        return self.create(actor, CalendarItemInput.task(
            title, due_at, matter_id=matter_id, attendee_ids=attendee_ids, reminders=reminders))

    def create_event(self, actor: Actor, title: str, starts_at: datetime, ends_at: datetime, *,
                     matter_id: int | None = None, location: str | None = None,
                     attendee_ids: Iterable[int] = (),
                     reminders: Iterable[ReminderSpec] = ()) -> int:
        """A calendar event from a start to an end."""
        return self.create(actor, CalendarItemInput.event(
            title, starts_at, ends_at, matter_id=matter_id, location=location,
            attendee_ids=attendee_ids, reminders=reminders))

    def update(self, actor: Actor, item_id: int, data: CalendarItemInput) -> None:
        """Change an item; moving it moves its pending reminders, attendees keep deliveries in step.

        Reminders are matched to the existing ones by what they are (offset or fixed time);
        a kept reminder keeps its deliveries and their states, a removed one cancels its pending
        deliveries, a new one gets a delivery per attendee.
        """
        clean = self._validate(data, new_reminders_only=True)
        now = self.clock()
        with self.db.transaction() as s:
            item = self._live_item(s, item_id)
            if item.kind != clean.kind:
                raise ValidationError(f"A {item.kind} can't be turned into a {clean.kind}; "
                                      f"delete it and add a new {clean.kind}.")
            old_attendees = {a.user_id for a in item.attendees}
            case_number = self._check_refs(s, data.matter_id, clean.attendee_ids,
                                           old_attendees)
            moved = item.starts_at != clean.starts_at
            item.title, item.matter_id = clean.title, data.matter_id
            item.starts_at, item.ends_at, item.location = (clean.starts_at, clean.ends_at,
                                                           clean.location)

            # Attendees.
            wanted = set(clean.attendee_ids)
            removed_users = old_attendees - wanted
            added_users = [u for u in clean.attendee_ids if u not in old_attendees]
            for attendee in list(item.attendees):
                if attendee.user_id in removed_users:
                    item.attendees.remove(attendee)
            for user_id in added_users:
                item.attendees.append(Attendee(item_id=item.id, user_id=user_id))

            # Reminders: kept (recomputed), removed, new.
            existing = {ReminderSpec(r.offset_minutes, r.fixed_at).key(): r for r in item.reminders}
            wanted_keys = [spec.key() for spec in clean.reminders]
            removed = [r for key, r in existing.items() if key not in wanted_keys]
            if removed:
                self._withdraw(s, actor, [r.id for r in removed], None, CANCELED_REMOVED, now)
                for gone in removed:
                    item.reminders.remove(gone)
            if removed_users:
                self._withdraw(s, actor, [r.id for r in item.reminders], sorted(removed_users),
                               CANCELED_NOT_ATTENDING, now)
            for spec in clean.reminders:
                reminder = existing.get(spec.key())
                if reminder is None:
                    self._new_reminder_in_future(spec, clean.starts_at, now)
                    self._add_reminder(s, item.id, clean.starts_at, spec, clean.attendee_ids,
                                       now)
                    continue
                remind_at = compute_remind_at(clean.starts_at, spec, self.tz)
                if remind_at != reminder.remind_at:
                    reminder.remind_at = remind_at
                    self._move_pending(s, reminder.id, remind_at, now)
                for user_id in added_users:
                    self._ensure_delivery(s, reminder.id, user_id, remind_at, now)
            s.flush()
            for hook in list(self._item_hooks):
                hook(s, actor, item, "update")
            verb = "move" if moved else "update"
            audit.record(s, actor, f"calendar.{clean.kind}.{verb}", now,
                         target_type="calendar_item", target_id=item_id,
                         detail=_audit_detail(clean, case_number, self.tz))
        self._run_after_commit()
        self._notify()

    def delete(self, actor: Actor, item_id: int) -> None:
        """Delete an item: its pending reminders are canceled (and unsent reminder texts too)."""
        now = self.clock()
        with self.db.transaction() as s:
            item = self._live_item(s, item_id)
            item.deleted_at = now
            self._withdraw(s, actor, [r.id for r in item.reminders], None, CANCELED_DELETED, now)
            for hook in list(self._item_hooks):
                hook(s, actor, item, "delete")
            audit.record(s, actor, f"calendar.{item.kind}.delete", now,
                         target_type="calendar_item", target_id=item_id,
                         detail=f"'{item.title}' at {item.starts_at.isoformat()}")
        self._run_after_commit()
        self._notify()

    # --- reading -----------------------------------------------------------------------
    def get(self, item_id: int) -> CalendarItemView:
        """One item (not deleted) with its attendees, reminders and deliveries."""
        with self.db.session() as s:
            item = self._live_item(s, item_id)
            return self._views(s, [item])[0]

    def upcoming(self, user_id: int | None, start: datetime, end: datetime) -> list[CalendarItemView]:
        """Items between start and end (events overlapping it), soonest first.

        Args:
            user_id: only items this user attends or created; None for everybody's.
        """
        ends = func.coalesce(CalendarItem.ends_at, CalendarItem.starts_at)
        stmt = (select(CalendarItem)
                .where(CalendarItem.deleted_at.is_(None), CalendarItem.starts_at < end,
                       ends >= start)
                .order_by(CalendarItem.starts_at, CalendarItem.id))
        if user_id is not None:
            attending = select(Attendee.item_id).where(Attendee.user_id == user_id)
            stmt = stmt.where(or_(CalendarItem.id.in_(attending),
                                  CalendarItem.created_by_id == user_id))
        with self.db.session() as s:
            return self._views(s, list(s.scalars(stmt)))

    def for_matter(self, matter_id: int) -> list[CalendarItemView]:
        """Every (not deleted) item of a matter, earliest first."""
        stmt = (select(CalendarItem)
                .where(CalendarItem.matter_id == matter_id, CalendarItem.deleted_at.is_(None))
                .order_by(CalendarItem.starts_at, CalendarItem.id))
        with self.db.session() as s:
            return self._views(s, list(s.scalars(stmt)))

    def next_due(self) -> datetime | None:
        """When a reminder next falls due (or a stale claim can be taken over); for the alarm."""
        with self.db.session() as s:
            pending = s.scalar(select(func.min(ReminderDelivery.due_at))
                               .where(ReminderDelivery.state == "pending"))
            stale = s.scalar(select(func.min(ReminderDelivery.lease_until))
                             .where(ReminderDelivery.state == "claimed",
                                    ReminderDelivery.outbound_id.is_(None)))
        found = [t for t in (pending, stale) if t is not None]
        return min(found) if found else None

    def describe(self, spec: ReminderSpec) -> str:
        """'1 day before' or 'at Mon Mar 9, 9:00 AM' in the office's zone."""
        return describe_offset(spec, self.tz)

    def format_time(self, when: datetime, *, with_year: bool = False) -> str:
        """A time as reminder texts show it, in the office's zone."""
        return format_local_time(when, self.tz, with_year=with_year)

    # --- the reminder run ----------------------------------------------------------------
    def run_due_reminders(self) -> ReminderRunReport:
        """Claim each due delivery (one conditional UPDATE) and hand the winner's to the pipeline."""
        report = ReminderRunReport()
        while True:
            ids = self._due_ids(self.clock())
            if not ids:
                break
            progressed = False
            for delivery_id in ids:
                if self._claim(delivery_id):
                    progressed = True
                    try:
                        self._handle_claimed(delivery_id, report)
                    except _ClaimLost:
                        log.info("reminder delivery %s changed under us; left alone", delivery_id)
                    except Exception as exc:  # the lease runs out and it is tried again
                        log.exception("reminder delivery %s failed", delivery_id)
                        report.errors.append(f"reminder {delivery_id}: {exc.__class__.__name__}")
            if not progressed:
                break
        return report

    def _claimable(self, now: datetime) -> Any:
        return or_(ReminderDelivery.state == "pending",
                   and_(ReminderDelivery.state == "claimed", ReminderDelivery.lease_until < now,
                        ReminderDelivery.outbound_id.is_(None)))

    def _due_ids(self, now: datetime) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(
                select(ReminderDelivery.id)
                .where(ReminderDelivery.due_at <= now, self._claimable(now))
                .order_by(ReminderDelivery.due_at, ReminderDelivery.id).limit(CLAIM_BATCH)))

    def _claim(self, delivery_id: int) -> bool:
        """One conditional UPDATE; True only for the desktop whose update changed the row."""
        now = self.clock()
        with self.db.transaction() as s:
            result = s.execute(
                update(ReminderDelivery)
                .where(ReminderDelivery.id == delivery_id, ReminderDelivery.due_at <= now,
                       self._claimable(now))
                .values(state="claimed", claimed_by=self.desktop_id, lease_until=now + self.lease)
                .execution_options(synchronize_session=False))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _handle_claimed(self, delivery_id: int, report: ReminderRunReport) -> None:
        """Decide, then in one transaction enqueue the text (if it goes) and release the claim."""
        now = self.clock()
        grace = timedelta(minutes=int(self.settings.get("overdue_grace_minutes")))
        with self.db.session() as s:
            row = s.execute(
                select(ReminderDelivery.due_at, ReminderDelivery.user_id, User.mobile_e164,
                       CalendarItem.title, CalendarItem.starts_at, CalendarItem.deleted_at,
                       Matter.case_number)
                .join(Reminder, Reminder.id == ReminderDelivery.reminder_id)
                .join(CalendarItem, CalendarItem.id == Reminder.item_id)
                .join(User, User.id == ReminderDelivery.user_id)
                .outerjoin(Matter, Matter.id == CalendarItem.matter_id)
                .where(ReminderDelivery.id == delivery_id, ReminderDelivery.state == "claimed",
                       ReminderDelivery.claimed_by == self.desktop_id)).first()
        if row is None:
            raise _ClaimLost()
        due_at, user_id, mobile, title, starts_at, deleted_at, case_number = row
        text: tuple[str, str] | None = None  # (recipient, body) when the reminder goes out
        detail: str | None = None
        if deleted_at is not None:
            state, detail, bucket = "canceled", CANCELED_DELETED, report.canceled
        elif not mobile:
            state, detail, bucket = "no_mobile", NO_MOBILE, report.no_mobile
        elif now - due_at > grace:
            state, detail, bucket = "missed", MISSED, report.missed
        else:
            state, bucket = "queued", report.queued
            text = (mobile, reminder_text(title, starts_at, self.tz, case_number))
        with self.db.transaction() as s:
            outbound_id: int | None = None
            if text is not None:
                to, body = text
                # enqueue_reminder reads the sender setting on a connection of its own; on
                # SQLite that must happen before this transaction holds the write lock, so the
                # text is enqueued first and the claim released after, in the same transaction.
                outbound_id = self.outbound.enqueue_reminder(s, user_id, to, body, due_at)
                if is_opted_out(s, to):
                    # Opt-outs apply to reminders too: the text is recorded, never sent.
                    s.execute(update(OutboundMessage).where(OutboundMessage.id == outbound_id)
                              .values(state=str(OutboundState.FAILED), error_code=21610,
                                      error_message="Not sent: this number has opted out of "
                                                    "texts (replied STOP).",
                                      status_updated_at=now)
                              .execution_options(synchronize_session=False))
                    detail, bucket = OPTED_OUT, report.opted_out
            result = s.execute(
                update(ReminderDelivery)
                .where(ReminderDelivery.id == delivery_id, ReminderDelivery.state == "claimed",
                       ReminderDelivery.claimed_by == self.desktop_id)
                .values(state=state, detail=detail, outbound_id=outbound_id, lease_until=None)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _ClaimLost()  # a cancel or a takeover won: the enqueued text rolls back
        bucket.append(delivery_id)
        log.info("reminder delivery %s to %s: %s", delivery_id, mask(mobile) if mobile else "-",
                 state)

    # --- internals: writing ----------------------------------------------------------------
    def _validate(self, data: CalendarItemInput, new_reminders_only: bool = False) -> _Clean:
        """Check an item as a person typed it; sentences for every refusal."""
        if data.kind not in KINDS:
            raise ValidationError("An item is either a task or a calendar event.")
        title = " ".join((data.title or "").split())
        what = "task" if data.kind == "task" else "event"
        if not title:
            raise ValidationError(f"The {what} needs a title.")
        if len(title) > MAX_TITLE:
            raise ValidationError(f"The title is too long ({len(title)} characters; at most "
                                  f"{MAX_TITLE}).")
        for label, value in (("due time" if data.kind == "task" else "start", data.starts_at),
                             ("end", data.ends_at)):
            if value is not None and value.tzinfo is None:
                raise ValidationError(f"The {label} has no time zone.")
        ends_at: datetime | None = None
        location: str | None = None
        if data.kind == "event":
            if data.ends_at is None:
                raise ValidationError("The event needs an end time.")
            if data.ends_at <= data.starts_at:
                raise ValidationError("The event must end after it starts.")
            ends_at = data.ends_at.astimezone(UTC)
            location = " ".join((data.location or "").split()) or None
            if location and len(location) > MAX_LOCATION:
                raise ValidationError(f"The location is too long (at most {MAX_LOCATION} "
                                      "characters).")
        attendee_ids = tuple(dict.fromkeys(data.attendee_ids))
        reminders: list[ReminderSpec] = []
        seen: set[tuple[int | None, datetime | None]] = set()
        starts_at = data.starts_at.astimezone(UTC)
        now = self.clock()
        for spec in data.reminders:
            try:
                spec.validate()
            except ReminderError as exc:
                raise ValidationError(str(exc)) from None
            if spec.fixed_at is not None and spec.fixed_at > starts_at:
                raise ValidationError(
                    f"A reminder at {format_local_time(spec.fixed_at, self.tz)} would come after "
                    f"the {what} itself ({format_local_time(starts_at, self.tz)}); choose a time "
                    "before it.")
            if spec.key() in seen:
                continue
            seen.add(spec.key())
            if not new_reminders_only:
                self._new_reminder_in_future(spec, starts_at, now)
            reminders.append(spec)
        if len(reminders) > MAX_REMINDERS:
            raise ValidationError(f"At most {MAX_REMINDERS} reminders per {what}.")
        if reminders and not attendee_ids:
            raise ValidationError("A reminder is a text to the attendees: add at least one "
                                  "attendee, or remove the reminders.")
        return _Clean(data.kind, title, starts_at, ends_at, location, attendee_ids,
                      tuple(reminders))

    def _new_reminder_in_future(self, spec: ReminderSpec, starts_at: datetime,
                                now: datetime) -> None:
        remind_at = compute_remind_at(starts_at, spec, self.tz)
        if remind_at < now:
            raise ValidationError(
                f"The reminder {describe_offset(spec, self.tz)} would be at "
                f"{format_local_time(remind_at, self.tz)}, which has already passed; choose a "
                "shorter reminder or remove it.")

    def _check_refs(self, s: Session, matter_id: int | None, attendee_ids: Sequence[int],
                    already: set[int] | tuple[int, ...]) -> str | None:
        """The matter's case number; refuses unknown matters and unknown or inactive attendees."""
        case_number: str | None = None
        if matter_id is not None:
            case_number = s.scalar(select(Matter.case_number).where(Matter.id == matter_id))
            if case_number is None:
                raise NotFound(f"There is no case with id {matter_id}.")
        if attendee_ids:
            users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(attendee_ids)))}
            for user_id in attendee_ids:
                user = users.get(user_id)
                if user is None:
                    raise NotFound(f"There is no user with id {user_id}.")
                if not user.active and user_id not in already:
                    raise ValidationError(f"{user.name} is no longer active and can't be added "
                                          "as an attendee.")
        return case_number

    def _live_item(self, s: Session, item_id: int) -> CalendarItem:
        item = s.get(CalendarItem, item_id)
        if item is None or item.deleted_at is not None:
            raise NotFound("That task or event does not exist (it may have been deleted).")
        return item

    def _add_reminder(self, s: Session, item_id: int, starts_at: datetime, spec: ReminderSpec,
                      attendee_ids: Iterable[int], now: datetime) -> None:
        remind_at = compute_remind_at(starts_at, spec, self.tz)
        reminder = Reminder(item_id=item_id, offset_minutes=spec.offset_minutes,
                            fixed_at=spec.fixed_at, remind_at=remind_at)
        s.add(reminder)
        s.flush()
        for user_id in attendee_ids:
            s.add(ReminderDelivery(reminder_id=reminder.id, user_id=user_id, due_at=remind_at,
                                   state="pending"))

    def _ensure_delivery(self, s: Session, reminder_id: int, user_id: int, due_at: datetime,
                         now: datetime) -> None:
        """A (new) attendee's delivery: created, or re-armed if it was canceled when they left."""
        existing = s.scalar(select(ReminderDelivery).where(
            ReminderDelivery.reminder_id == reminder_id, ReminderDelivery.user_id == user_id))
        # Joining after the reminder's time: that text is not sent late, and says so.
        state, detail = ("canceled", CANCELED_JOINED_LATE) if due_at < now else ("pending", None)
        if existing is None:
            s.add(ReminderDelivery(reminder_id=reminder_id, user_id=user_id, due_at=due_at,
                                   state=state, detail=detail))
        elif existing.state == "canceled":
            existing.state, existing.due_at, existing.detail = state, due_at, detail
            existing.claimed_by = existing.lease_until = existing.outbound_id = None

    def _move_pending(self, s: Session, reminder_id: int, due_at: datetime,
                      now: datetime) -> None:
        """Pending deliveries follow their reminder; a reminder moved into the past is not sent."""
        moved_into_past = due_at < now
        s.execute(update(ReminderDelivery)
                  .where(ReminderDelivery.reminder_id == reminder_id,
                         ReminderDelivery.state == "pending")
                  .values(due_at=due_at,
                          **({"state": "canceled", "detail": CANCELED_PASSED}
                             if moved_into_past else {}))
                  .execution_options(synchronize_session=False))

    def _withdraw(self, s: Session, actor: Actor, reminder_ids: Sequence[int],
                  user_ids: Sequence[int] | None, detail: str, now: datetime) -> None:
        """Cancel pending (and claimed) deliveries and any reminder text not yet being sent."""
        if not reminder_ids:
            return
        conds = [ReminderDelivery.reminder_id.in_(reminder_ids)]
        if user_ids is not None:
            conds.append(ReminderDelivery.user_id.in_(user_ids))
        outbound_ids = [i for i in s.scalars(select(ReminderDelivery.outbound_id).where(
            *conds, ReminderDelivery.state == "queued")) if i is not None]
        if outbound_ids:
            s.execute(update(OutboundMessage)
                      .where(OutboundMessage.id.in_(outbound_ids),
                             OutboundMessage.state.in_([str(x) for x in CANCELABLE_STATES]))
                      .values(state=str(OutboundState.CANCELED), canceled_by_id=actor.user_id,
                              status_updated_at=now)
                      .execution_options(synchronize_session=False))
        s.execute(update(ReminderDelivery)
                  .where(*conds, ReminderDelivery.state.in_(["pending", "claimed"]))
                  .values(state="canceled", detail=detail, claimed_by=None, lease_until=None)
                  .execution_options(synchronize_session=False))

    # --- internals: reading ----------------------------------------------------------------
    def _views(self, s: Session, items: list[CalendarItem]) -> list[CalendarItemView]:
        if not items:
            return []
        item_ids = [i.id for i in items]
        matter_ids = {i.matter_id for i in items if i.matter_id is not None}
        numbers: dict[int, str] = {
            mid: num for mid, num in s.execute(select(Matter.id, Matter.case_number)
                                               .where(Matter.id.in_(matter_ids)))}
        creator_ids = {i.created_by_id for i in items if i.created_by_id is not None}
        attendees: dict[int, list[AttendeeView]] = {}
        for item_id, uid, name, mobile in s.execute(
                select(Attendee.item_id, User.id, User.name, User.mobile_e164)
                .join(User, User.id == Attendee.user_id)
                .where(Attendee.item_id.in_(item_ids)).order_by(User.name)):
            attendees.setdefault(item_id, []).append(AttendeeView(uid, name, bool(mobile)))
        names: dict[int, str] = {
            uid: name for uid, name in s.execute(select(User.id, User.name)
                                                 .where(User.id.in_(creator_ids)))}
        reminders = list(s.scalars(select(Reminder).where(Reminder.item_id.in_(item_ids))
                                   .order_by(Reminder.remind_at, Reminder.id)))
        deliveries: dict[int, list[DeliveryStatus]] = {}
        if reminders:
            rows = s.execute(
                select(ReminderDelivery, User.name, OutboundMessage.state,
                       OutboundMessage.error_message)
                .join(User, User.id == ReminderDelivery.user_id)
                .outerjoin(OutboundMessage, OutboundMessage.id == ReminderDelivery.outbound_id)
                .where(ReminderDelivery.reminder_id.in_([r.id for r in reminders]))
                .order_by(User.name, ReminderDelivery.id))
            for d, name, out_state, out_error in rows:
                deliveries.setdefault(d.reminder_id, []).append(
                    _delivery_status(d, name, out_state, out_error))
        by_item: dict[int, list[ReminderView]] = {}
        for r in reminders:
            spec = ReminderSpec(r.offset_minutes, r.fixed_at)
            by_item.setdefault(r.item_id, []).append(ReminderView(
                r.id, spec, r.remind_at, describe_offset(spec, self.tz),
                tuple(deliveries.get(r.id, ()))))
        return [CalendarItemView(
            i.id, i.kind, i.title, i.starts_at, i.ends_at, i.matter_id,
            numbers.get(i.matter_id) if i.matter_id is not None else None, i.location,
            names.get(i.created_by_id) if i.created_by_id is not None else None,
            tuple(attendees.get(i.id, ())), tuple(by_item.get(i.id, ()))) for i in items]


def _delivery_status(d: ReminderDelivery, user_name: str, out_state: str | None,
                     out_error: str | None) -> DeliveryStatus:
    """The status people see: the outbound message's once the text is in the pipeline."""
    detail = d.detail or ""
    if d.state == "queued":
        status = out_state or "queued"
        if status in ("failed", "undelivered", "missed") and out_error:
            detail = detail or out_error
    elif d.state == "claimed":
        status = "sending"
    elif d.state == "no_mobile":
        status, detail = "not sent", detail or NO_MOBILE
    else:
        status = d.state
    return DeliveryStatus(d.id, d.user_id, user_name, d.state, status, detail, d.due_at,
                          d.outbound_id)


def _audit_detail(clean: _Clean, case_number: str | None, tz: tzinfo) -> str:
    parts = [f"'{clean.title}' at {format_local_time(clean.starts_at, tz, with_year=True)}"]
    if case_number:
        parts.append(f"case {case_number}")
    parts.append(f"{len(clean.attendee_ids)} attendee(s), {len(clean.reminders)} reminder(s)")
    return "; ".join(parts)


# --- the alarm clock's entry points ---------------------------------------------------------

def run_reminders_then_dispatch(calendar: CalendarService,
                                dispatcher: Dispatcher) -> RemindAndDispatchReport:
    """What the alarm clock runs: due reminders become outbound texts, then everything is sent."""
    reminders = calendar.run_due_reminders()
    return RemindAndDispatchReport(reminders, dispatcher.run_due())


def next_wakeup_with_reminders(calendar: CalendarService,
                               dispatcher: Dispatcher) -> datetime | None:
    """The earlier of the dispatcher's next due time and the next reminder's."""
    found = [t for t in (calendar.next_due(), dispatcher.next_wakeup()) if t is not None]
    return min(found) if found else None
