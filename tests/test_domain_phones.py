"""Phone number parsing, display, masking and local time (docs/product.md, Words, F2)."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pytest

from desktop_sms.domain.phones import (
    InvalidPhoneNumber,
    format_display,
    is_quiet_hours,
    local_time_zone,
    mask,
    normalize,
    phone_search_variants,
    try_normalize,
)


@pytest.mark.parametrize(
    "raw",
    [
        "(212) 555-0123",
        "212.555.0123",
        "+12125550123",
        "212-555-0123",
        "1 212 555 0123",
        "+1 212 555 0123",
        "  (212)5550123  ",
    ],
)
def test_spec_forms_are_the_same_number(raw: str) -> None:
    assert normalize(raw) == "+12125550123"


@pytest.mark.parametrize("last", range(10))
def test_twilio_magic_numbers_are_accepted(last: int) -> None:
    assert normalize(f"+1500555000{last}") == f"+1500555000{last}"
    assert normalize(f"(500) 555-000{last}") == f"+1500555000{last}"


def test_foreign_number_with_plus_keeps_its_country() -> None:
    assert normalize("+44 20 7946 0958") == "+442079460958"


def test_region_decides_numbers_without_country_code() -> None:
    assert normalize("020 7946 0958", "GB") == "+442079460958"
    assert normalize("020 7946 0958", "gb") == "+442079460958"


def test_extension_is_dropped() -> None:
    assert normalize("212-555-0123 ext. 5") == "+12125550123"


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        ("+12125550123", True),  # fictional 555-01XX in a real area code
        ("+15005550006", True),  # Twilio magic number
        ("+12125551234", False),  # 555 but not 01XX: no fallback
        ("+15555550123", False),  # 555-01XX in a non-existent area code
    ],
)
def test_fallback_when_metadata_rejects_555_numbers(
    monkeypatch: pytest.MonkeyPatch, raw: str, accepted: bool
) -> None:
    """Simulate older phonenumbers metadata that calls every x555 and 500 number invalid."""
    real = phonenumbers.is_valid_number

    def old_metadata(number: phonenumbers.PhoneNumber) -> bool:
        national = str(number.national_number)
        return national[3:6] != "555" and real(number)

    monkeypatch.setattr(phonenumbers, "is_valid_number", old_metadata)
    assert (try_normalize(raw) is not None) is accepted


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12345", "'12345' is not a valid phone number for region US."),
        ("", "No phone number was given."),
        ("   ", "No phone number was given."),
        ("hello", "'hello' is not a valid phone number for region US."),
        # Area code 555 does not exist: possible length, but not a number anyone can text.
        ("555-555-0123", "'555-555-0123' is not a valid phone number for region US."),
        ("+1 212 555 01234", "'+1 212 555 01234' is not a valid phone number for region US."),
    ],
)
def test_invalid_numbers_get_a_sentence(raw: str, message: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize(raw)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_try_normalize() -> None:
    assert try_normalize("212.555.0123", "US") == "+12125550123"
    assert try_normalize("12345", "US") is None
    assert try_normalize("", "US") is None


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+12125550123", "(212) 555-0123"),
        ("+15005550006", "(500) 555-0006"),  # non-geographic but still national
        ("+442079460958", "+44 20 7946 0958"),
        ("+14165550123", "(416) 555-0123"),  # Canada shares the +1 calling code
        ("not a number", "not a number"),
    ],
)
def test_format_display(e164: str, shown: str) -> None:
    assert format_display(e164) == shown


def test_format_display_in_another_region() -> None:
    assert format_display("+442079460958", "GB") == "020 7946 0958"
    assert format_display("+12125550123", "GB") == "+1 212-555-0123"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+12125550123", "+1******0123"),
        ("+442079460958", "+44******0958"),
        ("(212) 555-0123", "******0123"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_hides_all_but_last_four(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(
    ("e164", "zone"),
    [
        ("+12125550123", "America/New_York"),
        ("+14155552671", "America/Los_Angeles"),
        ("+13125550123", "America/Chicago"),
        # Twilio's 500 numbers are non-geographic: the whole NANP zone list, so unknown.
        ("+15005550006", None),
        ("garbage", None),
    ],
)
def test_local_time_zone(e164: str, zone: str | None) -> None:
    assert local_time_zone(e164) == zone


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (7, 59, True),
        (8, 0, False),
        (12, 0, False),
        (20, 59, False),
        (21, 0, True),
        (23, 30, True),
        (0, 0, True),
    ],
)
def test_quiet_hours_boundaries(hour: int, minute: int, quiet: bool) -> None:
    aware = dt.datetime(2025, 3, 4, hour, minute, tzinfo=dt.UTC)
    assert is_quiet_hours(aware) is quiet
    assert is_quiet_hours(aware.replace(tzinfo=None)) is quiet
    assert is_quiet_hours(dt.time(hour, minute)) is quiet


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("212.555.0123", "12125550123"),
        ("(212) 555-0123", "12125550123"),
        ("+12125550123", "12125550123"),
        ("5550123", "5550123"),
        ("555-01", "55501"),
        ("Smith", ""),
        ("", ""),
    ],
)
def test_phone_search_variants(typed: str, digits: str) -> None:
    assert phone_search_variants(typed, "US") == digits
    if digits:
        assert digits in "12125550123"
