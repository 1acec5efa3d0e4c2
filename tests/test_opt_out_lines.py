"""Opt-outs compared by phone line (Mexico's old "+521" mobile form and "+52" are one line):
sends, the dispatcher's check when due, batches, consent scope and keyword replies, on SQLite
and PostgreSQL against the local server."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from desktop_sms.db.database import Database
from desktop_sms.db.models import OptOut, OutboundMessage, Setting
from desktop_sms.services.consent import CANCEL_REASON, OptedOutClient, opt_out_key
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.outbound import OptedOutNumber, is_opted_out, record_opt_out
from tests.helpers.outbound_fixtures import OFFICE, Office

MOBILE = "+525512345678"  # as stored on the case
OLD_FORM = "+5215512345678"  # the same mobile as Mexico's networks used to send it
HOME = "+12125550177"


def _mexican_client(office: Office, home: str | None = None) -> None:
    office.services.matters.save(office.admin, MatterInput(
        "25-000001", "Maria Garcia", "intake", mobile="+52 55 1234 5678", home=home,
        intake_date=date(2026, 1, 5), primary_username="pat"), office.matter_id)


def _reply(office: Office, body: str, frm: str = OLD_FORM) -> None:
    office.server.inject_inbound(frm, OFFICE, body, date_sent=office.clock())
    office.services.poller.poll_once()


def _state(office: Office, message_id: int) -> tuple[str, str | None]:
    with office.services.db.session() as s:
        msg = s.get(OutboundMessage, message_id)
        assert msg is not None
        return msg.state, msg.error_message


def test_the_key_joins_the_two_forms_of_one_line() -> None:
    assert opt_out_key(OLD_FORM) == opt_out_key(MOBILE)
    assert opt_out_key("+12125550123") != opt_out_key("+12125550124")


def test_a_stop_from_the_old_form_blocks_and_cancels_texts_to_the_stored_number(
        office: Office) -> None:
    _mexican_client(office)
    svc = office.services
    tomorrow = svc.outbound.send(office.staff, office.matter_id, MOBILE, "See you",
                                 office.clock() + timedelta(days=1))
    _reply(office, "STOP")
    assert _state(office, tomorrow) == ("canceled", CANCEL_REASON)
    with pytest.raises(OptedOutNumber):
        svc.outbound.send(office.staff, office.matter_id, "+52 55 1234 5678", "Hello")
    status = svc.consent.status(office.matter_id)
    assert status.opted_out and status.number(MOBILE) is not None
    assert status.number(OLD_FORM) == status.number(MOBILE)
    assert svc.consent.opted_out_matters([office.matter_id]) == {office.matter_id}
    assert [r.texts for r in svc.matters.page() if r.id == office.matter_id] == ["Opted out"]
    preview = svc.batches.preview(office.staff, [office.matter_id], body="Court is closed")
    assert [r.reason for r in preview.recipients] == ["opted out"]
    office.clock.advance(days=1, minutes=1)
    assert svc.dispatcher.run_due().sent == []
    assert office.server_bodies() == []


def test_the_dispatcher_refuses_a_due_text_when_another_form_opted_out(office: Office) -> None:
    _mexican_client(office)
    svc = office.services
    later = svc.outbound.send(office.staff, office.matter_id, MOBILE, "See you",
                              office.clock() + timedelta(hours=1))
    # Recorded by another desktop (or a 21610) without canceling what waits.
    with svc.db.transaction() as s:
        record_opt_out(s, OLD_FORM, True, "provider", office.clock())
    office.clock.advance(hours=1, minutes=1)
    report = svc.dispatcher.run_due()
    assert report.sent == [] and later in report.failed
    state, error = _state(office, later)
    assert state == "failed" and error
    assert office.server_bodies() == []


def test_start_from_the_stored_form_opts_the_whole_line_back_in(office: Office) -> None:
    _mexican_client(office)
    svc = office.services
    _reply(office, "STOP")
    office.clock.advance(minutes=5)
    _reply(office, "START", frm=MOBILE)
    with svc.db.session() as s:
        assert not is_opted_out(s, OLD_FORM) and not is_opted_out(s, MOBILE)
        rows = {r.phone_e164: r.opted_out for r in s.scalars(select(OptOut))}
    assert rows == {OLD_FORM: False, MOBILE: False}
    # An older STOP filed late (another desktop) does not undo the newer START.
    with svc.db.transaction() as s:
        record_opt_out(s, OLD_FORM, True, "keyword", office.clock() - timedelta(minutes=1))
        assert not is_opted_out(s, MOBILE)
    svc.outbound.send(office.staff, office.matter_id, MOBILE, "Welcome back")
    assert svc.dispatcher.run_due().sent


def test_a_late_stop_from_a_form_never_stored_does_not_undo_a_newer_start(
        office: Office) -> None:
    svc = office.services
    with svc.db.transaction() as s:
        record_opt_out(s, MOBILE, False, "keyword", office.clock())
    with svc.db.transaction() as s:
        record_opt_out(s, OLD_FORM, True, "keyword", office.clock() - timedelta(minutes=1))
    with svc.db.session() as s:
        assert not is_opted_out(s, OLD_FORM) and not is_opted_out(s, MOBILE)
    with svc.db.transaction() as s:  # a newer STOP from it does count, for the whole line
        record_opt_out(s, OLD_FORM, True, "keyword", office.clock() + timedelta(minutes=1))
    with svc.db.session() as s:
        assert is_opted_out(s, MOBILE)


def test_client_scope_blocks_the_home_number_after_a_stop_from_the_old_form(
        office: Office) -> None:
    _mexican_client(office, home="(212) 555-0177")
    svc = office.services
    home_text = svc.outbound.send(office.staff, office.matter_id, HOME, "See you",
                                  office.clock() + timedelta(days=1))
    _reply(office, "STOP")
    assert _state(office, home_text) == ("canceled", CANCEL_REASON)
    with pytest.raises(OptedOutClient, match="replied STOP"):
        svc.outbound.send(office.staff, office.matter_id, HOME, "Hello")


def test_a_yes_from_the_old_form_answers_the_consent_request(office: Office) -> None:
    _mexican_client(office)
    svc = office.services
    svc.matters.set_consent(office.admin, office.matter_id, "not_asked")
    svc.consent.ask_by_text(office.staff, office.matter_id)
    svc.dispatcher.run_due()
    office.clock.advance(hours=1)
    _reply(office, "YES")
    status = svc.consent.status(office.matter_id)
    assert status.consent == "yes"
    assert [e.method for e in status.history][-1] == "text_reply"


def test_the_migration_keys_existing_opt_outs_and_drops_the_old_setting(db: Database) -> None:
    from alembic import command

    from desktop_sms.db.migrate import alembic_config

    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0013")  # the revision before 0012
        # As written before revision 0012: two forms of one line that disagree, the START from
        # the stored form being the newer event, and the stand-in quiet-hours setting.
        conn.execute(text(
            "INSERT INTO opt_outs (phone_e164, opted_out, source, changed_at) VALUES "
            "(:old, :t, 'keyword', '2026-03-01 10:00:00'), "
            "(:new, :f, 'keyword', '2026-03-02 10:00:00')"),
            {"old": OLD_FORM, "new": MOBILE, "t": True, "f": False})
        conn.execute(text("INSERT INTO settings (key, value, updated_at) VALUES "
                          "('client_quiet_hours', '21:00-08:00', '2026-03-01 10:00:00')"))
        command.upgrade(config, "head")
    with db.session() as s:
        rows = {r.phone_e164: (r.phone_key, r.opted_out) for r in s.scalars(select(OptOut))}
        assert rows == {OLD_FORM: (MOBILE, False), MOBILE: (MOBILE, False)}
        assert not is_opted_out(s, OLD_FORM)
        assert s.scalar(select(Setting.value).where(Setting.key == "client_quiet_hours")) is None
