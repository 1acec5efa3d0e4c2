"""Reminder times across daylight-saving changes, and the reminder text (pure domain code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from desktop_sms.domain.reminders import (
    ReminderError,
    ReminderSpec,
    compute_remind_at,
    describe_offset,
    format_local_time,
    reminder_text,
)

NY = ZoneInfo("America/New_York")


def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NY, fold=fold)  # type: ignore[misc]


@pytest.mark.parametrize(("item", "expected_local", "elapsed_hours"), [
    # Spring forward (2026-03-08 02:00 → 03:00): the day before has 23 hours.
    (ny(2026, 3, 8, 9, 0), ny(2026, 3, 7, 9, 0), 23),
    (ny(2026, 3, 9, 9, 0), ny(2026, 3, 8, 9, 0), 24),  # both after the change
    # Fall back (2026-11-01 02:00 → 01:00): the day before has 25 hours.
    (ny(2026, 11, 1, 9, 0), ny(2026, 10, 31, 9, 0), 25),
    (ny(2026, 11, 2, 9, 0), ny(2026, 11, 1, 9, 0), 24),
    # No change in between: exactly 24 hours.
    (ny(2026, 6, 15, 9, 0), ny(2026, 6, 14, 9, 0), 24),
])
def test_one_day_before_nine_stays_nine_local_across_dst(item: datetime, expected_local: datetime,
                                                         elapsed_hours: int) -> None:
    at = compute_remind_at(item, ReminderSpec.before(1, "days"), NY)
    assert at.tzinfo is UTC
    assert at == expected_local.astimezone(UTC)
    local = at.astimezone(NY)
    assert (local.hour, local.minute) == (9, 0)
    assert item - at == timedelta(hours=elapsed_hours)


def test_several_days_before_count_calendar_days() -> None:
    at = compute_remind_at(ny(2026, 11, 2, 9, 0), ReminderSpec.before(2, "days"), NY)
    assert at == ny(2026, 10, 31, 9, 0).astimezone(UTC)
    assert ny(2026, 11, 2, 9, 0) - at == timedelta(hours=49)


def test_item_given_in_utc_is_read_in_the_office_zone() -> None:
    item = datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert compute_remind_at(item, ReminderSpec.before(1, "days"), NY) == datetime(
        2026, 3, 7, 14, 0, tzinfo=UTC)  # 09:00 EST


def test_hours_and_minutes_are_elapsed_time_across_the_change() -> None:
    item = ny(2026, 3, 8, 3, 30)  # 07:30 UTC, just after clocks went forward
    at = compute_remind_at(item, ReminderSpec.before(2, "hours"), NY)
    assert item - at == timedelta(hours=2)
    assert at.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 0, 30)  # EST wall time
    at = compute_remind_at(ny(2026, 11, 1, 1, 30, fold=1), ReminderSpec.before(45), NY)
    assert at == datetime(2026, 11, 1, 5, 45, tzinfo=UTC)  # 01:30 EST − 45 min = 01:45 EDT


def test_days_and_hours_together() -> None:
    # 1 day 2 hours before Monday 9:00 after spring forward: Sunday 9:00 local, then 2 real hours.
    at = compute_remind_at(ny(2026, 3, 9, 9, 0), ReminderSpec(offset_minutes=26 * 60), NY)
    assert at.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 7, 0)


def test_wall_times_that_do_not_exist_or_happen_twice() -> None:
    # The day before 02:30 on 9 March is 02:30 on 8 March, which never happened: read as EST.
    at = compute_remind_at(ny(2026, 3, 9, 2, 30), ReminderSpec.before(1, "days"), NY)
    assert at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # The day before 01:30 on 2 November is 01:30 on 1 November, which happened twice: the first.
    at = compute_remind_at(ny(2026, 11, 2, 1, 30), ReminderSpec.before(1, "days"), NY)
    assert at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_fixed_time_is_kept_as_given() -> None:
    fixed = ny(2026, 3, 7, 17, 15)
    at = compute_remind_at(ny(2026, 3, 9, 9, 0), ReminderSpec.at(fixed), NY)
    assert at == fixed.astimezone(UTC)


@pytest.mark.parametrize(("spec", "message"), [
    (ReminderSpec(), "either"),
    (ReminderSpec(offset_minutes=5, fixed_at=datetime(2026, 1, 1, tzinfo=UTC)), "either"),
    (ReminderSpec(offset_minutes=-5), "0 or more"),
    (ReminderSpec(offset_minutes=400 * 24 * 60), "365 days"),
    (ReminderSpec(fixed_at=datetime(2026, 1, 1)), "time zone"),
])
def test_bad_reminders_are_refused_with_a_sentence(spec: ReminderSpec, message: str) -> None:
    with pytest.raises(ReminderError, match=message):
        compute_remind_at(ny(2026, 3, 9, 9, 0), spec, NY)


def test_units() -> None:
    assert ReminderSpec.before(15).offset_minutes == 15
    assert ReminderSpec.before(2, "hours").offset_minutes == 120
    assert ReminderSpec.before(1, "days").offset_minutes == 1440
    with pytest.raises(ReminderError, match="minutes, hours or days"):
        ReminderSpec.before(1, "weeks")


def test_describe() -> None:
    assert describe_offset(ReminderSpec.before(15), NY) == "15 minutes before"
    assert describe_offset(ReminderSpec.before(1), NY) == "1 minute before"
    assert describe_offset(ReminderSpec.before(1, "days"), NY) == "1 day before"
    assert describe_offset(ReminderSpec.before(26, "hours"), NY) == "1 day 2 hours before"
    assert describe_offset(ReminderSpec.before(0), NY) == "at the time"
    assert describe_offset(ReminderSpec.at(datetime(2026, 3, 9, 13, 5, tzinfo=UTC)), NY) == (
        "at Mon Mar 9, 9:05 AM")


def test_reminder_text_has_title_local_time_and_case_number_only() -> None:
    at = datetime(2026, 3, 9, 17, 30, tzinfo=UTC)
    assert reminder_text("Hearing  in\nroom 4", at, NY, "25-000001") == (
        "Reminder: Hearing in room 4 at Mon Mar 9, 1:30 PM (case 25-000001)")
    assert reminder_text("Call bar", at, NY, None) == "Reminder: Call bar at Mon Mar 9, 1:30 PM"
    assert format_local_time(datetime(2026, 12, 31, 5, 0, tzinfo=UTC), NY, with_year=True) == (
        "Thu Dec 31 2026, 12:00 AM")
