"""domain/strict_state_area_codes.py agrees with the phone library's geocoder it was made from."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from phonenumbers import geocoder

from desktop_sms.domain.quiet_hours import recipient_state
from desktop_sms.domain.strict_state_area_codes import AREA_CODE_STATE

STATES = {"Florida": "FL", "Oklahoma": "OK", "Maryland": "MD", "Mississippi": "MS",
          "New Jersey": "NJ", "Connecticut": "CT"}


def geocoded_state(e164: str) -> str | None:
    where = geocoder.description_for_number(phonenumbers.parse(e164), "en")
    if where in STATES:
        return STATES[where]
    match = re.search(r",\s*([A-Z]{2})$", where)
    return match.group(1) if match and match.group(1) in STATES.values() else None


@pytest.mark.parametrize("area_code", sorted(AREA_CODE_STATE))
def test_each_area_code_is_in_its_state_by_the_geocoder(area_code: int) -> None:
    e164 = f"+1{area_code}2010100"
    assert recipient_state(e164) == AREA_CODE_STATE[area_code] == geocoded_state(e164)


def test_the_table_misses_no_strict_state_area_code() -> None:
    for area_code in range(200, 1000):
        e164 = f"+1{area_code}4560100"
        number = phonenumbers.parse(e164)
        if phonenumbers.region_code_for_number(number) != "US" or area_code in AREA_CODE_STATE:
            continue
        assert geocoded_state(e164) is None, area_code


def test_examples() -> None:
    assert recipient_state("+13055550123") == "FL"  # Miami
    assert recipient_state("+12035550123") == "CT"
    assert recipient_state("+12125550123") is None  # New York: the office's window
    assert recipient_state("+442079460958") is None
