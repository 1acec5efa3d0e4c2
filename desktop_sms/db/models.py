"""SQLAlchemy 2 typed models for everything the product stores (docs/product.md, Words, F1–F14).

Datetimes are stored as naive UTC and come back timezone-aware (UTCDateTime), so SQLite and
PostgreSQL behave the same. Phone numbers are stored twice: as typed (for display) and in
E.164 (for matching, indexed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive datetimes so local time never leaks in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def _line_key_of(source: str) -> Callable[[Any], str | None]:
    """A column default: the same-line comparison key of the row's ``source`` E.164 column.

    Context-sensitive, so ORM and Core inserts (bulk ones too) both fill it; `domain.phones.
    line_key` is the rule. ORM updates of Matter phones refresh it (`_refresh_matter_keys`).
    """

    def default(context: Any) -> str | None:
        from desktop_sms.domain.phones import line_key

        value = context.get_current_parameters().get(source)
        return line_key(value) if value else None

    return default


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A member of staff; `mobile_e164` receives their reminders."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mobile_raw: Mapped[str | None] = mapped_column(String(40))
    mobile_e164: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(10), default="staff")  # staff / admin
    sms_access: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # one-time code that claims an account added without a password (services/users.py)
    setup_code_hash: Mapped[str | None] = mapped_column(String(255))
    setup_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Matter(Base):
    """A case: client, phones, stage, dates and SMS consent."""

    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    client_name: Mapped[str] = mapped_column(String(200), index=True)
    stage: Mapped[str] = mapped_column(String(12), default="intake")
    mobile_raw: Mapped[str | None] = mapped_column(String(40))
    mobile_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    home_raw: Mapped[str | None] = mapped_column(String(40))
    home_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    # Same-line comparison keys of the two numbers (domain.phones.line_key), for the matcher.
    mobile_key: Mapped[str | None] = mapped_column(
        String(20), index=True, default=_line_key_of("mobile_e164"))
    home_key: Mapped[str | None] = mapped_column(
        String(20), index=True, default=_line_key_of("home_e164"))
    intake_date: Mapped[date | None] = mapped_column(Date, index=True)
    date_opened: Mapped[date | None] = mapped_column(Date, index=True)
    consent: Mapped[str] = mapped_column(String(10), default="not_asked")  # yes / no / not_asked
    consent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    assignments: Mapped[list[Assignment]] = relationship(back_populates="matter")


class Assignment(Base):
    """A user on a matter; current while end_date is empty or in the future."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_user_current", "user_id", "end_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10), default="primary")  # primary / other
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)

    matter: Mapped[Matter] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship()


class OutboundMessage(Base):
    """A text sent from a matter (or a reminder to a member of staff); the dispatcher's row."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_to_sent", "to_e164", "sent_at"),
        Index("ix_outbound_state_due", "state", "send_at"),
        Index("ix_outbound_matter_sent", "matter_id", "sent_at"),
        Index("ix_outbound_to_key_sent", "to_key", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="client")  # client / reminder
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_raw: Mapped[str] = mapped_column(String(40))
    to_e164: Mapped[str] = mapped_column(String(20))
    to_key: Mapped[str | None] = mapped_column(String(20), default=_line_key_of("to_e164"))
    from_number: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12))
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it is due
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))  # one per claimed batch
    # The last send's outcome is unknown (it may be at the provider): look before resending.
    verify_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # retry back-off
    provider_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(20))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the provider accepted it
    status_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    canceled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # One text of a batch to many clients (Text selected…, bulk-send); null for single texts.
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_batches.id", ondelete="SET NULL"), index=True)
    # Sent inside quiet hours on purpose (a reason was given and audited): never held.
    quiet_hours_override: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())

    matter: Mapped[Matter | None] = relationship(foreign_keys=[matter_id])
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])


class InboundMessage(Base):
    """A text or MMS received on one of the office's numbers; stored once per provider id."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_received", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(40), unique=True)
    from_raw: Mapped[str] = mapped_column(String(40))
    from_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    to_number: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    num_media: Mapped[int] = mapped_column(Integer, default=0)
    media_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    matching_mode: Mapped[str | None] = mapped_column(String(30))
    # The body was cut to the storage cap (desktop_sms/services/ingest.py MAX_INBOUND_BODY_BYTES).
    body_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Media pending with back-off (docs/media_and_clocks.md): list attempts made, not asked
    # again before media_retry_at (UTC), attachments given up when the 24-hour limit passed.
    media_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    media_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    media_missing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    links: Mapped[list[MessageLink]] = relationship(back_populates="inbound")
    media: Mapped[list[InboundMedia]] = relationship(back_populates="inbound")


