"""Tasks, events and their SMS reminders, end to end to the local Twilio-compatible server.

Every test runs on SQLite and PostgreSQL (the `office` fixture), on a fake clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, OutboundMessage, ReminderDelivery
from desktop_sms.domain.reminders import ReminderSpec
from desktop_sms.services.calendar import (
    NO_MOBILE,
    CalendarItemInput,
    CalendarItemView,
    CalendarService,
    run_reminders_then_dispatch,
)
from desktop_sms.services.common import NotFound, ValidationError
from desktop_sms.services.dispatcher import Dispatcher
from desktop_sms.services.outbound import OutboundService, record_opt_out
from desktop_sms.services.users import UserInfo
from tests.helpers.outbound_fixtures import Office

NY = ZoneInfo("America/New_York")
PAT = "+12125550191"
SAM = "+12125550192"
CASE = "25-000001"


@pytest.fixture
def cal(office: Office) -> CalendarService:
    """The office's calendar service, showing times in New York."""
    office.services.calendar.tz = NY
    return office.services.calendar


@pytest.fixture
def sam(office: Office) -> UserInfo:
    return office.services.users.add(office.admin, "sam", "Sam Attorney", mobile="212-555-0192",
                                     password="password1")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def run(office: Office) -> None:
    run_reminders_then_dispatch(office.services.calendar, office.services.dispatcher)


def deliveries(view: CalendarItemView) -> list[tuple[str, str, str]]:
    """(reminder, user, status) of every delivery of an item."""
    return [(r.description, d.user_name, d.status) for r in view.reminders for d in r.deliveries]


# --- reminder times across daylight-saving changes, end to end ----------------------------

@pytest.mark.parametrize(("start", "due_utc", "text_time"), [
    (ny(2026, 3, 8, 9, 0), datetime(2026, 3, 7, 14, 0, tzinfo=UTC), "Sun Mar 8, 9:00 AM"),
    (ny(2026, 11, 1, 9, 0), datetime(2026, 10, 31, 13, 0, tzinfo=UTC), "Sun Nov 1, 9:00 AM"),
])
def test_one_day_before_across_dst_is_sent_at_nine_local_with_the_exact_text(
        office: Office, cal: CalendarService, start: datetime, due_utc: datetime,
        text_time: str) -> None:
    item_id = cal.create_event(office.staff, "Hearing", start, start + timedelta(hours=1),
                               matter_id=office.matter_id, location="Courtroom 4",
                               attendee_ids=[office.staff.user_id or 0],
                               reminders=[ReminderSpec.before(1, "days")])
    view = cal.get(item_id)
    assert view.reminders[0].remind_at == due_utc
    assert view.reminders[0].remind_at.astimezone(NY).hour == 9
    assert view.reminders[0].description == "1 day before"
    assert cal.next_due() == due_utc

    office.clock.set(due_utc - timedelta(minutes=1))
    run(office)
    assert office.server_bodies() == []
    assert deliveries(cal.get(item_id)) == [("1 day before", "Pat Paralegal", "pending")]

    office.clock.set(due_utc)
    run(office)
    assert office.server_bodies(PAT) == [f"Reminder: Hearing at {text_time} (case {CASE})"]
    assert deliveries(cal.get(item_id)) == [("1 day before", "Pat Paralegal", "sent")]
    assert cal.next_due() is None
    run(office)
    assert len(office.server_bodies()) == 1  # nothing twice
    with office.services.db.session() as s:
        msg = s.scalar(select(OutboundMessage).where(OutboundMessage.kind == "reminder"))
        assert msg is not None and msg.matter_id is None and msg.to_e164 == PAT
        assert "Maria" not in msg.body  # no client detail beyond the case number


# --- exactly once with two desktops ---------------------------------------------------------

