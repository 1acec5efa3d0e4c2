"""Templates with merge fields, texts to many clients (batches), and the dispatcher's pace,
on SQLite and PostgreSQL against the local Twilio-compatible server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, Matter, OutboundMessage
from desktop_sms.domain.templates import fill, validate_template
from desktop_sms.services.common import PermissionDenied, ValidationError
from desktop_sms.services.dispatcher import Dispatcher
from desktop_sms.services.matters import MatterInput
from desktop_sms.services.outbound import record_opt_out
from desktop_sms.services.pacing import Pacer
from tests.helpers.outbound_fixtures import Office

NY = ZoneInfo("America/New_York")


def _matter(office: Office, number: str, name: str, mobile: str | None,
            consent: str = "yes") -> int:
    svc = office.services
    mid = svc.matters.save(office.admin, MatterInput(number, name, "intake", mobile=mobile,
                                                     intake_date=date(2026, 1, 5)))
    if consent != "not_asked":
        svc.matters.set_consent(office.admin, mid, consent)
    return mid


def _zone(office: Office) -> None:
    office.services.calendar.tz = NY
    office.services.batches.tz = NY


# --- templates ------------------------------------------------------------------------------

def test_unknown_field_is_refused_and_an_empty_field_names_itself() -> None:
    with pytest.raises(ValueError, match=r"\{client_nickname\}, which is not a merge field"):
        validate_template("Hi", "Hello {client_nickname}")
    with pytest.raises(ValueError, match="lone brace"):
        validate_template("Hi", "Hello {client_name")
    result = fill("Hi {client_first_name}, {{case}} {case_number}",
                  {"client_first_name": " ", "case_number": "25-1"})
    assert not result.ok and result.reason == "client first name is empty"
    ok = fill("Hi {client_first_name}, {{case}} {case_number}",
              {"client_first_name": "Maria", "case_number": "25-1"})
    assert ok.ok and ok.text == "Hi Maria, {case} 25-1"


def test_templates_are_saved_by_admins_only_and_refuse_unknown_fields(office: Office) -> None:
    svc = office.services
    with pytest.raises(PermissionDenied):
        svc.templates.save(office.staff, "Closed", "Court is closed")
    with pytest.raises(ValidationError, match="client_nick"):
        svc.templates.save(office.admin, "Closed", "Hi {client_nick}")
    assert svc.templates.list() == []  # nothing stored by a refusal
    tid = svc.templates.save(office.admin, "Closed", "Hi {client_first_name}, court is closed.")
    with pytest.raises(ValidationError, match="already exists"):
        svc.templates.save(office.admin, " Closed ", "Other")
    row = svc.templates.by_name("Closed")
    assert row.id == tid and row.fields == ["client_first_name"]
    with svc.db.session() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target_type == "template")) \
            == "template.save"


# --- batches --------------------------------------------------------------------------------

def test_a_mixed_batch_skips_each_recipient_with_its_reason(office: Office) -> None:
    svc = office.services
    _zone(office)
    svc.settings.set(office.admin, "office_name", "Garcia & Lee")
    ok = office.matter_id  # Maria Garcia, consent yes, mobile
    no_consent = _matter(office, "25-000002", "Ned Noconsent", "(212) 555-0124", "not_asked")
    opted = _matter(office, "25-000003", "Olga Optout", "(212) 555-0125")
    no_mobile = _matter(office, "25-000004", "Nora Nomobile", None)
    invalid = _matter(office, "25-000005", "Ivan Invalid", "(212) 555-0126")
    with svc.db.transaction() as s:
        s.execute(update(Matter).where(Matter.id == invalid)
                  .values(mobile_raw="555-12", mobile_e164=None))
        record_opt_out(s, "+12125550125", True, "keyword", office.clock())
    svc.templates.save(office.admin, "Closed",
                       "Hi {client_first_name}, {office_name} is closed tomorrow.")
    ids = [ok, no_consent, opted, no_mobile, invalid]
    preview = svc.batches.preview(office.staff, ids, template_name="Closed")
    assert [(r.case_number, r.reason) for r in preview.skipped] == [
        ("25-000002", "no consent"), ("25-000003", "opted out"), ("25-000004", "no mobile"),
        ("25-000005", "invalid number")]
    [going] = preview.sending
    assert going.text == "Hi Maria, Garcia & Lee is closed tomorrow." and going.segments == 1

    result = svc.batches.send(office.staff, ids, template_name="Closed")
    statuses = {line.case: (line.status, line.reason) for line in result.lines}
    assert statuses["25-000001"] == ("queued", "")
    assert statuses["25-000003"] == ("skipped", "opted out")
    sent_id = next(line.message_id for line in result.lines if line.case == "25-000001")
    with svc.db.session() as s:
        rows = list(s.scalars(select(OutboundMessage)))
        assert [(m.id, m.batch_id, m.body) for m in rows] == [
            (sent_id, result.batch_id, "Hi Maria, Garcia & Lee is closed tomorrow.")]
        detail = s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "sms.batch"))
        assert detail is not None and "1 text(s), 4 skipped" in detail and "Maria" not in detail
    assert svc.dispatcher.run_due().sent == [sent_id]
    assert office.server_bodies() == ["Hi Maria, Garcia & Lee is closed tomorrow."]
    [progress] = svc.batches.progress()
    assert (progress.done, progress.waiting, progress.skipped) == (1, 0, 4)


def test_an_empty_field_blocks_the_recipient_and_quiet_hours_block_the_batch(
        office: Office) -> None:
    svc = office.services
    _zone(office)  # 15:00 UTC is 10:00 in New York
    with pytest.raises(ValidationError, match="Give either"):
        svc.batches.preview(office.staff, [office.matter_id])
    svc.settings.set(office.admin, "office_name", "")  # the default is "our law office"
    preview = svc.batches.preview(office.staff, [office.matter_id], body="From {office_name}")
    assert preview.skipped[0].reason == "office name is empty"
    # The office's quiet-hours rule, in the recipient's zone: 10:00 in New York is quiet under
    # 09:00-12:00 although the office's own zone (Tokyo, 00:00) is not.
    svc.settings.set(office.admin, "quiet_hours", "09:00-12:00")
    svc.settings.set(office.admin, "office_time_zone", "Asia/Tokyo")
    result = svc.batches.send(office.staff, [office.matter_id], body="Court is closed")
    assert result.batch_id is None
    assert [(x.status, x.reason) for x in result.lines] == [("skipped", "quiet hours")]
    # Scheduled after the quiet hours, it goes.
    later = office.clock() + timedelta(hours=3)
    result = svc.batches.send(office.staff, [office.matter_id], body="Court is closed",
                              send_at=later)
    assert [x.status for x in result.lines] == ["scheduled"]


def test_a_waiting_batch_is_canceled_as_a_whole_and_shows_its_progress(office: Office) -> None:
    svc = office.services
    _zone(office)
    svc.settings.set(office.admin, "max_messages_per_second", "1")
    ids = [office.matter_id] + [_matter(office, f"25-1000{i:02d}", f"Client {i}",
                                        f"(212) 555-02{i:02d}") for i in range(5)]
    result = svc.batches.send(office.staff, ids, body="Hello {client_first_name}",
                              send_at=office.clock() + timedelta(hours=1))
    assert result.batch_id is not None
    [p] = svc.batches.progress()
    assert (p.recipients, p.waiting, p.done) == (6, 6, 0)
    # Six texts at the default pace of one a second, after the batch's time.
    assert p.estimated_finish == office.clock() + timedelta(hours=1, seconds=6)
    assert svc.batches.cancel(office.staff, result.batch_id) == 6
    [p] = svc.batches.progress()
    assert (p.canceled, p.waiting, p.estimated_finish) == (6, 0, None)
    office.clock.advance(hours=1, minutes=1)
    assert svc.dispatcher.run_due().sent == []
    assert office.server_bodies() == []


def test_three_dispatchers_racing_over_one_batch_send_each_text_once(
        office: Office, db_url: str) -> None:
    svc = office.services
    _zone(office)
    ids = [office.matter_id] + [_matter(office, f"25-2000{i:02d}", f"Person{i} Doe",
                                        f"(212) 555-03{i:02d}") for i in range(29)]
    result = svc.batches.send(office.staff, ids, body="Closed, {client_first_name}")
    queued = sorted(x.message_id for x in result.lines if x.message_id)
    assert len(queued) == 30
    dbs = [Database(db_url) for _ in range(3)]
    dispatchers = [Dispatcher(d, svc.settings, svc.dispatcher.provider_factory, office.clock,
                              desktop_id=f"desk-{n}", workers=2) for n, d in enumerate(dbs)]
    barrier = threading.Barrier(3)
    sent: list[int] = []
    lock = threading.Lock()

    def run(d: Dispatcher) -> None:
        barrier.wait()
        report = d.run_due()
        with lock:
            sent.extend(report.sent)

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for d in dbs:
        d.dispose()
    assert sorted(sent) == queued
    bodies = Counter(office.server_bodies())
    assert sum(bodies.values()) == 30 and set(bodies.values()) == {1}
    with svc.db.session() as s:
        assert set(s.scalars(select(OutboundMessage.state))) == {"sent"}


# --- pacing ---------------------------------------------------------------------------------

def test_the_pacer_spaces_sends_across_threads() -> None:
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(round(seconds, 6))

    pacer = Pacer(2.0, monotonic=lambda: 100.0, sleep=sleep)  # time stands still
    threads = [threading.Thread(target=pacer.wait_turn) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # One send at once, then one slot every half second, whichever thread takes it.
    assert sorted(waits) == [0.5 * k for k in range(1, 10)]


def test_the_dispatcher_keeps_the_office_pace(office: Office) -> None:
    svc = office.services
    svc.settings.set(office.admin, "max_messages_per_second", "20")
    ids = [svc.outbound.send(office.staff, office.matter_id, "+12125550123", f"paced {i}")
           for i in range(11)]
    sent_at: list[float] = []
    real_send = svc.dispatcher._send_one

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = real_send(*args, **kwargs)
        sent_at.append(time.monotonic())
        return outcome

    svc.dispatcher._send_one = timed  # type: ignore[method-assign]
    start = time.monotonic()
    assert sorted(svc.dispatcher.run_due().sent) == ids
    # Eleven sends at 20 a second take at least ten intervals (0.5 s), on four threads.
    assert time.monotonic() - start >= 0.5 - 0.01
    assert svc.dispatcher.pacer.rate == 20.0


def test_the_pace_setting_is_checked(office: Office) -> None:
    with pytest.raises(ValidationError, match="between 0.1 and 1000"):
        office.services.settings.set(office.admin, "max_messages_per_second", "0")
    assert office.services.settings.get("max_messages_per_second") == 1000.0


@pytest.mark.parametrize("text", ["a" * 160, "a" * 161, "b" * 306, "b" * 307, "{x}" * 60,
                                  "é" * 80, "Olá " * 20, "😀" * 40, "[]" * 80])
def test_the_batch_segment_count_agrees_with_the_counter(text: str) -> None:
    from desktop_sms.domain.segments import count_segments
    from desktop_sms.services.batches import _segments

    assert _segments(text) == count_segments(text).segments


def test_cancel_batch_while_it_sends_stops_the_texts_still_waiting_for_their_turn(
        office: Office) -> None:
    """A chunk is claimed (state `sending`) before each text waits for its pace slot; a Cancel
    batch clicked during that wait must still stop the texts not yet handed to Twilio."""
    svc = office.services
    _zone(office)
    svc.settings.set(office.admin, "max_messages_per_second", "1")
    ids = [office.matter_id] + [_matter(office, f"25-3000{i:02d}", f"Client {i}",
                                        f"(212) 555-04{i:02d}") for i in range(2)]
    result = svc.batches.send(office.staff, ids, body="Closed, {client_first_name}")
    assert result.batch_id is not None
    batch_id = result.batch_id
    fake_now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the pace wait before the second text: a person cancels
        waits.append(seconds)
        if len(waits) == 1:
            assert svc.batches.cancel(office.staff, batch_id) == 0  # all claimed: none waiting
        fake_now[0] += seconds

    svc.dispatcher.pacer.monotonic = lambda: fake_now[0]
    svc.dispatcher.pacer.sleep = sleep
    svc.dispatcher.workers = 1
    report = svc.dispatcher.run_due()
    assert len(report.sent) == 1
    assert len(office.server_bodies()) == 1
    [p] = svc.batches.progress()
    assert (p.done, p.canceled, p.waiting) == (1, 2, 0)
