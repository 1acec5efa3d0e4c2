"""Reminder times and reminder texts (docs/product.md F11). Pure Python: no Qt, no SQL.

Times are stored in UTC; people think in the office's local time. An offset of whole days
("1 day before") is counted on the local wall clock, so a reminder "1 day before 9:00" is at
9:00 the day before even when a daylight-saving change falls in between. The rest of an offset
(minutes, hours) is elapsed time: "2 hours before" is always two real hours earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

__all__ = [
    "MAX_OFFSET_MINUTES",
    "MINUTES_PER_DAY",
    "UNITS",
    "ReminderError",
    "ReminderSpec",
    "compute_remind_at",
    "describe_offset",
    "format_local_time",
    "reminder_text",
]

MINUTES_PER_DAY: Final = 24 * 60
MAX_OFFSET_MINUTES: Final = 365 * MINUTES_PER_DAY
UNITS: Final = {"minutes": 1, "hours": 60, "days": MINUTES_PER_DAY}

_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec")


class ReminderError(ValueError):
    """A reminder that cannot be: the message is a sentence a person understands."""


@dataclass(frozen=True)
class ReminderSpec:
    """One reminder as a person asked for it: an offset before the item's time, or a fixed time."""

    offset_minutes: int | None = None
    fixed_at: datetime | None = None

    @classmethod
    def before(cls, amount: int, unit: str = "minutes") -> ReminderSpec:
        """`amount` minutes, hours or days before the item's time."""
        if unit not in UNITS:
            raise ReminderError(f"A reminder unit must be minutes, hours or days, not '{unit}'.")
        return cls(offset_minutes=amount * UNITS[unit])

    @classmethod
    def at(cls, when: datetime) -> ReminderSpec:
        """At a fixed time (timezone-aware)."""
        return cls(fixed_at=when)

    def validate(self) -> None:
        """Raise ReminderError unless exactly one of offset / fixed time is given and sensible."""
        if (self.offset_minutes is None) == (self.fixed_at is None):
            raise ReminderError("A reminder is either a time before the item or a fixed time.")
        if self.offset_minutes is not None:
            if self.offset_minutes < 0:
                raise ReminderError("A reminder can't be after the item: use 0 or more minutes "
                                    "before it.")
            if self.offset_minutes > MAX_OFFSET_MINUTES:
                raise ReminderError("A reminder can be at most 365 days before the item.")
        if self.fixed_at is not None and self.fixed_at.tzinfo is None:
            raise ReminderError("The reminder's time has no time zone.")

    def key(self) -> tuple[int | None, datetime | None]:
        """What makes two reminders the same (fixed times compared in UTC)."""
        return self.offset_minutes, (self.fixed_at.astimezone(UTC) if self.fixed_at else None)


def compute_remind_at(item_at: datetime, spec: ReminderSpec, tz: tzinfo) -> datetime:
    """When the reminder is due, in UTC.

    Args:
        item_at: the task's due time or the event's start (timezone-aware).
        spec: the reminder.
        tz: the office's local zone; whole days of the offset are counted on its wall clock.
    """
    spec.validate()
    if item_at.tzinfo is None:
        raise ReminderError("The item's time has no time zone.")
    if spec.fixed_at is not None:
        return spec.fixed_at.astimezone(UTC)
    assert spec.offset_minutes is not None
    days, minutes = divmod(spec.offset_minutes, MINUTES_PER_DAY)
    if days == 0:
        return item_at.astimezone(UTC) - timedelta(minutes=minutes)
    local = item_at.astimezone(tz).replace(tzinfo=None)
    # Naive arithmetic moves the wall clock; attaching the zone afterwards picks that day's offset
    # (fold=0: a wall time in the spring-forward gap reads as the time before the change).
    wall = (local - timedelta(days=days)).replace(tzinfo=tz)
    return wall.astimezone(UTC) - timedelta(minutes=minutes)


def describe_offset(spec: ReminderSpec, tz: tzinfo) -> str:
    """'15 minutes before', '1 day before', '1 day 2 hours before', 'at Mon Mar 9, 9:00 AM'."""
    if spec.fixed_at is not None:
        return f"at {format_local_time(spec.fixed_at, tz)}"
    minutes = spec.offset_minutes or 0
    if minutes == 0:
        return "at the time"
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}"
             for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute")) if n]
    return " ".join(parts) + " before"


def format_local_time(when: datetime, tz: tzinfo, *, with_year: bool = False) -> str:
    """'Mon Mar 9, 9:00 AM' in the given zone; English names whatever the process locale."""
    local = when.astimezone(tz)
    hour = local.hour % 12 or 12
    ampm = "AM" if local.hour < 12 else "PM"
    year = f" {local.year}" if with_year else ""
    return (f"{_DAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day}{year}, "
            f"{hour}:{local.minute:02d} {ampm}")


def reminder_text(title: str, item_at: datetime, tz: tzinfo, case_number: str | None) -> str:
    """The SMS: 'Reminder: <title> at <local time> (case <number>)'; nothing else about the client."""
    text = f"Reminder: {' '.join(title.split())} at {format_local_time(item_at, tz)}"
    if case_number:
        text += f" (case {case_number})"
    return text
