"""Phone numbers: parse what people type, compare in E.164, show, mask and locate them.

Numbers are parsed with ``phonenumbers`` in the office's default region (docs/product.md, Words) and stored and
compared in E.164 form ("+12125550123"). Pure Python: no Qt, no SQL.

Which numbers are accepted: ``phonenumbers.is_valid_number`` decides. Two narrow families are
also accepted when they are merely *possible* (right length for their country), because older
``phonenumbers`` metadata (the project allows >= 8.13) rejected them while we rely on them:

* NANP fictional numbers ``NXX-555-01XX`` in a real area code (e.g. "+1 212 555 0123"),
  reserved for fiction and used throughout our examples and tests;
* Twilio's magic test numbers ``+1 500 555 0000``-``0009``, used against Twilio test credentials.

phonenumbers 9.x already treats both as valid; the fallback only matters on older metadata.
Any other merely-possible number (e.g. area code 555) is refused: it cannot receive a text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import timezone as pn_timezone

__all__ = [
    "DEFAULT_REGION",
    "QUIET_HOURS_END",
    "QUIET_HOURS_START",
    "InvalidPhoneNumber",
    "SenderKind",
    "format_display",
    "is_quiet_hours",
    "line_key",
    "normalize_for_texting",
    "normalize_sender",
    "same_line",
    "sender_kind",
    "local_time_zone",
    "mask",
    "normalize",
    "phone_search_variants",
    "try_normalize",
]

DEFAULT_REGION = "US"

#: Texting is polite from 8:00 (inclusive) until 21:00 (exclusive) in the recipient's time zone.
QUIET_HOURS_END = dt.time(8, 0)
QUIET_HOURS_START = dt.time(21, 0)

_UNKNOWN_ZONE = "Etc/Unknown"
_NON_DIGITS = re.compile(r"\D")
# National significant numbers accepted when only "possible" (see module docstring).
_NANP_FICTIONAL = re.compile(r"[2-9]\d{2}55501\d{2}")
_TWILIO_MAGIC = re.compile(r"500555000\d")


class InvalidPhoneNumber(ValueError):
    """A phone number that cannot be texted; str() is a sentence to show the user."""

    def __init__(self, raw: str, region: str = DEFAULT_REGION) -> None:
        self.raw = raw
        self.region = region
        if not raw.strip():
            message = "No phone number was given."
        else:
            message = f"'{raw.strip()}' is not a valid phone number for region {region}."
        super().__init__(message)


def _parse(raw: str, region: str) -> PhoneNumber:
    """Parse and check a number, raising InvalidPhoneNumber with a readable sentence."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("" if not isinstance(raw, str) else raw, region)
    try:
        number = phonenumbers.parse(raw.strip(), region.upper())
    except NumberParseException as exc:
        raise InvalidPhoneNumber(raw, region) from exc
    if not _is_acceptable(number):
        raise InvalidPhoneNumber(raw, region)
    return number


def _is_acceptable(number: PhoneNumber) -> bool:
    """Valid numbers, plus NANP 555-01XX and Twilio magic numbers when merely possible."""
    if phonenumbers.is_valid_number(number):
        return True
    if number.country_code != 1 or not phonenumbers.is_possible_number(number):
        return False
    national = str(number.national_number)
    if _TWILIO_MAGIC.fullmatch(national):
        return True
    return bool(_NANP_FICTIONAL.fullmatch(national)) and _is_real_area_code(national[:3])


def _is_real_area_code(area_code: str) -> bool:
    """True when phonenumbers knows valid numbers in this NANP area code (probe numbers)."""
    return any(
        phonenumbers.is_valid_number(phonenumbers.parse(f"+1{area_code}{rest}"))
        for rest in ("2345678", "3456789", "7654321")
    )


