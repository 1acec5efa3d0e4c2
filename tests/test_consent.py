"""Consent, opt-out and quiet hours enforced by the services (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from desktop_sms.db.models import AuditEntry, ConsentRecord, OutboundMessage
from desktop_sms.domain.quiet_hours import DEFAULT_WINDOW, QuietPolicy, recipient_state
from desktop_sms.services.common import ValidationError
from desktop_sms.services.consent import (
    CANCEL_REASON,
    ConsentAlreadyRecorded,
    OptedOutClient,
    QuietHoursError,
)
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.outbound import OptedOutNumber
from tests.helpers.outbound_fixtures import OFFICE, Office

CLIENT = "+12125550123"
HOME = "+12125550177"
NY = ZoneInfo("America/New_York")


def _with_home(office: Office) -> None:
    office.services.matters.save(office.admin, MatterInput(
        "25-000001", "Maria Garcia", "intake", mobile="(212) 555-0123", home="(212) 555-0177",
        intake_date=date(2026, 1, 5),
        primary_username="pat"), office.matter_id)


def _reply(office: Office, body: str, frm: str = CLIENT) -> None:
    office.server.inject_inbound(frm, OFFICE, body, date_sent=office.clock())
    office.services.poller.poll_once()


def _msg(office: Office, message_id: int) -> OutboundMessage:
    with office.services.db.session() as s:
        msg = s.get(OutboundMessage, message_id)
        assert msg is not None
        return msg


def _actions(office: Office) -> list[str]:
    with office.services.db.session() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --- opt-out scope ----------------------------------------------------------------------

def test_stop_then_home_number_refused_under_client_scope(office: Office) -> None:
    _with_home(office)
    svc = office.services
    _reply(office, "STOP")
    status = svc.consent.status(office.matter_id)
    assert status.opted_out and status.number(HOME) is not None
    assert status.number(HOME).blocked and not status.number(HOME).opted_out  # type: ignore[union-attr]
    assert status.stop_sentence().startswith("This client replied STOP from (212) 555-0123 on ")
    with pytest.raises(OptedOutClient, match="replied STOP from"):
        svc.outbound.send(office.staff, office.matter_id, HOME, "Hi")
    with pytest.raises(OptedOutNumber):
        svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi")
    # an override needs the setting and a reason, and is audited
    svc.settings.set(office.admin, "allow_opt_out_override", "true")
    with pytest.raises(OptedOutClient, match="reason"):
        svc.outbound.send(office.staff, office.matter_id, HOME, "Hi", override_opt_out="  ")
    mid = svc.outbound.send(office.staff, office.matter_id, HOME, "Hi",
                            override_opt_out="client asked us to use home")
    assert _msg(office, mid).state == "queued"
    with svc.db.session() as s:
        detail = s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "optout.override"))
    assert detail is not None and "client asked us" in detail and "0177" not in detail[:12]


def test_stop_then_home_number_allowed_under_number_scope(office: Office) -> None:
    _with_home(office)
    svc = office.services
    svc.settings.set(office.admin, "opt_out_scope", "number")
    _reply(office, "stop")
    assert svc.consent.status(office.matter_id).number(HOME).blocked is False  # type: ignore[union-attr]
    mid = svc.outbound.send(office.staff, office.matter_id, HOME, "Hi")
    assert svc.dispatcher.run_due().sent == [mid]


def test_stop_cancels_tomorrows_scheduled_text_with_the_reason(office: Office) -> None:
    _with_home(office)
    svc = office.services
    tomorrow = office.clock() + timedelta(days=1)
    scheduled = svc.outbound.send(office.staff, office.matter_id, HOME, "See you", tomorrow)
    queued = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Later")
    _reply(office, "Stop.")
    for mid in (scheduled, queued):
        msg = _msg(office, mid)
        assert (msg.state, msg.error_message) == ("canceled", CANCEL_REASON)
    rows = {r.id: r for r in svc.outbound.queue(matter_id=office.matter_id)}
    assert (rows[scheduled].state, rows[scheduled].error) == ("canceled", CANCEL_REASON)
    assert "sms.cancel_opt_out" in _actions(office)
    from desktop_sms.ui.widgets.sms_log_widget import status_line

    log = office.services.inbound.received.conversation(office.matter_id)
    canceled = next(i for i in log if i.direction == "outbound" and i.id == scheduled)
    assert status_line(canceled).endswith("\n" + CANCEL_REASON)
    stop = next(i for i in log if i.direction == "inbound")
    assert status_line(stop).startswith("Opted out of texts · ")
    office.clock.advance(days=1, minutes=1)
    assert svc.dispatcher.run_due().sent == []
    assert office.server_bodies() == []


# --- consent records --------------------------------------------------------------------

def test_consent_record_history_and_revocation(office: Office) -> None:
    svc = office.services
    svc.consent.record(office.admin, office.matter_id, "yes", "written", note="signed form")
    office.clock.advance(hours=1)
    svc.consent.record(office.staff, office.matter_id, "no", "verbal")
    status = svc.consent.status(office.matter_id)
    assert status.consent == "no"
    assert [(h.answer, h.method, h.by) for h in status.history[-2:]] == [
        ("yes", "written", "Office Manager"), ("no", "verbal", "Pat Paralegal")]
    assert status.history[-2].note == "signed form" and len(status.history[-1].wording_version) == 12
    with pytest.raises(Exception, match="said no"):
        svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi")
    with pytest.raises(Exception, match="method"):
        svc.consent.record(office.admin, office.matter_id, "yes", "telepathy")


def test_consent_by_text_reply_within_window(office: Office) -> None:
    svc = office.services
    with svc.db.transaction() as s:  # a fresh matter: consent never asked
        from desktop_sms.db.models import Matter
        m = s.get(Matter, office.matter_id)
        assert m is not None
        m.consent = "not_asked"
    svc.settings.set(office.admin, "office_name", "Smith Law")
    mid = svc.consent.ask_by_text(office.staff, office.matter_id)
    assert svc.dispatcher.run_due().sent == [mid]
    assert office.server_bodies(CLIENT) == [
        "Reply YES to get texts about your case from Smith Law. Reply STOP to stop."]
    with pytest.raises(Exception, match="once per case"):
        svc.consent.ask_by_text(office.staff, office.matter_id)
    office.clock.advance(days=2)
    _reply(office, "Yes")
    status = svc.consent.status(office.matter_id)
    assert status.consent == "yes"
    assert status.history[-1].method == "text_reply" and status.history[-1].inbound_id
    with svc.db.session() as s:
        assert s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "consent.record")
                        .order_by(AuditEntry.id.desc()).limit(1)).startswith("consent yes (text")
    with pytest.raises(ConsentAlreadyRecorded):
        svc.consent.ask_by_text(office.staff, office.matter_id)


def test_yes_after_the_window_records_nothing(office: Office) -> None:
    svc = office.services
    with svc.db.transaction() as s:
        from desktop_sms.db.models import Matter
        m = s.get(Matter, office.matter_id)
        assert m is not None
        m.consent = "not_asked"
    svc.consent.ask_by_text(office.staff, office.matter_id)
    office.clock.advance(days=8)
    _reply(office, "YES")
    assert svc.consent.status(office.matter_id).consent == "not_asked"
    with svc.db.session() as s:
        assert s.scalar(select(ConsentRecord.id)) is None


# --- quiet hours ------------------------------------------------------------------------

def _at_ny(office: Office, hour: int, minute: int = 0, day: int = 2) -> datetime:
    when = datetime(2026, 3, day, hour, minute, tzinfo=NY).astimezone(UTC)
    office.clock.set(when)
    return when


def test_schedule_inside_quiet_hours_is_refused_with_next_allowed_time(office: Office) -> None:
    svc = office.services
    _at_ny(office, 12)
    with pytest.raises(QuietHoursError) as err:
        svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi",
                          datetime(2026, 3, 2, 22, 30, tzinfo=NY))
    assert err.value.next_allowed == datetime(2026, 3, 3, 8, 0, tzinfo=NY)
    assert "next allowed time is Tue 3 Mar 08:00 EST" in str(err.value)
    assert svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi",
                             err.value.next_allowed)


def test_send_now_inside_quiet_hours_needs_a_reason_and_is_audited(office: Office) -> None:
    svc = office.services
    _at_ny(office, 23)
    with pytest.raises(QuietHoursError, match="give a reason"):
        svc.outbound.send(office.staff, office.matter_id, CLIENT, "Hi")
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Court moved to 8am",
                            override_quiet_hours="hearing moved tonight")
    assert svc.dispatcher.run_due().sent == [mid]  # not held: sent on purpose
    assert "quiet_hours.override" in _actions(office)


def test_missed_text_falling_due_at_night_is_held_until_morning(office: Office) -> None:
    svc = office.services
    _at_ny(office, 20, 0)
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Reminder",
                            datetime(2026, 3, 2, 20, 30, tzinfo=NY))
    _at_ny(office, 22, 0)  # the desktop was off: now missed
    svc.dispatcher.run_due()
    assert _msg(office, mid).state == "missed"
    svc.outbound.send_missed_now(office.staff, mid)
    report = svc.dispatcher.run_due()
    assert report.sent == []
    msg = _msg(office, mid)
    assert msg.state == "scheduled" and msg.attempts == 0
    assert msg.send_at == datetime(2026, 3, 3, 8, 0, tzinfo=NY)
    assert office.server_bodies() == []
    assert svc.dispatcher.next_wakeup() == datetime(2026, 3, 3, 8, 0, tzinfo=NY)
    _at_ny(office, 8, 0, day=3)
    assert svc.dispatcher.run_due().sent == [mid]


def test_staff_reminders_are_not_held_unless_the_setting_says_so(office: Office) -> None:
    svc = office.services
    _at_ny(office, 23)
    with svc.db.transaction() as s:
        rid = svc.outbound.enqueue_reminder(s, 2, "+12125550191", "Hearing at 9", office.clock())
    assert svc.dispatcher.run_due().sent == [rid]
    svc.settings.set(office.admin, "quiet_hours_staff", "true")
    with svc.db.transaction() as s:
        rid2 = svc.outbound.enqueue_reminder(s, 2, "+12125550191", "Hearing at 9", office.clock())
    assert svc.dispatcher.run_due().sent == []
    assert _msg(office, rid2).state == "scheduled"


def test_stricter_state_windows() -> None:
    fl, ct, ny = "+13055550100", "+12035550100", "+12125550100"
    assert (recipient_state(fl), recipient_state(ct), recipient_state(ny)) == ("FL", "CT", None)  # only the stricter states are named
    policy = QuietPolicy(DEFAULT_WINDOW, True, UTC)
    plain = QuietPolicy(DEFAULT_WINDOW, False, UTC)
    evening = datetime(2026, 3, 2, 20, 30, tzinfo=NY)
    assert policy.is_quiet(evening, fl) and not plain.is_quiet(evening, fl)
    assert not policy.is_quiet(evening, ny)
    morning = datetime(2026, 3, 3, 8, 30, tzinfo=NY)
    assert policy.is_quiet(morning, ct) and not policy.is_quiet(morning, fl)
    assert policy.next_allowed(morning, ct) == datetime(2026, 3, 3, 9, 0, tzinfo=NY)


def test_unknown_time_zone_uses_the_office_zone() -> None:
    la = ZoneInfo("America/Los_Angeles")
    policy = QuietPolicy(DEFAULT_WINDOW, False, la)
    odd = "+442079460000"  # a UK number has its own zone
    assert not policy.is_quiet(datetime(2026, 3, 2, 12, 0, tzinfo=UTC), odd)
    unknown = "+15555550100"
    night_la = datetime(2026, 3, 2, 22, 0, tzinfo=la)
    assert policy.is_quiet(night_la, unknown)
    assert policy.next_allowed(night_la, unknown) == datetime(2026, 3, 3, 8, 0, tzinfo=la)


def test_non_geographic_numbers_use_the_office_zone() -> None:
    policy = QuietPolicy(DEFAULT_WINDOW, False, UTC)
    noon_utc = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 02:00 in Honolulu
    assert not policy.is_quiet(noon_utc, "+18005550100")
    assert policy.is_quiet(datetime(2026, 3, 2, 23, 0, tzinfo=UTC), "+18005550100")


def test_stop_reads_as_an_opt_out_on_home_alerts_and_the_sms_log(office: Office) -> None:
    from desktop_sms.services.received import ConversationItem
    from desktop_sms.ui.widgets.sms_log_widget import status_line

    _reply(office, "STOP")
    assert office.staff.user_id is not None
    [alert] = office.services.inbound.alerts.visible_to(office.staff.user_id)
    assert alert.snippet == "Maria Garcia replied STOP — opted out of texts"
    stop = ConversationItem("inbound", 1, office.clock(), "Stop", "received", "(212) 555-0123")
    start = ConversationItem("inbound", 2, office.clock(), "START", "received", "(212) 555-0123")
    assert status_line(stop).startswith("Opted out of texts · ")
    assert status_line(start).startswith("Opted back in · ")


def test_demo_stop_cancels_the_seeded_scheduled_text(office: Office) -> None:
    from desktop_sms.services.demo import seed_consent_demo

    svc = office.services
    mid = seed_consent_demo(svc, office.admin)
    status = svc.consent.status(office.matter_id)
    assert status.history[-1].method == "written"
    assert _msg(office, mid).state == "scheduled"
    _reply(office, "STOP")
    msg = _msg(office, mid)
    assert (msg.state, msg.error_message) == ("canceled", CANCEL_REASON)
    assert svc.outbound.queue(matter_id=office.matter_id)[0].error == CANCEL_REASON


def test_a_retry_falling_due_at_night_is_held(office: Office) -> None:
    from sqlalchemy import update

    svc = office.services
    _at_ny(office, 20, 55)
    mid = svc.outbound.send(office.staff, office.matter_id, CLIENT, "Retry me")
    night = _at_ny(office, 21, 5)
    with svc.db.transaction() as s:  # its first attempt failed; the back-off ends at night
        s.execute(update(OutboundMessage).where(OutboundMessage.id == mid)
                  .values(attempts=1, next_attempt_at=night, error_message="timed out"))
    assert svc.dispatcher.run_due().sent == []
    msg = _msg(office, mid)
    assert (msg.state, msg.attempts) == ("scheduled", 1)
    assert msg.send_at == datetime(2026, 3, 3, 8, 0, tzinfo=NY)


def test_uk_mobile_uses_uk_time_not_the_office_zone() -> None:
    """A UK mobile lists four zones (London, Guernsey, Jersey, Isle of Man) that keep one clock:
    it has an area, so 23:30 in London is quiet even for an office in New York."""
    policy = QuietPolicy(DEFAULT_WINDOW, False, NY)
    uk_mobile = "+447911123423"
    night_london = datetime(2026, 12, 2, 23, 30, tzinfo=ZoneInfo("Europe/London"))  # 18:30 NY
    assert policy.is_quiet(night_london, uk_mobile)
    assert policy.next_allowed(night_london, uk_mobile) == datetime(
        2026, 12, 3, 8, 0, tzinfo=ZoneInfo("Europe/London"))
    assert not policy.is_quiet(datetime(2026, 12, 2, 12, 0, tzinfo=UTC), uk_mobile)


def test_scheduling_a_uk_mobile_at_its_night_is_refused(office: Office) -> None:
    svc = office.services
    _at_ny(office, 12)
    with svc.db.transaction() as s:
        from desktop_sms.db.models import Matter
        m = s.get(Matter, office.matter_id)
        assert m is not None
        m.mobile_raw, m.mobile_e164 = "+44 7911 123423", "+447911123423"
    with pytest.raises(QuietHoursError):  # 18:30 in New York is 23:30 in London
        svc.outbound.send(office.staff, office.matter_id, "+447911123423", "Hi",
                          datetime(2026, 3, 2, 18, 30, tzinfo=NY))


def test_matter_number_stored_under_another_region_is_still_texted(office: Office) -> None:
    """A UK mobile imported while default_region was GB ("07911 123423") is still the
    matter's number after the office switches to US."""
    svc = office.services
    _at_ny(office, 6)  # 11:00 in London
    with svc.db.transaction() as s:
        from desktop_sms.db.models import Matter
        m = s.get(Matter, office.matter_id)
        assert m is not None
        m.mobile_raw, m.mobile_e164 = "07911 123423", "+447911123423"
    assert svc.settings.get("default_region") == "US"
    mid = svc.outbound.send(office.staff, office.matter_id, "07911 123423", "Hi")
    assert _msg(office, mid).to_e164 == "+447911123423"
    with pytest.raises(ValidationError):  # a number not on the matter is read as before
        svc.outbound.send(office.staff, office.matter_id, "07911 123424", "Hi")


def test_recording_no_cancels_the_texts_already_waiting(office: Office) -> None:
    """A client who says no on the phone must not get the text scheduled for tomorrow."""
    svc = office.services
    _at_ny(office, 12)
    later = svc.outbound.send(office.staff, office.matter_id, CLIENT, "See you tomorrow",
                              datetime(2026, 3, 3, 10, 0, tzinfo=NY))
    svc.consent.record(office.staff, office.matter_id, "no", "verbal")
    msg = _msg(office, later)
    assert (msg.state, msg.error_message) == ("canceled", "client said no to texts")
    assert "sms.cancel_consent_no" in _actions(office)
    _at_ny(office, 10, day=3)
    assert svc.dispatcher.run_due().sent == [] and office.server_bodies() == []
