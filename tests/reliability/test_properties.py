"""Property tests (hypothesis, issue 9): the CSV importer, and fuzzed inbound bodies and senders
(short codes, alphanumeric senders, emoji, right-to-left text, control characters, HTML, very
long bodies) stored exactly once, byte for byte, and shown as plain text. The phone normaliser
and the segment counter are covered in tests/test_domain_properties.py.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from desktop_sms.db.models import CaseNote, InboundMessage, Matter, MessageLink
from desktop_sms.providers.sandbox_server import ManualClock, SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from desktop_sms.services.container import Services
from desktop_sms.services.poller import Poller
from tests.reliability.workers import CLIENT, OFFICE, setup_office

pytestmark = pytest.mark.reliability

HEADER = ["case_number", "client_name", "mobile_phone", "home_phone", "stage", "intake_date",
          "date_opened", "primary_username"]
_examples = itertools.count()


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One SQLite office for every example (each example uses its own case numbers)."""
    path = tmp_path_factory.mktemp("props") / "office.sqlite3"
    services = setup_office(f"sqlite:///{path}")
    yield services
    services.close()


# --- the CSV importer ---------------------------------------------------------------------

names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1, max_size=30).filter(lambda s: s.strip() != "")
good_rows = st.fixed_dictionaries({
    "client_name": names,
    "mobile_phone": st.sampled_from(["", "(212) 555-0123", "212.555.0144", "+13125550177"]),
    "home_phone": st.sampled_from(["", "+12025550111"]),
    "stage": st.sampled_from(["intake", "open", "Closed", ""]),
    "primary_username": st.sampled_from(["", "pat"]),
})
# Each fault makes a row bad on its own; the importer must report it and write nothing of it.
FAULTS = ["no_name", "bad_phone", "bad_date", "bad_stage", "bad_number", "too_many_fields",
          "unknown_user", "duplicate", "opened_before_intake"]
rows_strategy = st.lists(st.tuples(good_rows, st.sampled_from([None, None, *FAULTS]),
                                   st.booleans()), min_size=1, max_size=25)


def build_csv(prefix: str, rows: list[tuple[dict[str, str], str | None, bool]]
              ) -> tuple[bytes, dict[str, bool], int]:
    """(file, case number → expected to import, non-empty rows); blank lines sprinkled in."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    expected: dict[str, bool] = {}
    nonempty = 0
    good_so_far: list[str] = []
    for n, (row, fault, blank_after) in enumerate(rows):
        number = f"{prefix}-{n}"
        stage = row["stage"]
        cells = {**row, "case_number": number, "intake_date": "2025-01-05",
                 "date_opened": "2025-02-01" if stage.lower() in ("open", "closed") else ""}
        extra: list[str] = []
        if fault == "no_name":
            cells["client_name"] = "  "
        elif fault == "bad_phone":
            cells["mobile_phone"] = "555-12"
        elif fault == "bad_date":
            cells["intake_date"] = "2025-13-45"
        elif fault == "bad_stage":
            cells["stage"] = "suspended"
        elif fault == "bad_number":
            cells["case_number"] = number = f"{number} /x"
        elif fault == "too_many_fields":
            extra = ["surplus"]
        elif fault == "unknown_user":
            cells["primary_username"] = "nobody-here"
        elif fault == "duplicate" and good_so_far:
            cells["case_number"] = number = good_so_far[0]  # a case already on an earlier line
        elif fault == "opened_before_intake":
            cells["stage"], cells["date_opened"] = "open", "2024-12-31"
        writer.writerow([cells[c] for c in HEADER] + extra)
        nonempty += 1
        if fault == "duplicate" and good_so_far:
            pass  # the earlier line keeps its own verdict
        else:
            expected[number] = fault is None or fault == "duplicate"
            if expected[number]:
                good_so_far.append(number)
        if blank_after:
            writer.writerow([])
    return out.getvalue().encode("utf-8"), expected, nonempty


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy)
def test_csv_import_every_row_imported_or_reported_and_reimport_is_idempotent(
        office: Services, rows: list[tuple[dict[str, str], str | None, bool]]) -> None:
    admin = office.users.get("boss").actor()
    prefix = f"P{next(_examples)}"
    data, expected, nonempty = build_csv(prefix, rows)
    result = office.importer.import_bytes(admin, data)
    assert result.imported + len(result.errors) == nonempty
    assert all(e.reason for e in result.errors)
    with office.db.session() as s:
        stored = {m.case_number: m for m in s.scalars(
            select(Matter).where(Matter.case_number.like(f"{prefix}-%")))}
    assert set(stored) == {n for n, ok in expected.items() if ok}  # nothing half-written
    assert result.created == len(stored) and result.updated == 0
    for (row, fault, _), n in zip(rows, itertools.count(), strict=False):
        if fault is None and f"{prefix}-{n}" in stored:
            assert stored[f"{prefix}-{n}"].client_name == row["client_name"].strip()

    again = office.importer.import_bytes(admin, data)
    assert (again.created, again.updated) == (0, result.imported)
    assert [e.line for e in again.errors] == [e.line for e in result.errors]
    with office.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Matter)
                        .where(Matter.case_number.like(f"{prefix}-%"))) == len(stored)


# --- fuzzed inbound messages --------------------------------------------------------------

SENDERS = st.one_of(
    st.sampled_from([CLIENT, "12345", "ACME", "+447700900123", "Law-Office", "+1 (212) 555-0123"]),
    st.from_regex(r"\+1[2-9]\d{2}[2-9]\d{6}", fullmatch=True),
)
TRICKY = ["<script>alert(1)</script>", "<b>bold</b> &amp; <i>", "مرحبا بالعالم", "שלום \u202e",
          "😀👨‍👩‍👧🇺🇸", "\x01\x07\x1b[31m\x7f", "line1\r\nline2\ttab", "STOP", " padded ",
          "%s %d {0} ${x}", "' OR 1=1; --", "\u200b\ufeff"]
BODIES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00",
                                   exclude_categories=("Cs",)), max_size=200),
    st.text(alphabet=st.sampled_from(["a", "ж", "😀", "ש", "<", "&", "\n", "\x02"]),
            min_size=1500, max_size=1600),
)


@pytest.fixture(scope="module")
def inbound_office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """An office whose only matter has the client's mobile (no imported look-alikes)."""
    path = tmp_path_factory.mktemp("fuzz") / "office.sqlite3"
    services = setup_office(f"sqlite:///{path}")
    yield services
    services.close()