def normalize(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of a typed number so equal numbers compare equal.

    Raises:
        InvalidPhoneNumber: empty, unparseable or not a number that can be texted.
            An extension ("x 12") is dropped: E.164 cannot carry one and SMS ignores it.
    """
    return phonenumbers.format_number(_parse(raw, region), PhoneNumberFormat.E164)


def try_normalize(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """Return the E.164 form, or None when the text is not an acceptable number."""
    try:
        return normalize(raw, region)
    except InvalidPhoneNumber:
        return None


def format_display(e164: str, region: str = DEFAULT_REGION) -> str:
    """Format for people: national within the office's calling code, international otherwise.

    Comparing calling codes rather than regions keeps NANP numbers (Canada, toll-free, 500)
    in the familiar "(416) 555-0123" form for a US office, and Guernsey mobiles national in GB.
    Text that does not parse is returned unchanged, so a bad stored value still shows.
    """
    try:
        number = phonenumbers.parse(e164, region.upper())
    except NumberParseException:
        return e164
    if number.country_code == phonenumbers.country_code_for_region(region.upper()):
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def mask(e164_or_raw: str) -> str:
    """Hide all but the last four digits so logs never carry a whole number ("+1******0123").

    For an E.164 number the "+" and country code stay (they say little about the person);
    for anything else every digit but the last four becomes "*" and other characters drop.
    """
    text = e164_or_raw.strip()
    if text.startswith("+"):
        try:
            number = phonenumbers.parse(text, None)
        except NumberParseException:
            number = None
        if number is not None and number.country_code:
            national = str(number.national_number)
            hidden = max(len(national) - 4, 0)
            return f"+{number.country_code}{'*' * hidden}{national[hidden:]}"
    digits = _NON_DIGITS.sub("", text)
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def local_time_zone(e164: str) -> str | None:
    """Return the IANA zone of the number's area, or None when it cannot be told.

    Geographic numbers give their area's first zone (an area code spanning two zones gets the
    first listed; good enough for an 8:00-21:00 warning). Non-geographic numbers (toll-free,
    Twilio's 500, many mobiles outside NANP) get the country's zone list; we use its first zone
    only when all zones in the list keep the same clock, otherwise None.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    zones = [z for z in pn_timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE]
    if not zones:
        return None
    if len(zones) == 1 or phonenumbers.is_number_geographical(number):
        return zones[0]
    return zones[0] if _same_clock(zones) else None


def _same_clock(zones: list[str]) -> bool:
    """True when every zone has the same UTC offset in both January and July."""
    year = dt.datetime.now(dt.UTC).year
    instants = [
        dt.datetime(year, 1, 15, 12, tzinfo=dt.UTC),
        dt.datetime(year, 7, 15, 12, tzinfo=dt.UTC),
    ]
    try:
        offsets = {tuple(i.astimezone(ZoneInfo(z)).utcoffset() for i in instants) for z in zones}
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return len(offsets) == 1


def is_quiet_hours(local_dt: dt.datetime | dt.time) -> bool:
    """True outside 8:00-21:00 local time, when a text would be rude (docs/product.md F2 warning)."""
    moment = local_dt.time() if isinstance(local_dt, dt.datetime) else local_dt
    moment = moment.replace(tzinfo=None)
    return not (QUIET_HOURS_END <= moment < QUIET_HOURS_START)


def phone_search_variants(text: str, region: str = DEFAULT_REGION) -> str:
    """Turn filter text into the digits to look for inside stored E.164 numbers.

    A full number in any form ("(212) 555-0123", "212.555.0123") becomes its E.164 digits
    ("12125550123"); anything else keeps only its digits ("555-01" -> "55501"), which is a
    substring of the E.164 digits of every matching number. Returns "" when there are no digits:
    the caller then skips phone matching (e.g. the user typed a client's name).
    """
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        return ""
    e164 = try_normalize(text, region)
    if e164 is not None:
        return e164[1:]
    return digits


# --- the same line, short codes and sender names ------------------------------------------
#
# Some countries write one mobile line in two ways, and carriers still send the old way
# (documented with phonenumbers' metadata, https://github.com/google/libphonenumber FAQ):
#
# * Mexico (+52): mobiles used to carry a "1" after the country code (+52 1 55 1234 5678);
#   since 2019 the number is +52 55 1234 5678 but replies still arrive from +521....
# * Argentina (+54): a mobile is dialled from abroad with a "9" after the country code
#   (+54 9 11 2345 6789); some senders drop it (+54 11 2345 6789). Landlines and mobiles
#   share one numbering plan, so the digits after the 9 name the line alone.
# * Italy (+39) and a few others keep the national leading zero inside the international
#   number (+39 06 ...): it is part of the number and is never dropped.
#: country calling code -> the mobile token dropped from an 11-digit national number.
_MOBILE_TOKENS: dict[int, str] = {52: "1", 54: "9"}
_SHORT_CODE = re.compile(r"\d{3,8}")
_E164_TEXT = re.compile(r"\+\d{6,16}")

SenderKind = Literal["phone", "short_code", "sender_name"]


def line_key(number: str, region: str = DEFAULT_REGION) -> str | None:
    """The comparison key of a phone line: "+" + country code + national number without quirks.

    Two numbers are the same line exactly when their keys are equal (`same_line`). The key is
    E.164-shaped ("+525512345678") but is NOT a number to dial: Argentina's mobile "9" is
    dropped from it. Returns None for text that is not a phone number (short codes, sender
    names, empty text). Extensions are ignored.
    """
    if not isinstance(number, str) or sender_kind(number) != "phone":
        return None
    try:
        parsed = phonenumbers.parse(number.strip(), region.upper())
    except NumberParseException:
        return None
    if not parsed.country_code or not parsed.national_number:
        return None
    national = phonenumbers.national_significant_number(parsed)  # keeps Italy's leading zero
    token = _MOBILE_TOKENS.get(parsed.country_code)
    if token is not None and len(national) == 11 and national.startswith(token):
        national = national[1:]
    return f"+{parsed.country_code}{national}"


def same_line(a: str, b: str, region: str = DEFAULT_REGION) -> bool:
    """True when two numbers, as typed or in E.164, reach the same phone line.

    "+52 55 1234 5678" and "+5215512345678" are one line; "+39 06 1234 5678" and
    "+39 6 1234 5678" are not. False when either is not a phone number.
    """
    key_a = line_key(a, region)
    return key_a is not None and key_a == line_key(b, region)


def sender_kind(raw: str) -> SenderKind:
    """What kind of sender a provider's ``From`` is: a phone number, a short code, or a name.

    Short codes are 3-8 digits with no "+" ("72345"); sender names (alphanumeric sender IDs,
    https://www.twilio.com/docs/glossary/what-alphanumeric-sender-id) contain a letter.
    Neither is ever parsed as a phone number or matched to a case.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if any(c.isalpha() for c in text):
        return "sender_name"
    if _SHORT_CODE.fullmatch(text):
        return "short_code"
    return "phone"


def normalize_sender(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of an inbound sender, or None for short codes, sender names and junk.

    A sender in an old national form that `normalize` refuses (Mexico's "+521...") is kept as
    the provider sent it when its `line_key` is an acceptable number, so it can be matched.
    """
    if sender_kind(raw) != "phone":
        return None
    e164 = try_normalize(raw, region)
    if e164 is not None:
        return e164
    text = raw.strip()
    key = line_key(text, region)
    if key is None or not _E164_TEXT.fullmatch(text) or try_normalize(key, region) is None:
        return None
    return text


def normalize_for_texting(raw: str, region: str = DEFAULT_REGION) -> str:
    """`normalize` for a number a text is sent to: an extension is refused, not dropped.

    Raises:
        InvalidPhoneNumber: as `normalize`, or the number carries an extension ("x 12"),
            which a text cannot reach.
    """
    e164 = normalize(raw, region)
    extension = phonenumbers.parse(raw.strip(), region.upper()).extension
    if extension:
        error = InvalidPhoneNumber(raw, region)
        error.args = (f"'{raw.strip()}' has an extension (x{extension}); a text cannot reach "
                      "an extension. Remove it or give a mobile number.",)
        raise error
    return e164
