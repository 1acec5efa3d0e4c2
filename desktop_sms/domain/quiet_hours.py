"""Quiet hours: when a text may reach a recipient, in the recipient's own local time.

The recipient's time zone comes from the number's area via `phonenumbers`' time-zone data
(https://github.com/daviddrysdale/python-phonenumbers). An area spanning several zones is quiet
while it is quiet in any of them; a number whose zone is unknown uses the office's own zone.

The default window is 21:00–08:00 (the TCPA's calling hours, 47 CFR § 64.1200(c)(1), allow
8 a.m.–9 p.m. at the called party's location). With `strict_states`, numbers whose area lies in
a state with a tighter window use that state's window instead:

* Florida — Fla. Stat. § 501.059(8)(a): 8 a.m.–8 p.m.
* Oklahoma — Okla. Stat. tit. 15, § 775C.4: 8 a.m.–8 p.m.
* Maryland — Md. Code, Com. Law § 14-4503 (Stop the Spam Calls Act): 8 a.m.–8 p.m.
* Mississippi — Miss. Code Ann. § 77-3-725: 8 a.m.–8 p.m.
* New Jersey — N.J. Stat. § 56:8-130 and N.J. Admin. Code § 13:45D-4.1: the office applies
  8 a.m.–8 p.m.
* Connecticut — Conn. Gen. Stat. § 42-288a(c): 9 a.m.–8 p.m.

Pure: no database, no clock; every function takes the moment as a timezone-aware datetime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from desktop_sms.domain.strict_state_area_codes import AREA_CODE_STATE

__all__ = ["DEFAULT_WINDOW", "STRICT_STATE_WINDOWS", "QuietPolicy", "QuietWindow",
           "parse_window", "recipient_state", "recipient_zones"]


@dataclass(frozen=True)
class QuietWindow:
    """Quiet from `start` until `end` (local wall-clock times; may cross midnight)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """True when the local time of day lies inside the window."""
        if self.start == self.end:
            return False
        if self.start > self.end:  # crosses midnight (21:00–08:00)
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def label(self) -> str:
        """"21:00–08:00"."""
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


DEFAULT_WINDOW: Final = QuietWindow(time(21, 0), time(8, 0))
STRICT_STATE_WINDOWS: Final[dict[str, QuietWindow]] = {
    "FL": QuietWindow(time(20, 0), time(8, 0)),
    "OK": QuietWindow(time(20, 0), time(8, 0)),
    "MD": QuietWindow(time(20, 0), time(8, 0)),
    "MS": QuietWindow(time(20, 0), time(8, 0)),
    "NJ": QuietWindow(time(20, 0), time(8, 0)),
    "CT": QuietWindow(time(20, 0), time(9, 0)),
}
MAX_AREA_ZONES: Final = 3  # more than this: the number has no area (toll-free, 500)
_STATE_NAMES: Final = {"Florida": "FL", "Oklahoma": "OK", "Maryland": "MD",
                       "Mississippi": "MS", "New Jersey": "NJ", "Connecticut": "CT"}


def parse_window(text: str) -> QuietWindow | None:
    """"21:00-08:00" → QuietWindow; "off" or "" → None. Raises ValueError with a reason."""
    value = text.strip().lower()
    if value in ("", "off", "none"):
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})", value)
    if not match:
        raise ValueError("must look like 21:00-08:00 (quiet from, quiet until) or off")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("must use times between 00:00 and 23:59")
    return QuietWindow(time(h1, m1), time(h2, m2))


