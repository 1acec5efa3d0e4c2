"""Client reminders held by Twilio follow their event: moved (canceled at Twilio and held again
at the new time) or deleted (canceled at Twilio). Local server, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from desktop_sms.db.models import OutboundMessage
from desktop_sms.domain.reminders import ReminderSpec
from desktop_sms.providers.sandbox_server import SandboxServer
from tests.helpers.outbound_fixtures import Office
from tests.test_held import held_office, outbound_at_server, provider, server, shared_clock

__all__ = ["held_office", "provider", "server", "shared_clock"]  # fixtures used below

NY = ZoneInfo("America/New_York")


def _held_reminder(office: Office, hearing: datetime) -> int:
    svc = office.services
    svc.settings.set(office.admin, "quiet_hours", "off")
    svc.calendar.tz = NY
    item = svc.calendar.create_event(office.staff, "Hearing", hearing,
                                     hearing + timedelta(hours=1), matter_id=office.matter_id,
                                     location="Kings County Court")
    svc.client_reminders.set_for_item(office.staff, item, [ReminderSpec.before(1, "days")])
    svc.dispatcher.run_due()
    return item


def _texts(office: Office) -> list[OutboundMessage]:
    with office.services.db.session() as s:
        return list(s.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def _server_out(server: SandboxServer) -> list[tuple[str, str]]:
    return [(str(m["status"]), str(m["body"])) for m in outbound_at_server(server)]


def test_a_reminder_two_days_ahead_is_held_and_sent_by_the_server_alone(
        held_office: Office, server: SandboxServer) -> None:
    hearing = datetime(2026, 3, 5, 10, 0, tzinfo=NY)  # now: Mar 2, 10:00 in New York
    _held_reminder(held_office, hearing)
    [text] = _texts(held_office)
    assert text.state == "held" and text.send_at == datetime(2026, 3, 4, 10, 0, tzinfo=NY)
    assert server.state.created_forms[-1]["SendAt"] == "2026-03-04T15:00:00Z"
    held_office.clock.set(datetime(2026, 3, 4, 10, 0, 10, tzinfo=NY))  # every desktop off
    assert [s for s, _ in _server_out(server)] == ["delivered"]


def test_moving_the_event_moves_the_held_text_at_the_server(
        held_office: Office, server: SandboxServer) -> None:
    svc = held_office.services
    hearing = datetime(2026, 3, 5, 10, 0, tzinfo=NY)
    item = _held_reminder(held_office, hearing)
    [old] = _texts(held_office)
    assert old.state == "held"
    data = svc.calendar.get(item).to_input()
    moved = hearing + timedelta(days=3)
    svc.calendar.update(held_office.staff, item, type(data)(
        data.kind, data.title, moved, moved + timedelta(hours=1), data.matter_id, data.location))
    # Right after the calendar's commit: old canceled at the server, new one held there.
    first, second = _texts(held_office)
    assert first.id == old.id and first.state == "canceled"
    assert second.state == "held" and second.send_at == datetime(2026, 3, 7, 10, 0, tzinfo=NY)
    assert "Sun Mar 8 at 10:00 AM" in second.body
    assert sorted(s for s, _ in _server_out(server)) == ["canceled", "scheduled"]
    assert server.state.created_forms[-1]["SendAt"] == "2026-03-07T15:00:00Z"
    [line] = svc.client_reminders.for_item(item)
    assert line.outbound_id == second.id and line.status == "held"
    # The old time passes with every desktop off: nothing goes; the new time: one text.
    held_office.clock.set(datetime(2026, 3, 4, 10, 1, tzinfo=NY))
    assert sorted(s for s, _ in _server_out(server)) == ["canceled", "scheduled"]
    held_office.clock.set(datetime(2026, 3, 7, 10, 1, tzinfo=NY))
    sent = [b for s, b in _server_out(server) if s == "delivered"]
    assert len(sent) == 1 and "Sun Mar 8" in sent[0]


def test_moving_the_event_near_now_keeps_the_new_text_local(
        held_office: Office, server: SandboxServer) -> None:
    svc = held_office.services
    item = _held_reminder(held_office, datetime(2026, 3, 5, 10, 0, tzinfo=NY))
    data = svc.calendar.get(item).to_input()
    moved = datetime(2026, 3, 3, 10, 10, tzinfo=NY)  # its reminder: 10 minutes from now
    svc.calendar.update(held_office.staff, item, type(data)(
        data.kind, data.title, moved, moved + timedelta(hours=1), data.matter_id, data.location))
    first, second = _texts(held_office)
    assert first.state == "canceled"
    assert second.state == "scheduled" and second.send_at == datetime(2026, 3, 2, 10, 10,
                                                                      tzinfo=NY)
    assert [s for s, _ in _server_out(server)] == ["canceled"]


def test_deleting_the_event_cancels_the_held_text_at_the_server(
        held_office: Office, server: SandboxServer) -> None:
    svc = held_office.services
    item = _held_reminder(held_office, datetime(2026, 3, 5, 10, 0, tzinfo=NY))
    svc.calendar.delete(held_office.staff, item)
    [text] = _texts(held_office)
    assert text.state == "canceled"
    assert [s for s, _ in _server_out(server)] == ["canceled"]
    assert [(x.status, x.detail) for x in svc.client_reminders.for_item(item)] == [
        ("canceled", "canceled: the item was deleted")]
    held_office.clock.set(datetime(2026, 3, 4, 10, 1, tzinfo=NY))
    assert svc.dispatcher.run_due().sent == []
    assert [s for s, _ in _server_out(server)] == ["canceled"]


def test_a_cancel_twilio_refused_for_now_is_retried_by_the_next_dispatcher_run(
        held_office: Office, server: SandboxServer) -> None:
    svc = held_office.services
    item = _held_reminder(held_office, datetime(2026, 3, 5, 10, 0, tzinfo=NY))
    server.set_faults(server_error=50)  # Twilio answers 500 to everything for a while
    svc.calendar.delete(held_office.staff, item)  # the delete itself is saved
    [text] = _texts(held_office)
    assert text.state == "held" and text.claim_token == "cancel-requested"
    assert [s for s, _ in _server_out(server)] == ["scheduled"]
    assert [x.status for x in svc.client_reminders.for_item(item)] == ["held"]
    server.clear_faults()
    svc.dispatcher.run_due()
    [text] = _texts(held_office)
    assert text.state == "canceled"
    assert text.error_message == ("The calendar item was deleted; the text held by Twilio "
                                  "was canceled.")
    assert [s for s, _ in _server_out(server)] == ["canceled"]