def test_two_desktops_racing_send_each_reminder_to_each_attendee_once(
        office: Office, cal: CalendarService, sam: UserInfo, db_url: str) -> None:
    svc = office.services
    svc.settings.set(office.admin, "overdue_grace_minutes", "60")
    start = office.clock() + timedelta(hours=3)
    attendees = [office.staff.user_id or 0, sam.id, office.admin.user_id or 0]  # admin: no mobile
    items = [cal.create_task(office.staff, f"Deadline {i}", start + timedelta(minutes=i),
                             matter_id=office.matter_id, attendee_ids=attendees,
                             reminders=[ReminderSpec.before(60), ReminderSpec.before(70)])
             for i in range(8)]
    office.clock.advance(hours=2, minutes=10)  # every reminder is due, none beyond the grace

    dbs = [Database(db_url), Database(db_url)]
    desks = []
    for n, d in enumerate(dbs):
        outbound = OutboundService(d, svc.settings, office.clock)
        desks.append((CalendarService(d, outbound, svc.settings, office.clock, NY,
                                      desktop_id=f"desk-{n}"),
                      Dispatcher(d, svc.settings, svc.dispatcher.provider_factory, office.clock,
                                 desktop_id=f"desk-{n}")))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def desktop(calendar: CalendarService, dispatcher: Dispatcher) -> None:
        try:
            barrier.wait()
            for _ in range(2):
                report = run_reminders_then_dispatch(calendar, dispatcher)
                assert not report.reminders.errors
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=desktop, args=desk) for desk in desks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for d in dbs:
        d.dispose()
    assert not errors

    sent = Counter((m["to"], m["body"]) for m in office.server.messages()
                   if m["direction"].startswith("outbound"))
    expected = Counter()
    for i in range(8):
        body = cal.get(items[i])
        text = (f"Reminder: Deadline {i} at "
                f"{cal.format_time(body.starts_at)} (case {CASE})")
        expected[(PAT, text)] = 2  # two reminders, each once
        expected[(SAM, text)] = 2
    assert sent == expected
    with svc.db.session() as s:
        states = Counter(s.scalars(select(ReminderDelivery.state)))
        assert states == {"queued": 32, "no_mobile": 16}
        outbound_ids = list(s.scalars(select(ReminderDelivery.outbound_id)
                                      .where(ReminderDelivery.outbound_id.is_not(None))))
        assert len(set(outbound_ids)) == 32
        assert s.scalar(select(func.count()).select_from(OutboundMessage)
                        .where(OutboundMessage.kind == "reminder")) == 32
        assert set(s.scalars(select(OutboundMessage.state))) == {"sent"}


def test_a_claim_left_by_a_crashed_desktop_is_taken_over_after_its_lease(
        office: Office, cal: CalendarService) -> None:
    start = office.clock() + timedelta(hours=1)
    item_id = cal.create_task(office.staff, "File motion", start,
                              attendee_ids=[office.staff.user_id or 0],
                              reminders=[ReminderSpec.before(30)])
    office.clock.advance(minutes=30)
    with office.services.db.transaction() as s:
        s.execute(update(ReminderDelivery).values(
            state="claimed", claimed_by="crashed-desktop",
            lease_until=office.clock() + timedelta(minutes=2)))
    assert cal.next_due() == office.clock() + timedelta(minutes=2)
    run(office)
    assert office.server_bodies() == []  # its lease still runs: not ours to take
    office.clock.advance(minutes=3)
    run(office)
    assert office.server_bodies(PAT) == ["Reminder: File motion at "
                                         f"{cal.format_time(start)}"]
    assert deliveries(cal.get(item_id)) == [("30 minutes before", "Pat Paralegal", "sent")]


# --- rescheduling, attendees, deleting ------------------------------------------------------

def test_moving_an_item_moves_its_pending_reminders(office: Office, cal: CalendarService) -> None:
    start = ny(2026, 3, 10, 14, 0)
    fixed = ny(2026, 3, 9, 8, 0)
    item_id = cal.create_task(office.staff, "Serve papers", start, matter_id=office.matter_id,
                              attendee_ids=[office.staff.user_id or 0],
                              reminders=[ReminderSpec.before(2, "hours"), ReminderSpec.at(fixed)])
    later = ny(2026, 3, 12, 16, 0)
    data = cal.get(item_id).to_input()
    cal.update(office.staff, item_id, CalendarItemInput.task(
        "Serve papers", later, matter_id=office.matter_id, attendee_ids=data.attendee_ids,
        reminders=data.reminders))
    view = cal.get(item_id)
    assert view.starts_at == later
    assert sorted(r.remind_at for r in view.reminders) == [
        fixed.astimezone(UTC), (later - timedelta(hours=2)).astimezone(UTC)]
    with office.services.db.session() as s:
        due = sorted(s.scalars(select(ReminderDelivery.due_at)))
        assert due == sorted(r.remind_at for r in view.reminders)
        assert s.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "calendar.task.move")) is not None

    text = f"Reminder: Serve papers at Thu Mar 12, 4:00 PM (case {CASE})"
    office.clock.set(fixed.astimezone(UTC))
    run(office)
    assert office.server_bodies(PAT) == [text]  # the fixed reminder stays put
    office.clock.set((start - timedelta(hours=2)).astimezone(UTC))  # the old reminder time
    run(office)
    assert office.server_bodies(PAT) == [text]
    office.clock.set((later - timedelta(hours=2)).astimezone(UTC))
    run(office)
    assert office.server_bodies(PAT) == [text, text]


