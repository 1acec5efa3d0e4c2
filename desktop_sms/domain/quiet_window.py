"""A daily quiet window for texts to clients (e.g. 21:00–08:00 local). Pure Python.

Kept apart so the office's own quiet-hours rules can later supply the window; everything here
takes the window as parameters. A window whose start is after its end spans midnight. A window
with start == end is empty (no quiet hours).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

__all__ = ["in_quiet_window", "last_allowed_before", "next_allowed_at", "parse_window"]


def parse_window(text: str) -> tuple[time, time] | None:
    """'21:00-08:00' → (21:00, 08:00); '' → None.

    Raises:
        ValueError: anything else, with a sentence.
    """
    raw = text.strip()
    if not raw:
        return None
    try:
        start_s, end_s = (p.strip() for p in raw.split("-"))
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    except ValueError:
        raise ValueError("must be two times such as 21:00-08:00, or empty") from None
    return start, end


def in_quiet_window(when: datetime, start: time, end: time, tz: tzinfo) -> bool:
    """True when `when` (aware) falls in the window [start, end) on the wall clock of `tz`."""
    if start == end:
        return False
    t = when.astimezone(tz).time().replace(tzinfo=None)
    if start < end:
        return start <= t < end
    return t >= start or t < end


def last_allowed_before(when: datetime, start: time, end: time, tz: tzinfo) -> datetime:
    """`when` itself if allowed, else the last minute before the quiet window it falls in
    (one minute before the window's start that day or the day before), in UTC."""
    if not in_quiet_window(when, start, end, tz):
        return when.astimezone(UTC)
    local = when.astimezone(tz)
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) < end:
        day -= timedelta(days=1)  # after midnight: the window began the evening before
    begin = datetime.combine(day, start).replace(tzinfo=tz)
    return (begin - timedelta(minutes=1)).astimezone(UTC)


def next_allowed_at(when: datetime, start: time, end: time, tz: tzinfo) -> datetime:
    """`when` itself if allowed, else the end of the quiet window it falls in, in UTC."""
    if not in_quiet_window(when, start, end, tz):
        return when.astimezone(UTC)
    local = when.astimezone(tz)
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end).replace(tzinfo=tz).astimezone(UTC)
