"""Texts held by Twilio (Message Scheduling) against the local server, on SQLite and PostgreSQL.

The desktop and the local server share one clock, so moving it shows what Twilio does while
every desktop is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import OutboundMessage
from desktop_sms.domain.states import HELD_QUEUE_TEXT
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.common import ValidationError
from desktop_sms.services.held import HeldTexts, cancel_held_for, hold_decision
from desktop_sms.services.matters import MatterInput
from tests.helpers.clock import FakeClock
from tests.helpers.outbound_fixtures import Office, make_office

SERVICE_SID = "MG" + "5a" * 16
CLIENT = "+12125550123"
OFFICE_NUMBER = "+12125550100"


@pytest.fixture
def shared_clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def server(shared_clock: FakeClock) -> Iterator[SandboxServer]:
    srv = SandboxServer(port=0, clock=shared_clock, progress_delay=1.0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def provider(server: SandboxServer) -> TwilioProvider:
    account_sid, token = server.credentials
    return TwilioProvider(account_sid, token, api_base_url=server.base_url, timeout=5.0)


@pytest.fixture
def held_office(db: Database, server: SandboxServer, provider: TwilioProvider,
                shared_clock: FakeClock) -> Office:
    office = make_office(db, server, lambda: provider, shared_clock)
    office.services.settings.set(office.admin, "messaging_service_sid", SERVICE_SID)
    return office


def row(office: Office, message_id: int) -> OutboundMessage:
    with office.services.db.session() as s:
        msg = s.get(OutboundMessage, message_id)
        assert msg is not None
        s.expunge(msg)
        return msg


def schedule(office: Office, ahead: timedelta, body: str = "Court is on Monday at 9.") -> int:
    return office.services.outbound.send(office.staff, office.matter_id, "(212) 555-0123", body,
                                         send_at=office.clock() + ahead)


def outbound_at_server(server: SandboxServer) -> list[dict[str, object]]:
    return [m for m in server.messages() if str(m["direction"]).startswith("outbound")]


def test_two_hours_ahead_is_held_at_the_server_and_sent_there_with_no_desktop(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    report = services.dispatcher.run_due()
    assert report.held == [message_id]
    msg = row(held_office, message_id)
    assert msg.state == "held" and msg.provider_sid is not None
    form = server.state.created_forms[-1]
    assert form["ScheduleType"] == "fixed" and form["MessagingServiceSid"] == SERVICE_SID
    assert form["SendAt"] == "2026-03-02T17:00:00Z"
    [at_server] = outbound_at_server(server)
    assert at_server["sid"] == msg.provider_sid and at_server["status"] == "scheduled"
    [queue_row] = services.outbound.queue()
    assert queue_row.state == "held"
    # Every desktop is off: only the server's clock moves.
    held_office.clock.advance(hours=2, seconds=10)
    [at_server] = outbound_at_server(server)
    assert at_server["status"] == "delivered"
    assert at_server["date_sent"] == "Mon, 02 Mar 2026 17:00:00 +0000"
    assert row(held_office, message_id).state == "held"  # nobody has looked yet
    # A desktop starts again: the poller records what Twilio did.
    services.poller.poll_once()
    msg = row(held_office, message_id)
    assert msg.state == "delivered"
    assert msg.sent_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert services.outbound.queue() == []
    assert len(outbound_at_server(server)) == 1


def test_five_minutes_ahead_stays_in_the_local_queue(held_office: Office,
                                                     server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(minutes=5))
    services.dispatcher.run_due()
    assert row(held_office, message_id).state == "scheduled"
    assert outbound_at_server(server) == []
    held_office.clock.advance(minutes=5)
    assert services.dispatcher.run_due().sent == [message_id]
    assert "ScheduleType" not in server.state.created_forms[-1]
    assert row(held_office, message_id).state == "sent"


def test_an_office_without_a_messaging_service_never_sends_schedule_type(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    services.settings.set(held_office.admin, "messaging_service_sid", "")
    message_id = schedule(held_office, timedelta(hours=2))
    services.dispatcher.run_due()
    assert row(held_office, message_id).state == "scheduled"
    assert services.held.decision(held_office.clock() + timedelta(hours=2)).held is False
    held_office.clock.advance(hours=2)
    assert services.dispatcher.run_due().sent == [message_id]
    assert server.state.created_forms
    for form in server.state.created_forms:
        assert "ScheduleType" not in form and "SendAt" not in form


def test_more_than_35_days_ahead_is_held_once_it_comes_within_35_days(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(days=40))
    services.dispatcher.run_due()
    assert row(held_office, message_id).state == "scheduled"
    wake = services.dispatcher.next_wakeup()
    assert wake == held_office.clock() + timedelta(days=5)
    held_office.clock.set(wake)
    services.dispatcher.run_due()
    assert row(held_office, message_id).state == "held"
    assert len(outbound_at_server(server)) == 1


def test_canceling_a_held_text_cancels_it_at_the_server(held_office: Office,
                                                        server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    services.dispatcher.run_due()
    [outcome] = services.outbound.cancel(held_office.staff, [message_id])
    assert outcome.canceled, outcome.reason
    msg = row(held_office, message_id)
    assert msg.state == "canceled" and msg.canceled_by_id == held_office.staff.user_id
    held_office.clock.advance(hours=3)
    [at_server] = outbound_at_server(server)
    assert at_server["status"] == "canceled" and at_server["date_sent"] is None
    # A second desktop canceling the same text later is told, and nothing changes twice.
    [again] = services.outbound.cancel(held_office.staff, [message_id])
    assert not again.canceled and "already canceled" in again.reason


def test_canceling_after_it_went_says_too_late_with_the_real_state(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    services.dispatcher.run_due()
    held_office.clock.advance(hours=2, seconds=10)
    [outcome] = services.outbound.cancel(held_office.staff, [message_id])
    assert not outcome.canceled
    assert outcome.reason.startswith("Too late: already sent at ")
    assert "delivered" in outcome.reason
    msg = row(held_office, message_id)
    assert msg.state == "delivered"
    assert msg.sent_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_a_stop_reply_cancels_held_texts_at_the_server(held_office: Office,
                                                       server: SandboxServer) -> None:
    services = held_office.services
    first = schedule(held_office, timedelta(hours=2), "Reminder one")
    second = schedule(held_office, timedelta(days=3), "Reminder two")
    services.dispatcher.run_due()
    assert {row(held_office, i).state for i in (first, second)} == {"held"}
    server.inject_inbound(CLIENT, OFFICE_NUMBER, "STOP")
    services.poller.poll_once()
    for message_id in (first, second):
        msg = row(held_office, message_id)
        assert msg.state == "canceled"
        assert msg.error_message is not None and "STOP" in msg.error_message
    assert {m["status"] for m in outbound_at_server(server)} == {"canceled"}


def test_closing_the_case_cancels_its_held_texts(held_office: Office,
                                                 server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    services.dispatcher.run_due()
    services.matters.set_stage(held_office.admin, held_office.matter_id, "closed")
    services.poller.poll_once()
    assert row(held_office, message_id).state == "canceled"
    assert [m["status"] for m in outbound_at_server(server)] == ["canceled"]


def test_cancel_held_for_a_number(held_office: Office, provider: TwilioProvider,
                                  server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    services.dispatcher.run_due()
    canceled = cancel_held_for(services.db, provider, to_e164=CLIENT,
                               reason="Consent was withdrawn.", clock=held_office.clock)
    assert canceled == [message_id]
    assert row(held_office, message_id).error_message == "Consent was withdrawn."
    assert [m["status"] for m in outbound_at_server(server)] == ["canceled"]


def test_a_crash_between_create_and_storing_the_sid_is_reconciled_without_a_second_text(
        held_office: Office, provider: TwilioProvider, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    crashed = HeldTexts(services.db, services.settings, lambda: provider, held_office.clock,
                        desktop_id="crashed-desktop")
    claim = crashed._claim(message_id)
    assert claim is not None
    created = provider.send(to=claim.to, body=claim.body, messaging_service_sid=SERVICE_SID,
                            send_at=claim.send_at)
    # ... and the process died before writing the sid.
    assert row(held_office, message_id).state == "holding"
    services.dispatcher.run_due()  # the lease still holds: nothing is done twice
    assert row(held_office, message_id).state == "holding"
    [outcome] = services.outbound.cancel(held_office.staff, [message_id])
    assert not outcome.canceled and "being handed to Twilio" in outcome.reason
    held_office.clock.advance(minutes=3)
    services.dispatcher.run_due()
    msg = row(held_office, message_id)
    assert msg.state == "held" and msg.provider_sid == created.sid
    assert len(outbound_at_server(server)) == 1


def test_a_crash_before_the_create_reached_twilio_holds_it_once(
        held_office: Office, provider: TwilioProvider, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    crashed = HeldTexts(services.db, services.settings, lambda: provider, held_office.clock,
                        desktop_id="crashed-desktop")
    assert crashed._claim(message_id) is not None
    held_office.clock.advance(minutes=3)
    report = services.held.hold_pending(provider)
    assert report.reconciled == [message_id] and report.held == [message_id]
    assert row(held_office, message_id).state == "held"
    assert len(outbound_at_server(server)) == 1


def test_two_desktops_never_both_hand_over_or_cancel_and_hand_over(
        held_office: Office, provider: TwilioProvider, server: SandboxServer) -> None:
    services = held_office.services
    first = schedule(held_office, timedelta(hours=2), "one")
    other = HeldTexts(services.db, services.settings, lambda: provider, held_office.clock,
                      desktop_id="other-desktop")
    assert other._claim(first) is not None
    assert services.held._claim(first) is None
    second = schedule(held_office, timedelta(hours=2), "two")
    [outcome] = services.outbound.cancel(held_office.staff, [second])
    assert outcome.canceled
    assert services.held._claim(second) is None
    services.held.hold_pending(provider)
    assert row(held_office, second).state == "canceled"
    assert outbound_at_server(server) == []


def test_a_refused_hold_keeps_the_text_local_with_the_reason(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    server.state.min_schedule_ahead = timedelta(hours=1)  # an account with a stricter window
    message_id = schedule(held_office, timedelta(minutes=30))
    services.dispatcher.run_due()
    msg = row(held_office, message_id)
    assert msg.state == "scheduled" and msg.error_code == 35115
    assert msg.error_message is not None and "local queue" in msg.error_message
    services.dispatcher.run_due()  # not asked again
    assert len(server.state.created_forms) == 1
    held_office.clock.advance(minutes=30)
    assert services.dispatcher.run_due().sent == [message_id]


def test_hold_decision_words() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    lead = timedelta(minutes=15)
    assert hold_decision(now + timedelta(hours=2), now, SERVICE_SID, lead).held
    short = hold_decision(now + timedelta(minutes=5), now, SERVICE_SID, lead)
    assert not short.held and "at least 15 minutes" in short.reason
    far = hold_decision(now + timedelta(days=36), now, SERVICE_SID, lead)
    assert not far.held and "35 days" in far.reason
    none = hold_decision(now + timedelta(hours=2), now, None, lead)
    assert not none.held and "Messaging Service" in none.reason
    assert "every computer is off" in HELD_QUEUE_TEXT


def test_held_rows_are_listed_with_their_sid(held_office: Office) -> None:
    from desktop_sms.services.messages import list_messages

    message_id = schedule(held_office, timedelta(hours=2))
    held_office.services.dispatcher.run_due()
    [listed] = [r for r in list_messages(held_office.services.db, actor=held_office.staff)
                if r["id"] == f"out-{message_id}"]
    assert listed["status"] == "held" and str(listed["provider_sid"]).startswith("SM")
    with held_office.services.db.session() as s:
        assert s.scalar(select(OutboundMessage.provider_status)) == "scheduled"


def test_an_answer_other_than_scheduled_is_recorded_as_sent_now_and_flagged(
        held_office: Office, server: SandboxServer) -> None:
    server.set_faults(ignore_schedule=1)  # Twilio drops the schedule and sends at once
    message_id = schedule(held_office, timedelta(hours=2))
    report = held_office.services.held.hold_pending()
    assert report.sent_now == [message_id] and report.held == []
    msg = row(held_office, message_id)
    assert msg.state == "sent" and msg.provider_sid is not None
    assert msg.error_message is not None and msg.error_message.startswith(
        "Twilio sent this text at once instead of holding it")
    assert len(outbound_at_server(server)) == 1


def test_a_dropped_answer_is_looked_up_before_creating_again(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    server.set_faults(drop_connection=1)
    report = services.held.hold_pending()
    assert report.retry == [message_id]
    assert row(held_office, message_id).state == "holding"
    held_office.clock.advance(seconds=1)
    report = services.held.hold_pending()
    assert report.reconciled == [message_id] and report.held == [message_id]
    assert row(held_office, message_id).state == "held"
    assert len(outbound_at_server(server)) == 1


def test_consent_revoked_cancels_held_texts(held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(hours=2))
    services.dispatcher.run_due()
    services.matters.set_consent(held_office.admin, held_office.matter_id, "no")
    services.poller.poll_once()
    msg = row(held_office, message_id)
    assert msg.state == "canceled" and msg.error_message is not None
    assert "said no to texts" in msg.error_message


def test_editing_a_held_text_is_a_cancel_and_a_new_hold(held_office: Office,
                                                        server: SandboxServer) -> None:
    services = held_office.services
    old = schedule(held_office, timedelta(hours=2), "Hearing at 9")
    services.dispatcher.run_due()
    new = services.held.edit(held_office.staff, services.outbound, old, "Hearing moved to 10",
                             held_office.clock() + timedelta(hours=3))
    assert row(held_office, old).state == "canceled"
    assert row(held_office, new).state == "held"
    statuses = {m["body"]: m["status"] for m in outbound_at_server(server)}
    assert statuses == {"Hearing at 9": "canceled", "Hearing moved to 10": "scheduled"}
    with pytest.raises(ValidationError):  # a refused edit leaves the held text alone
        services.held.edit(held_office.staff, services.outbound, new, "",
                           held_office.clock() + timedelta(hours=3))
    assert row(held_office, new).state == "held"


def test_a_cancel_made_at_twilio_itself_shows_up_within_the_hour(
        held_office: Office, provider: TwilioProvider) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(days=2))
    services.dispatcher.run_due()
    sid = row(held_office, message_id).provider_sid
    assert sid is not None
    provider.cancel(sid)  # someone canceled it in Twilio's Console
    services.poller.poll_once()
    assert row(held_office, message_id).state == "held"  # not due: not fetched every poll
    held_office.clock.advance(hours=1, minutes=1)
    services.poller.poll_once()
    assert row(held_office, message_id).state == "canceled"


def test_a_lost_hand_over_found_after_twilio_sent_it_takes_its_real_state(
        held_office: Office, provider: TwilioProvider, server: SandboxServer) -> None:
    services = held_office.services
    message_id = schedule(held_office, timedelta(minutes=20))
    crashed = HeldTexts(services.db, services.settings, lambda: provider, held_office.clock,
                        desktop_id="crashed-desktop")
    claim = crashed._claim(message_id)
    assert claim is not None
    created = provider.send(to=claim.to, body=claim.body, messaging_service_sid=SERVICE_SID,
                            send_at=claim.send_at)
    held_office.clock.advance(minutes=21)  # every desktop was off until after SendAt
    services.held.hold_pending()
    msg = row(held_office, message_id)
    assert (msg.state, msg.provider_sid) == ("delivered", created.sid)
    assert msg.sent_at == claim.send_at
    assert len(outbound_at_server(server)) == 1


HOME = "+12125550177"


def _with_home(office: Office, mobile: str = "(212) 555-0123") -> None:
    office.services.matters.save(office.admin, MatterInput(
        "25-000001", "Maria Garcia", "intake", mobile=mobile, home="(212) 555-0177",
        intake_date=date(2026, 1, 5), primary_username="pat"), office.matter_id)


def _schedule_to(office: Office, to: str, ahead: timedelta) -> int:
    return office.services.outbound.send(office.staff, office.matter_id, to,
                                         "Court is on Monday at 9.",
                                         send_at=office.clock() + ahead)


@pytest.mark.parametrize("scope", ["client", "number"])
def test_a_stop_from_the_mobile_cancels_held_texts_to_the_home_number_in_the_same_poll(
        held_office: Office, server: SandboxServer, scope: str) -> None:
    services = held_office.services
    services.settings.set(held_office.admin, "opt_out_scope", scope)
    _with_home(held_office)
    to_home = _schedule_to(held_office, "(212) 555-0177", timedelta(hours=2))
    to_mobile = _schedule_to(held_office, "(212) 555-0123", timedelta(hours=3))
    services.dispatcher.run_due()
    assert {row(held_office, i).state for i in (to_home, to_mobile)} == {"held"}
    server.inject_inbound(CLIENT, OFFICE_NUMBER, "STOP")
    services.poller.poll_once()  # one poll: the STOP is filed, then the held texts swept
    assert row(held_office, to_mobile).state == "canceled"
    home = row(held_office, to_home)
    statuses = {str(m["to"]): m["status"] for m in outbound_at_server(server)}
    if scope == "client":
        assert home.state == "canceled"
        assert home.error_message == ("The client replied STOP from another number; the text "
                                      "held by Twilio was canceled.")
        assert statuses == {CLIENT: "canceled", HOME: "canceled"}
    else:  # Twilio's own rule: only the number that replied
        assert home.state == "held"
        assert statuses == {CLIENT: "canceled", HOME: "scheduled"}


def test_a_stop_from_another_form_of_the_line_cancels_held_texts(
        held_office: Office, server: SandboxServer) -> None:
    services = held_office.services
    services.settings.set(held_office.admin, "opt_out_scope", "number")
    services.matters.save(held_office.admin, MatterInput(
        "25-000001", "Maria Garcia", "intake", mobile="+52 55 1234 5678",
        intake_date=date(2026, 1, 5), primary_username="pat"), held_office.matter_id)
    message_id = _schedule_to(held_office, "+52 55 1234 5678", timedelta(hours=2))
    services.dispatcher.run_due()
    assert row(held_office, message_id).state == "held"
    # Mexico's old mobile form of the same line replies STOP.
    server.inject_inbound("+5215512345678", OFFICE_NUMBER, "STOP")
    services.poller.poll_once()
    msg = row(held_office, message_id)
    assert msg.state == "canceled" and msg.error_message is not None
    assert "STOP" in msg.error_message
    assert [m["status"] for m in outbound_at_server(server)] == ["canceled"]