def test_a_reminder_moved_into_the_past_is_not_sent_and_says_why(
        office: Office, cal: CalendarService) -> None:
    start = office.clock() + timedelta(days=3)
    item_id = cal.create_task(office.staff, "Brief due", start,
                              attendee_ids=[office.staff.user_id or 0],
                              reminders=[ReminderSpec.before(2, "days")])
    sooner = office.clock() + timedelta(hours=5)  # two days before that has already passed
    cal.update(office.staff, item_id, CalendarItemInput.task(
        "Brief due", sooner, attendee_ids=[office.staff.user_id or 0],
        reminders=[ReminderSpec.before(2, "days")]))
    delivery = cal.get(item_id).reminders[0].deliveries[0]
    assert delivery.status == "canceled" and "already passed" in delivery.detail
    run(office)
    assert office.server_bodies() == []


def test_attendees_added_and_removed_keep_deliveries_in_step(
        office: Office, cal: CalendarService, sam: UserInfo) -> None:
    start = office.clock() + timedelta(days=2)
    pat_id = office.staff.user_id or 0
    item_id = cal.create_event(office.staff, "Deposition", start, start + timedelta(hours=2),
                               attendee_ids=[pat_id], reminders=[ReminderSpec.before(1, "days")])
    data = cal.get(item_id).to_input()
    cal.update(office.staff, item_id, CalendarItemInput.event(
        "Deposition", start, start + timedelta(hours=2), attendee_ids=[sam.id],
        reminders=data.reminders))
    assert sorted(deliveries(cal.get(item_id))) == [
        ("1 day before", "Pat Paralegal", "canceled"), ("1 day before", "Sam Attorney", "pending")]
    cal.update(office.staff, item_id, CalendarItemInput.event(
        "Deposition", start, start + timedelta(hours=2), attendee_ids=[sam.id, pat_id],
        reminders=data.reminders))
    assert sorted(deliveries(cal.get(item_id))) == [
        ("1 day before", "Pat Paralegal", "pending"), ("1 day before", "Sam Attorney", "pending")]
    office.clock.advance(days=1)
    run(office)
    assert sorted(m["to"] for m in office.server.messages()) == [PAT, SAM]


def test_deleting_cancels_pending_reminders_and_unsent_texts(
        office: Office, cal: CalendarService) -> None:
    start = office.clock() + timedelta(hours=5)
    pat_id = office.staff.user_id or 0
    item_id = cal.create_event(office.staff, "Mediation", start, start + timedelta(hours=1),
                               matter_id=office.matter_id, attendee_ids=[pat_id],
                               reminders=[ReminderSpec.before(1, "hours"),
                                          ReminderSpec.before(4, "hours")])
    office.clock.advance(hours=1)
    cal.run_due_reminders()  # the 4-hours-before text is in the queue, not yet sent
    cal.delete(office.staff, item_id)
    with pytest.raises(NotFound):
        cal.get(item_id)
    assert cal.for_matter(office.matter_id) == []
    with office.services.db.session() as s:
        assert Counter(s.scalars(select(ReminderDelivery.state))) == {"canceled": 1, "queued": 1}
        assert list(s.scalars(select(OutboundMessage.state))) == ["canceled"]
        assert s.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "calendar.event.delete")) is not None
    assert cal.next_due() is None
    office.clock.advance(hours=4)
    run(office)
    assert office.server_bodies() == []


# --- no mobile, missed, opted out -------------------------------------------------------------

def test_attendee_without_mobile_is_shown_not_sent_and_nothing_goes_to_them(
        office: Office, cal: CalendarService) -> None:
    start = office.clock() + timedelta(hours=2)
    item_id = cal.create_task(office.admin, "Sign retainer", start, matter_id=office.matter_id,
                              attendee_ids=[office.admin.user_id or 0, office.staff.user_id or 0],
                              reminders=[ReminderSpec.before(1, "hours")])
    office.clock.advance(hours=1)
    run(office)
    view = cal.get(item_id)
    by_user = {d.user_name: d for d in view.reminders[0].deliveries}
    manager = by_user["Office Manager"]
    assert manager.state == "no_mobile" and manager.detail == NO_MOBILE
    assert manager.label == "Office Manager: not sent: no mobile number on profile"
    assert by_user["Pat Paralegal"].status == "sent"
    assert [m["to"] for m in office.server.messages()] == [PAT]


