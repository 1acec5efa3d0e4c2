"""Clock changes (issue 14, reproduction 7): one rule for `send --at` and the compose dialog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from desktop_sms.domain.local_times import (
    AmbiguousLocalTime,
    NonexistentLocalTime,
    resolve_local_time,
)
from desktop_sms.providers.sandbox_server import SandboxServer
from tests.test_cli_outbound import cli_db, run  # noqa: F401  (fixture)

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("zone", "typed", "next_valid"), [
    ("America/New_York", "2027-03-14T02:30", "2027-03-14 03:00"),
    ("America/New_York", "2027-03-14T02:00", "2027-03-14 03:00"),
    ("Europe/London", "2027-03-28T01:15", "2027-03-28 02:00"),
    ("Australia/Lord_Howe", "2027-10-03T02:15", "2027-10-03 02:30"),  # a 30-minute change
])
def test_a_skipped_time_is_refused_naming_the_next_valid_time(zone: str, typed: str,
                                                              next_valid: str) -> None:
    with pytest.raises(NonexistentLocalTime) as caught:
        resolve_local_time(datetime.fromisoformat(typed), ZoneInfo(zone))
    assert f"The next valid time is {next_valid}" in str(caught.value)
    assert caught.value.next_valid.strftime("%Y-%m-%d %H:%M") == next_valid


@pytest.mark.parametrize(("zone", "typed", "earlier", "later"), [
    ("America/New_York", "2027-11-07T01:30", "2027-11-07T05:30", "2027-11-07T06:30"),
    ("Europe/London", "2027-10-31T01:10", "2027-10-31T00:10", "2027-10-31T01:10"),
])
def test_a_time_shown_twice_carries_both_readings(zone: str, typed: str, earlier: str,
                                                  later: str) -> None:
    with pytest.raises(AmbiguousLocalTime) as caught:
        resolve_local_time(datetime.fromisoformat(typed), ZoneInfo(zone))
    err = caught.value
    assert err.earlier.astimezone(UTC) == datetime.fromisoformat(earlier).replace(tzinfo=UTC)
    assert err.later.astimezone(UTC) == datetime.fromisoformat(later).replace(tzinfo=UTC)
    assert "happens twice" in str(err) and "Give the offset" in str(err)


@pytest.mark.parametrize(("typed", "utc"), [
    ("2027-03-14T01:59", "2027-03-14T06:59"),  # just before the gap: EST
    ("2027-03-14T03:00", "2027-03-14T07:00"),  # the first valid time: EDT
    ("2027-11-07T01:30-05:00", "2027-11-07T06:30"),  # an offset settles the autumn hour
    ("2027-11-07T01:30-04:00", "2027-11-07T05:30"),
    ("2027-07-01T09:00", "2027-07-01T13:00"),
])
def test_ordinary_and_offset_times(typed: str, utc: str) -> None:
    assert resolve_local_time(datetime.fromisoformat(typed), NEW_YORK) == \
        datetime.fromisoformat(utc).replace(tzinfo=UTC)


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> None:
    """The desktop's zone is New York (as with TZ=America/New_York)."""
    monkeypatch.setattr("desktop_sms.services.calendar.local_zone", lambda: NEW_YORK)


def test_cli_send_at_refuses_a_skipped_time(cli_db: str, new_york: None,  # noqa: F811
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi",
                       "--consent", "yes", "--at", "2027-03-14T02:30")
    assert code == 1 and "next valid time is 2027-03-14 03:00" in err
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--json")
    assert json.loads(out) == []


def test_cli_send_at_refuses_an_autumn_time_unless_it_has_an_offset(
        cli_db: str, new_york: None, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi",
                       "--consent", "yes", "--at", "2027-11-07T01:30")
    assert code == 1 and "happens twice" in err
    code, out, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi",
                         "--consent", "yes", "--at", "2027-11-07T01:30-05:00")
    assert code == 0, err
    from desktop_sms.db.database import Database
    from desktop_sms.db.models import OutboundMessage

    db = Database(cli_db)
    try:
        with db.session() as s:
            msg = s.get(OutboundMessage, int(out.strip().removeprefix("out-")))
            assert msg is not None and msg.send_at == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    finally:
        db.dispose()


def test_cli_plain_quotes_sends_gsm_text(cli_db: str, sandbox_server: SandboxServer,  # noqa: F811
                                         capsys: pytest.CaptureFixture[str]) -> None:
    body = "It\u2019s ready \u2014 call us\u2026 " + "x" * 130
    code, out, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", body,
                         "--consent", "yes", "--plain-quotes")
    assert code == 0, err
    assert "plain quotes: 1 segment(s) instead of 3" in out
    assert [m["body"] for m in sandbox_server.messages()] == [
        "It's ready - call us... " + "x" * 130]