class InboundMedia(Base):
    """One attachment of an inbound MMS; data is empty until fetched (retried later on failure)."""

    __tablename__ = "inbound_media"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True
    )
    provider_media_sid: Mapped[str] = mapped_column(String(40), unique=True)
    content_type: Mapped[str] = mapped_column(String(120))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int | None] = mapped_column(Integer)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    fetch_error: Mapped[str | None] = mapped_column(Text)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)  # over the size cap

    inbound: Mapped[InboundMessage] = relationship(back_populates="media")


class MessageLink(Base):
    """An inbound message filed on a matter, with the rule (or user) that filed it."""

    __tablename__ = "message_links"
    __table_args__ = (UniqueConstraint("inbound_id", "matter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id", ondelete="CASCADE"))
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    inbound: Mapped[InboundMessage] = relationship(back_populates="links")
    matter: Mapped[Matter] = relationship()


class CaseNote(Base):
    """A note on a matter; notes about replies are plain text and marked withdrawn on unlink."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("message_links.id", ondelete="SET NULL"))
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)


class Document(Base):
    """A document of a matter; bytes live in the database so every desktop sees them."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_matter_folder", "matter_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    opaque: Mapped[bool] = mapped_column(Boolean, default=False)  # never opened automatically
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("case_notes.id", ondelete="SET NULL"))
    inbound_media_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_media.id", ondelete="SET NULL")
    )


class Alert(Base):
    """A reply filed on a matter; one dismissal dismisses it for everybody."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_matter_open", "matter_id", "dismissed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"))
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CalendarItem(Base):
    """A task (due at starts_at) or a calendar event (starts_at … ends_at), maybe on a matter."""

    __tablename__ = "calendar_items"
    __table_args__ = (Index("ix_calendar_items_starts", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # task / event
    title: Mapped[str] = mapped_column(String(200))
    matter_id: Mapped[int | None] = mapped_column(
        ForeignKey("matters.id", ondelete="SET NULL"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attendees: Mapped[list[Attendee]] = relationship(cascade="all, delete-orphan")
    reminders: Mapped[list[Reminder]] = relationship(cascade="all, delete-orphan")


class Attendee(Base):
    """A user attending a task or event."""

    __tablename__ = "attendees"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("calendar_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class Reminder(Base):
    """An SMS reminder: an offset before the item's time or a fixed time; remind_at is derived."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_items.id", ondelete="CASCADE"), index=True
    )
    offset_minutes: Mapped[int | None] = mapped_column(Integer)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ReminderDelivery(Base):
    """One (reminder, attendee) text, claimed like an outbound message so it goes out once."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (
        UniqueConstraint("reminder_id", "user_id"),
        Index("ix_reminder_deliveries_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending / claimed / queued (handed to the outbound pipeline) / missed / no_mobile / canceled
    state: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
    detail: Mapped[str | None] = mapped_column(String(200))


class OptOut(Base):
    """A number that replied STOP (or that the provider reported as opted out: 21610)."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_e164: Mapped[str] = mapped_column(String(20), unique=True)
    # Same-line key of phone_e164 (domain.phones.line_key): opt-outs are compared by line, so
    # a STOP from "+521…" blocks "+52…" (services/consent.opt_out_key).
    phone_key: Mapped[str | None] = mapped_column(
        String(20), index=True, default=_line_key_of("phone_e164"))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(20))  # keyword / provider
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )


