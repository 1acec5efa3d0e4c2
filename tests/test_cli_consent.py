"""`send` overrides, `consent` and `cases show --json` from the command line (injected clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import desktop_sms.cli as cli
from desktop_sms.cli import main
from desktop_sms.db.database import open_database
from desktop_sms.db.models import AuditEntry
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.services.container import build_services
from tests.helpers.clock import FakeClock

NY = ZoneInfo("America/New_York")
CSV = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,(212) 555-0177,intake,2024-01-05,,\n"
)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=NY).astimezone(UTC))
    monkeypatch.setattr(cli, "build_services", lambda db, *a, **k: build_services(db, fake))
    return fake


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, sandbox_server: SandboxServer, clock: FakeClock,
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", sandbox_server.base_url)
    assert main(["--db", db_url, "users", "add", "boss", "--name", "Boss"]) == 0
    assert main(["--db", db_url, "settings", "set", "office_numbers", "+12125550100"]) == 0
    path = tmp_path / "cases.csv"
    path.write_text(CSV, encoding="utf-8")
    assert main(["--db", db_url, "import-cases", str(path)]) == 0
    capsys.readouterr()
    return db_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def audit_details(url: str, action: str) -> list[str]:
    db, _ = open_database(url)
    try:
        with db.session() as s:
            return list(s.scalars(select(AuditEntry.detail).where(AuditEntry.action == action)))
    finally:
        db.dispose()


def test_consent_then_cases_show_json(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", cli_db, "consent", "--case", "24-000001", "--answer",
                         "yes", "--method", "written", "--note", "signed at intake")
    assert code == 0, err
    assert "consent yes (written)" in out
    code, out, _ = run(capsys, "--db", cli_db, "cases", "show", "24-000001", "--json")
    data: dict[str, Any] = json.loads(out)
    assert code == 0
    assert data["consent"]["answer"] == "yes" and data["consent"]["method"] == "written"
    assert data["consent"]["by"] == "Boss" and data["consent"]["at"].startswith("2026-03-02T17:00")
    assert data["consent"]["history"][0]["note"] == "signed at intake"
    assert [(n["kind"], n["number"], n["opted_out"]) for n in data["numbers"]] == [
        ("mobile", "+12125550123", False), ("home", "+12125550177", False)]
    code, _, err = run(capsys, "--db", cli_db, "consent", "--case", "99-999999", "--answer",
                       "yes", "--method", "verbal")
    assert code == 1 and len(err.strip().splitlines()) == 1


def test_send_inside_quiet_hours_needs_the_override(cli_db: str, clock: FakeClock,
                                                    sandbox_server: SandboxServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--db", cli_db, "consent", "--case", "24-000001", "--answer", "yes", "--method",
        "verbal")
    clock.set(datetime(2026, 3, 2, 22, 15, tzinfo=NY).astimezone(UTC))
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi")
    assert code == 1 and "quiet hours" in err and len(err.strip().splitlines()) == 1
    assert sandbox_server.messages() == []
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi",
                       "--override-quiet-hours", "hearing moved")
    assert code == 0, err
    assert [m["body"] for m in sandbox_server.messages()] == ["Hi"]
    assert any("hearing moved" in d for d in audit_details(cli_db, "quiet_hours.override"))


def test_send_to_the_other_number_of_an_opted_out_client(
        cli_db: str, sandbox_server: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--db", cli_db, "consent", "--case", "24-000001", "--answer", "yes", "--method",
        "verbal")
    sandbox_server.inject_inbound("+12125550123", "+12125550100", "STOP",
                                  date_sent=datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    assert run(capsys, "--db", cli_db, "poll", "--once")[0] == 0
    args = ("--db", cli_db, "send", "--case", "24-000001", "--body", "Hi", "--to", "2125550177")
    code, _, err = run(capsys, *args)
    assert code == 1 and "replied STOP from" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, *args, "--override-opt-out", "asked by phone")
    assert code == 1 and "does not allow" in err
    run(capsys, "--db", cli_db, "settings", "set", "allow_opt_out_override", "true")
    code, _, err = run(capsys, *args, "--override-opt-out", "asked by phone")
    assert code == 0, err
    assert any("asked by phone" in d for d in audit_details(cli_db, "optout.override"))
    code, out, _ = run(capsys, "--db", cli_db, "cases", "show", "24-000001", "--json")
    numbers = json.loads(out)["numbers"]
    assert numbers[0]["opted_out"] is True and numbers[0]["opted_out_at"]
    assert numbers[1]["opted_out"] is False and numbers[1]["blocked"] is True
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--json", "--direction", "inbound")
    assert [m["opt_out_event"] for m in json.loads(out)] == ["opted_out"]


def test_quiet_hours_that_start_and_end_together_are_refused(
        cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """"08:00-08:00" would silently mean no quiet hours at all: refused with a sentence, and
    the stored window is unchanged."""
    code, _, err = run(capsys, "--db", cli_db, "settings", "set", "quiet_hours", "08:00-08:00")
    assert code == 1 and "different times" in err
    code, out, _ = run(capsys, "--db", cli_db, "settings", "get", "quiet_hours")
    assert code == 0 and out.strip() == "21:00-08:00"
