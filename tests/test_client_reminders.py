"""Reminders texted to the client of a task or event: once, moved with it, canceled with it,
held out of quiet hours; on SQLite and PostgreSQL against the local server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import OutboundMessage
from desktop_sms.domain.quiet_hours import QuietPolicy, parse_window
from desktop_sms.domain.reminders import ReminderSpec
from desktop_sms.services.common import ValidationError
from desktop_sms.services.dispatcher import Dispatcher
from tests.helpers.outbound_fixtures import Office

NY = ZoneInfo("America/New_York")


def _event(office: Office, at: datetime, place: str | None = "Kings County Court") -> int:
    svc = office.services
    svc.calendar.tz = NY
    return svc.calendar.create_event(office.staff, "Hearing", at, at + timedelta(hours=1),
                                     matter_id=office.matter_id, location=place)


def _outbound(db: Database) -> list[OutboundMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboundMessage).order_by(OutboundMessage.send_at)))


def test_quiet_hours_move_a_time_to_the_last_allowed_minute_before() -> None:
    policy = QuietPolicy(parse_window("21:00-08:00"), strict_states=False, office_tz=UTC)
    ny_number = "+12125550123"  # New York: the recipient's own zone, not the office's (UTC)
    at_7 = datetime(2026, 3, 10, 7, 0, tzinfo=NY)
    assert policy.last_allowed_before(at_7, ny_number) == datetime(2026, 3, 9, 20, 59, tzinfo=NY)
    at_22 = datetime(2026, 3, 10, 22, 0, tzinfo=NY)
    assert policy.last_allowed_before(at_22, ny_number) == datetime(2026, 3, 10, 20, 59,
                                                                     tzinfo=NY)
    assert policy.next_allowed(at_22, ny_number) == datetime(2026, 3, 11, 8, 0, tzinfo=NY)
    noon = datetime(2026, 3, 10, 12, 0, tzinfo=NY)
    assert policy.last_allowed_before(noon, ny_number) == noon
    # Florida under the stricter state windows: quiet from 20:00, so 19:59.
    strict = QuietPolicy(parse_window("21:00-08:00"), strict_states=True, office_tz=UTC)
    miami = "+13055550123"
    at_2030 = datetime(2026, 3, 10, 20, 30, tzinfo=NY)
    assert strict.last_allowed_before(at_2030, miami) == datetime(2026, 3, 10, 19, 59, tzinfo=NY)
    assert policy.last_allowed_before(at_2030, miami) == at_2030
    # Off: nothing moves.
    off = QuietPolicy(None, strict_states=False, office_tz=UTC)
    assert off.last_allowed_before(at_7, ny_number) == at_7


def test_client_reminders_are_sent_once_each_across_desktops(office: Office,
                                                             db_url: str) -> None:
    svc = office.services
    svc.settings.set(office.admin, "overdue_grace_minutes", "60")
    svc.settings.set(office.admin, "quiet_hours", "off")  # 7:30 would move (tested below)
    hearing = datetime(2026, 3, 4, 9, 30, tzinfo=NY)  # now is Mar 2, 10:00 in New York
    item = _event(office, hearing)
    lines = svc.client_reminders.set_for_item(
        office.staff, item, [ReminderSpec.before(1, "days"), ReminderSpec.before(2, "hours")])
    assert [(x.description, x.status) for x in lines] == [("1 day before", "scheduled"),
                                                          ("2 hours before", "scheduled")]
    texts = _outbound(svc.db)
    assert [m.body for m in texts] == [
        "Reminder: your hearing is on Wed Mar 4 at 9:30 AM at Kings County Court. Reply to "
        "this text with questions."] * 2
    assert [m.send_at for m in texts] == [datetime(2026, 3, 3, 9, 30, tzinfo=NY),
                                          datetime(2026, 3, 4, 7, 30, tzinfo=NY)]
    desks = [Dispatcher(Database(db_url), svc.settings, svc.dispatcher.provider_factory,
                        office.clock, desktop_id=f"desk-{n}") for n in range(2)]
    sent: list[int] = []
    for due in (datetime(2026, 3, 3, 9, 31, tzinfo=NY), datetime(2026, 3, 4, 7, 31, tzinfo=NY)):
        office.clock.set(due)
        for d in [*desks, svc.dispatcher]:
            sent += d.run_due().sent
    for d in desks:
        d.db.dispose()
    assert sorted(sent) == sorted(m.id for m in texts)
    assert len(office.server_bodies()) == 2
    assert [x.status for x in svc.client_reminders.for_item(item)] == ["sent", "sent"]


def test_moving_the_event_moves_and_refills_its_waiting_reminders(office: Office) -> None:
    svc = office.services
    hearing = datetime(2026, 3, 4, 9, 30, tzinfo=NY)
    item = _event(office, hearing)
    svc.client_reminders.set_for_item(office.staff, item, [ReminderSpec.before(1, "days")])
    data = svc.calendar.get(item).to_input()
    moved = hearing + timedelta(days=2)
    svc.calendar.update(office.staff, item, type(data)(
        data.kind, data.title, moved, moved + timedelta(hours=1), data.matter_id, data.location))
    [text] = _outbound(svc.db)
    assert text.state == "scheduled"
    assert text.send_at == datetime(2026, 3, 5, 9, 30, tzinfo=NY)
    assert "Fri Mar 6 at 9:30 AM" in text.body


def test_deleting_the_event_cancels_its_reminders(office: Office) -> None:
    svc = office.services
    item = _event(office, datetime(2026, 3, 4, 9, 30, tzinfo=NY))
    svc.client_reminders.set_for_item(office.staff, item, [ReminderSpec.before(2, "hours")])
    svc.calendar.delete(office.staff, item)
    assert [m.state for m in _outbound(svc.db)] == ["canceled"]
    office.clock.set(datetime(2026, 3, 4, 7, 31, tzinfo=NY))
    assert svc.dispatcher.run_due().sent == []
    assert office.server_bodies() == []
    assert [(x.status, x.detail) for x in svc.client_reminders.for_item(item)] == [
        ("canceled", "canceled: the item was deleted")]


def test_a_reminder_in_quiet_hours_goes_at_the_last_allowed_time_before(office: Office) -> None:
    svc = office.services
    # The office's own quiet hours (default 21:00-08:00), in the client's zone (New York)
    # although the office's zone is elsewhere.
    svc.settings.set(office.admin, "office_time_zone", "Europe/London")
    item = _event(office, datetime(2026, 3, 4, 9, 0, tzinfo=NY))
    [line] = svc.client_reminders.set_for_item(office.staff, item,
                                               [ReminderSpec.before(2, "hours")])  # 7:00
    assert line.remind_at == datetime(2026, 3, 3, 20, 59, tzinfo=NY)
    assert [m.send_at for m in _outbound(svc.db)] == [datetime(2026, 3, 3, 20, 59, tzinfo=NY)]
    # Quiet hours off: the reminder goes at its own time.
    svc.settings.set(office.admin, "quiet_hours", "off")
    [line] = svc.client_reminders.set_for_item(office.staff, item,
                                               [ReminderSpec.before(2, "hours")])
    assert line.remind_at == datetime(2026, 3, 4, 7, 0, tzinfo=NY)


def test_a_reminder_that_cannot_go_is_kept_with_its_reason(office: Office) -> None:
    svc = office.services
    svc.matters.set_consent(office.admin, office.matter_id, "no")
    item = _event(office, datetime(2026, 3, 4, 9, 0, tzinfo=NY), place=None)
    [line] = svc.client_reminders.set_for_item(office.staff, item,
                                               [ReminderSpec.before(1, "days")])
    assert (line.status, line.detail, line.outbound_id) == ("skipped", "no consent", None)
    svc.matters.set_consent(office.admin, office.matter_id, "yes")
    [line] = svc.client_reminders.set_for_item(office.staff, item,
                                               [ReminderSpec.before(1, "days")],
                                               body="At {event_place} on {event_date}")
    assert (line.status, line.detail) == ("skipped", "event place is empty")
    with pytest.raises(ValidationError, match="not a merge field"):
        svc.client_reminders.set_for_item(office.staff, item, [ReminderSpec.before(1, "days")],
                                          body="{hearing_room}")
    assert _outbound(svc.db) == []