@pytest.mark.parametrize(("late_minutes", "sent"), [(15, True), (16, False)])
def test_reminders_more_than_the_grace_late_are_missed_not_sent(
        office: Office, cal: CalendarService, late_minutes: int, sent: bool) -> None:
    start = office.clock() + timedelta(hours=3)
    item_id = cal.create_task(office.staff, "Call court", start,
                              attendee_ids=[office.staff.user_id or 0],
                              reminders=[ReminderSpec.before(1, "hours")])
    office.clock.advance(hours=2, minutes=late_minutes)  # no desktop ran at the reminder time
    run(office)
    assert len(office.server_bodies()) == (1 if sent else 0)
    status = deliveries(cal.get(item_id))[0][2]
    assert status == ("sent" if sent else "missed")
    run(office)
    assert len(office.server_bodies()) == (1 if sent else 0)


def test_an_opted_out_mobile_gets_no_reminder(office: Office, cal: CalendarService) -> None:
    with office.services.db.transaction() as s:
        record_opt_out(s, PAT, True, "keyword", office.clock())
    start = office.clock() + timedelta(hours=1)
    item_id = cal.create_task(office.staff, "Renew bond", start,
                              attendee_ids=[office.staff.user_id or 0],
                              reminders=[ReminderSpec.before(10)])
    office.clock.advance(minutes=50)
    run(office)
    assert office.server_bodies() == []
    delivery = cal.get(item_id).reminders[0].deliveries[0]
    assert delivery.status == "failed" and "opted out" in delivery.detail


# --- validation, reading -------------------------------------------------------------------

@pytest.mark.parametrize(("data", "message"), [
    (CalendarItemInput.task("  ", datetime(2026, 3, 5, 15, tzinfo=UTC)), "needs a title"),
    (CalendarItemInput.event("Trial", datetime(2026, 3, 5, 15, tzinfo=UTC),
                             datetime(2026, 3, 5, 14, tzinfo=UTC)), "end after it starts"),
    (CalendarItemInput.task("Call", datetime(2026, 3, 5, 15), ), "time zone"),
    (CalendarItemInput.task("Call", datetime(2026, 3, 5, 15, tzinfo=UTC), attendee_ids=(2,),
                            reminders=(ReminderSpec(offset_minutes=-10),)), "0 or more"),
    (CalendarItemInput.task("Call", datetime(2026, 3, 5, 15, tzinfo=UTC), attendee_ids=(2,),
                            reminders=(ReminderSpec.at(datetime(2026, 3, 5, 16, tzinfo=UTC)),)),
     "after the task itself"),
    (CalendarItemInput.task("Call", datetime(2026, 3, 5, 15, tzinfo=UTC), attendee_ids=(2,),
                            reminders=(ReminderSpec.before(7, "days"),)), "already passed"),
    (CalendarItemInput.task("Call", datetime(2026, 3, 5, 15, tzinfo=UTC),
                            reminders=(ReminderSpec.before(1, "hours"),)), "add at least one"),
])
def test_bad_items_are_refused_with_a_sentence_and_nothing_is_written(
        office: Office, cal: CalendarService, data: CalendarItemInput, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cal.create(office.staff, data)
    assert cal.upcoming(None, office.clock() - timedelta(days=30),
                        office.clock() + timedelta(days=30)) == []


def test_upcoming_mine_and_all_and_the_matter_tab(office: Office, cal: CalendarService,
                                                  sam: UserInfo) -> None:
    now = office.clock()
    pat_id = office.staff.user_id or 0
    mine = cal.create_task(office.staff, "Mine", now + timedelta(days=1), attendee_ids=[pat_id],
                           matter_id=office.matter_id)
    theirs = cal.create_event(office.admin, "Theirs", now + timedelta(days=2),
                              now + timedelta(days=2, hours=1), attendee_ids=[sam.id])
    far = cal.create_task(office.admin, "Far", now + timedelta(days=40), attendee_ids=[pat_id])
    window = (now, now + timedelta(days=14))
    assert [v.id for v in cal.upcoming(pat_id, *window)] == [mine]
    assert [v.id for v in cal.upcoming(None, *window)] == [mine, theirs]
    assert [v.id for v in cal.upcoming(pat_id, now, now + timedelta(days=60))] == [mine, far]
    assert [(v.id, v.case_number) for v in cal.for_matter(office.matter_id)] == [(mine, CASE)]
    theirs_view = cal.get(theirs)
    assert theirs_view.kind_label == "Event" and theirs_view.created_by == "Office Manager"
    assert [a.name for a in theirs_view.attendees] == ["Sam Attorney"]