@pytest.fixture(scope="module")
def inbound_rig(inbound_office: Services) -> Iterator[tuple[SandboxServer, Poller, ManualClock]]:
    office = inbound_office
    clock = ManualClock(datetime.now(UTC))
    with SandboxServer(port=0, clock=clock) as server:
        provider = TwilioProvider(*server.credentials, api_base_url=server.base_url)
        yield server, Poller(office.db, office.settings, lambda: provider, clock,
                             office.inbound.ingest), clock


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.tuples(SENDERS, BODIES), min_size=1, max_size=6))
def test_fuzzed_inbound_is_stored_once_byte_for_byte_and_shown_as_plain_text(
        inbound_office: Services, inbound_rig: tuple[SandboxServer, Poller, ManualClock],
        messages: list[tuple[str, str]]) -> None:
    server, poller, clock = inbound_rig
    office = inbound_office
    clock.advance(minutes=1)
    sids = {server.inject_inbound(sender, OFFICE, body,
                                  date_sent=clock() - timedelta(seconds=len(messages) - i)):
            (sender, body) for i, (sender, body) in enumerate(messages)}
    report = poller.poll_once()
    assert report.errors == []
    assert poller.poll_once().new_inbound_ids == []  # a second poll files nothing again
    with office.db.session() as s:
        stored = {m.provider_sid: m for m in s.scalars(
            select(InboundMessage).where(InboundMessage.provider_sid.in_(list(sids))))}
        notes = {m.provider_sid: list(s.scalars(
            select(CaseNote.body).join(MessageLink, CaseNote.link_id == MessageLink.id)
            .where(MessageLink.inbound_id == m.id)))
            for m in stored.values()}
    assert set(stored) == set(sids) and len(report.new_inbound_ids) == len(sids)
    for sid, (sender, body) in sids.items():
        row = stored[sid]
        assert row.body == body  # byte for byte: no stripping, escaping or re-encoding
        assert row.from_raw == sender[:40]
        matched = row.from_e164 == CLIENT
        assert row.needs_review is (not matched)
        assert notes[sid] == ([body] if matched else [])
        shown = office.inbound.received.row(row.id, actor=office.users.get("boss").actor())
        assert shown.text == body  # the Received log hands the view the raw text


def test_tricky_bodies_are_filed_verbatim_on_both_databases(
        db_url: str, sandbox_server: SandboxServer, sandbox_clock: ManualClock) -> None:
    """The fixed hard cases, on SQLite and PostgreSQL, including a NUL byte (which PostgreSQL's
    text type can't hold): the reply must still be filed, never block the poll for good."""
    office = setup_office(db_url)
    provider = TwilioProvider(*sandbox_server.credentials, api_base_url=sandbox_server.base_url)
    poller = Poller(office.db, office.settings, lambda: provider, sandbox_clock,
                    office.inbound.ingest)
    bodies = [*TRICKY, "nul\x00byte", "x" * 1600]
    sids = {sandbox_server.inject_inbound(CLIENT, OFFICE, body,
                                          date_sent=sandbox_clock() - timedelta(minutes=60 - i)):
            body for i, body in enumerate(bodies)}
    report = poller.poll_once()
    with office.db.session() as s:
        stored = {m.provider_sid: m.body for m in s.scalars(select(InboundMessage))}
    office.close()
    assert report.errors == []
    assert set(stored) == set(sids)
    for sid, body in sids.items():
        # Byte for byte; a NUL a database can't store may only be dropped or replaced by U+FFFD.
        assert stored[sid] in (body, body.replace("\x00", ""), body.replace("\x00", "\ufffd"))