def _parsed(e164: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def recipient_zones(e164: str, office_tz: tzinfo) -> list[tzinfo]:
    """The time zones of the number's area; [office_tz] when the area's zone is unknown or the
    number has no area."""
    number = _parsed(e164)
    zones: list[tzinfo] = []
    if number is not None:
        for name in pn_timezone.time_zones_for_number(number):
            try:
                zones.append(ZoneInfo(name))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    # A non-geographic number (toll-free, 500) lists every zone of its country: unknown. Zones
    # that keep one clock (a UK mobile: London, Guernsey, Jersey, Isle of Man) count once.
    return zones if zones and len(_distinct_clocks(zones)) <= MAX_AREA_ZONES else [office_tz]


_CLOCK_SAMPLES: Final = tuple(datetime(2026, month, 15, 12, tzinfo=UTC) for month in (1, 4, 7, 10))


def _distinct_clocks(zones: list[tzinfo]) -> set[tuple[timedelta | None, ...]]:
    """Zones grouped by their UTC offsets in January, April, July and October: zones with
    the same offsets all year show the same time."""
    return {tuple(sample.astimezone(zone).utcoffset() for sample in _CLOCK_SAMPLES)
            for zone in zones}


def recipient_state(e164: str) -> str | None:
    """Two-letter state of a US number's area code when it is one of the stricter states
    ("FL"), else None. The table is the phone library's geocoder's answer per area code
    (domain/strict_state_area_codes.py), kept in step with it by a test."""
    number = _parsed(e164)
    if number is None or phonenumbers.region_code_for_number(number) != "US":
        return None
    national = str(number.national_number)
    return AREA_CODE_STATE.get(int(national[:3])) if len(national) == 10 else None


@dataclass(frozen=True)
class QuietPolicy:
    """The office's quiet-hours rule: the window (None = off), the stricter-state option and
    the office's own zone for numbers whose zone is unknown."""

    window: QuietWindow | None
    strict_states: bool
    office_tz: tzinfo

    def window_for(self, e164: str) -> QuietWindow | None:
        """The window that applies to this number (a stricter state's, when enabled)."""
        if self.window is None:
            return None
        if self.strict_states:
            state = recipient_state(e164)
            if state in STRICT_STATE_WINDOWS:
                strict = STRICT_STATE_WINDOWS[state]
                # The stricter of the two: quiet from the earlier evening to the later morning.
                return QuietWindow(min(strict.start, self.window.start)
                                   if self.window.start > self.window.end else strict.start,
                                   max(strict.end, self.window.end))
        return self.window

    def is_quiet(self, moment: datetime, e164: str) -> bool:
        """True when `moment` (aware) is inside quiet hours in any of the number's zones."""
        window = self.window_for(e164)
        if window is None:
            return False
        return any(window.contains(moment.astimezone(z).time().replace(tzinfo=None))
                   for z in recipient_zones(e164, self.office_tz))

    def next_allowed(self, moment: datetime, e164: str) -> datetime:
        """`moment` itself when texting is allowed then, else the first allowed moment after
        it (aware, in UTC's instant; the end of quiet hours in the recipient's zone)."""
        window = self.window_for(e164)
        if window is None:
            return moment
        zones = recipient_zones(e164, self.office_tz)
        candidate = moment
        for _ in range(4 * len(zones) + 2):
            moved = False
            for zone in zones:
                local = candidate.astimezone(zone)
                if not window.contains(local.time().replace(tzinfo=None)):
                    continue
                day = local.date()
                if window.start > window.end and local.time() >= window.start:
                    day += timedelta(days=1)
                end = datetime.combine(day, window.end, tzinfo=zone)
                candidate = max(candidate, end.astimezone(moment.tzinfo))
                moved = True
            if not moved:
                return candidate
        return candidate

    def last_allowed_before(self, moment: datetime, e164: str) -> datetime:
        """`moment` itself when texting is allowed then, else the last allowed minute before
        the quiet hours it falls in (aware, in `moment`'s zone): one minute before the window
        began in the recipient's zone (the evening before, for a moment after midnight). A
        client reminder due at 07:00 under 21:00–08:00 goes at 20:59 the day before.

        With several zones (an area spanning them) the earliest such minute wins, so the
        result is allowed in every zone of the number.
        """
        window = self.window_for(e164)
        if window is None:
            return moment
        zones = recipient_zones(e164, self.office_tz)
        candidate = moment
        for _ in range(4 * len(zones) + 2):
            moved = False
            for zone in zones:
                local = candidate.astimezone(zone)
                clock = local.time().replace(tzinfo=None)
                if not window.contains(clock):
                    continue
                day = local.date()
                if window.start > window.end and clock < window.end:
                    day -= timedelta(days=1)  # after midnight: it began the evening before
                begin = datetime.combine(day, window.start, tzinfo=zone)
                candidate = min(candidate,
                                (begin - timedelta(minutes=1)).astimezone(moment.tzinfo))
                moved = True
            if not moved:
                return candidate
        return candidate

    def local_label(self, moment: datetime, e164: str) -> str:
        """The moment in the recipient's first zone, e.g. "Tue 3 Mar 08:00 EST"."""
        zone = recipient_zones(e164, self.office_tz)[0]
        local = moment.astimezone(zone)
        return f"{local:%a} {local.day} {local:%b %H:%M %Z}".strip()