class Setting(Base):
    """One office-wide setting (docs/product.md F13), stored as text and typed by the settings service."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PollCursor(Base):
    """How far inbound polling of one office number has safely got."""

    __tablename__ = "poll_cursors"

    office_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_date_sent: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundFilingFailure(Base):
    """A listed reply that could not be filed, counted per provider id (docs/set_aside.md).

    While `set_aside_at` is empty the poller tries again on its next polls and its cursor waits;
    after a few failed attempts the message is set aside: kept here (text made storable and
    capped), shown in the Received Log as *could not be filed*, no longer holding the cursor,
    until an administrator's *Try again* files it (the row is then deleted).
    """

    __tablename__ = "inbound_filing_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(40), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    from_raw: Mapped[str] = mapped_column(String(40), default="")
    to_number: Mapped[str] = mapped_column(String(40), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    num_media: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    set_aside_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what and when; never holds message bodies or tokens."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship()


@event.listens_for(Matter, "before_update")
def _refresh_matter_keys(mapper: Any, connection: Any, target: Matter) -> None:
    """Keep a matter's same-line keys in step with its numbers when the ORM changes them."""
    from desktop_sms.domain.phones import line_key

    target.mobile_key = line_key(target.mobile_e164) if target.mobile_e164 else None
    target.home_key = line_key(target.home_e164) if target.home_e164 else None


class MessageTemplate(Base):
    """A reusable text with merge fields such as {client_first_name} (docs/templates.md)."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class OutboundBatch(Base):
    """One text to many clients; each recipient has its own outbound_messages row."""

    __tablename__ = "outbound_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    template_name: Mapped[str | None] = mapped_column(String(80))
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the first text is due
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # texts written
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # recipients left out, with reasons
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ClientReminder(Base):
    """A reminder text to the client of a task or event's matter; its text is a scheduled
    outbound message (moved with the item, canceled with it)."""

    __tablename__ = "client_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_items.id", ondelete="CASCADE"), index=True)
    offset_minutes: Mapped[int | None] = mapped_column(Integer)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    template_body: Mapped[str] = mapped_column(Text)
    # scheduled (its text waits in outbound_messages) / skipped (with detail) / canceled
    state: Mapped[str] = mapped_column(String(12), default="scheduled")
    detail: Mapped[str | None] = mapped_column(String(200))
    outbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL"))


class ConsentRecord(Base):
    """One SMS consent answer (or revocation) for a matter: what, how, which wording, who, when.

    method: verbal / written / text_reply / imported. The matter's `consent` column holds the
    latest answer; these rows are its history (docs/consent_and_quiet_hours.md).
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_matter_at", "matter_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(String(10))  # yes / no
    method: Mapped[str] = mapped_column(String(12))
    wording_version: Mapped[str] = mapped_column(String(16))
    wording: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )


class ConsentRequest(Base):
    """The one "Reply YES…" text a matter may send; a YES/START within the window answers it."""

    __tablename__ = "consent_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"),
                                           unique=True)
    to_e164: Mapped[str] = mapped_column(String(20), index=True)
    outbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )


class MessageRead(Base):
    """A user opened an inbound message; without a row the reply is unread for that user."""

    __tablename__ = "message_reads"
    __table_args__ = (UniqueConstraint("user_id", "inbound_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    inbound_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConversationState(Base):
    """A matter's conversation was marked done at done_at (it needs no response until a newer
    reply arrives)."""

    __tablename__ = "conversation_states"

    matter_id: Mapped[int] = mapped_column(
        ForeignKey("matters.id", ondelete="CASCADE"), primary_key=True
    )
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Draft(Base):
    """A text a user typed to a matter's client and has not sent yet (one per user and matter)."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "matter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    to_raw: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
