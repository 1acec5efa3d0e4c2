"""Local wall-clock times around clock changes: one rule for the command line and the GUI.

A typed local time (no offset) is turned into an instant in the desktop's IANA zone:

* a time the clock skips (spring forward, e.g. 02:30 on 14 March 2027 in America/New_York)
  does not exist: `NonexistentLocalTime` names the next valid time (03:00);
* a time the clock shows twice (fall back, e.g. 01:30 on 7 November 2027 in New York) is
  ambiguous: `AmbiguousLocalTime` carries both instants; the GUI asks which one is meant and
  the command line refuses it unless the time carries an offset.

Rule source: PEP 495 (``fold``), https://peps.python.org/pep-0495/. Pure Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["AmbiguousLocalTime", "LocalTimeError", "NonexistentLocalTime", "resolve_local_time"]


class LocalTimeError(ValueError):
    """A local time that cannot be turned into one instant; str() is a sentence for people."""


class NonexistentLocalTime(LocalTimeError):
    """The clock skips this local time; ``next_valid`` is the first local time after the gap."""

    def __init__(self, typed: datetime, next_valid: datetime) -> None:
        self.typed = typed
        self.next_valid = next_valid
        super().__init__(
            f"{_shown(typed)} does not exist on this desktop's clock: the clocks go forward "
            f"that night. The next valid time is {_shown(next_valid)} "
            f"({next_valid.tzname()}).")


class AmbiguousLocalTime(LocalTimeError):
    """The clock shows this local time twice; ``earlier`` and ``later`` are both (aware, local)."""

    def __init__(self, typed: datetime, earlier: datetime, later: datetime) -> None:
        self.typed = typed
        self.earlier = earlier
        self.later = later
        super().__init__(
            f"{_shown(typed)} happens twice on this desktop's clock (the clocks go back that "
            f"night): {_shown(earlier)} {earlier.tzname()} (UTC{_offset(earlier)}) or "
            f"{_shown(later)} {later.tzname()} (UTC{_offset(later)}). Give the offset, e.g. "
            f"{earlier.replace(tzinfo=None).isoformat(timespec='minutes')}{_offset(earlier)}.")


def _shown(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _offset(value: datetime) -> str:
    delta = value.utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def resolve_local_time(typed: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of a local time in ``zone``.

    ``typed`` with an offset is taken as it is (converted to UTC). A naive ``typed`` is a wall
    time in ``zone`` (an IANA zone such as ``ZoneInfo("America/New_York")``).

    Returns:
        An aware datetime in UTC.
    Raises:
        NonexistentLocalTime: the clock skips this time (names the next valid time).
        AmbiguousLocalTime: the clock shows this time twice (carries both readings).
    """
    if typed.tzinfo is not None:
        return typed.astimezone(UTC)
    first = typed.replace(tzinfo=zone, fold=0)
    second = typed.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    as_first, as_second = first.astimezone(UTC), second.astimezone(UTC)
    if _round_trips(as_first, typed, zone) and _round_trips(as_second, typed, zone):
        earlier, later = sorted((as_first, as_second))
        raise AmbiguousLocalTime(typed, earlier.astimezone(zone), later.astimezone(zone))
    # A gap: the first whole minute after it, searched between the two readings.
    moment = min(as_first, as_second).replace(second=0, microsecond=0)
    end = max(as_first, as_second)
    while moment <= end:
        local = moment.astimezone(zone)
        if local.replace(tzinfo=None) > typed:
            raise NonexistentLocalTime(typed, local)
        moment += timedelta(minutes=1)
    raise NonexistentLocalTime(typed, end.astimezone(zone))  # pragma: no cover - odd zones


def _round_trips(instant: datetime, typed: datetime, zone: tzinfo) -> bool:
    return instant.astimezone(zone).replace(tzinfo=None) == typed.replace(tzinfo=None)
