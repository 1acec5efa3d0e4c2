"""`templates`, `send --template`, `bulk-send` and `events add --remind-client` from the command
line, against the local server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop_sms.cli import main
from desktop_sms.providers.sandbox_server import SandboxServer

CSV = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,,intake,2024-01-05,,\n"
    "24-000002,Ned Nomobile,,,intake,2024-01-06,,\n"
    "24-000003,Olga Garcia,(212) 555-0125,,intake,2024-01-07,,\n"
)


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, sandbox_server: SandboxServer,
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", sandbox_server.base_url)
    assert main(["--db", db_url, "users", "add", "boss", "--name", "Boss"]) == 0
    assert main(["--db", db_url, "settings", "set", "office_numbers", "+12125550100"]) == 0
    assert main(["--db", db_url, "settings", "set", "max_messages_per_second", "100"]) == 0
    # The command line runs on the wall clock: quiet hours (tested with injected clocks in
    # test_templates_batches.py and test_consent.py) would make these tests depend on the hour.
    assert main(["--db", db_url, "settings", "set", "quiet_hours", "off"]) == 0
    path = tmp_path / "cases.csv"
    path.write_text(CSV, encoding="utf-8")
    assert main(["--db", db_url, "import-cases", str(path)]) == 0
    capsys.readouterr()
    return db_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_templates_add_list_and_refuse_an_unknown_field(cli_db: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--db", cli_db, "templates", "add", "Bad", "--body", "Hi {nick}")
    assert code == 1 and "{nick}, which is not a merge field" in err
    code, out, _ = run(capsys, "--db", cli_db, "templates", "add", "Closed", "--body",
                       "Hi {client_first_name}, court is closed.")
    assert code == 0 and "saved" in out
    code, out, _ = run(capsys, "--db", cli_db, "templates", "list", "--json")
    assert code == 0
    assert [(t["name"], t["fields"]) for t in json.loads(out)] == [
        ("Closed", ["client_first_name"])]


def test_send_with_a_template_fills_it_for_the_case(cli_db: str, sandbox_server: SandboxServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--db", cli_db, "templates", "add", "Closed", "--body",
        "Hi {client_first_name}, court is closed.")
    code, out, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--template",
                         "Closed", "--consent", "yes")
    assert code == 0, err
    assert out.startswith("out-")
    assert [m["body"] for m in sandbox_server.messages()] == ["Hi Maria, court is closed."]
    run(capsys, "--db", cli_db, "settings", "set", "office_name", "")  # default: "our law office"
    run(capsys, "--db", cli_db, "templates", "add", "Signed", "--body", "From {office_name}")
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--template",
                       "Signed")
    assert code == 1 and "office name is empty" in err
    assert len(sandbox_server.messages()) == 1  # nothing with a gap was sent


def test_bulk_send_prints_each_recipient_with_status_and_reason(
        cli_db: str, sandbox_server: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--db", cli_db, "settings", "set", "sms_consent_required", "false")[0] == 0
    code, out, err = run(capsys, "--db", cli_db, "bulk-send", "--filter", "Garcia", "--body",
                         "Court is closed tomorrow, {client_first_name}.", "--json")
    assert code == 0, err
    rows = {r["case"]: r for r in json.loads(out)["recipients"]}
    assert set(rows) == {"24-000001", "24-000003"}
    assert {r["status"] for r in rows.values()} == {"queued"}
    assert all(r["message_id"].startswith("out-") for r in rows.values())
    code, out, err = run(capsys, "--db", cli_db, "bulk-send", "--cases", "24-000001,24-000002",
                         "--body", "Office moved", "--at",
                         (datetime.now(UTC) + timedelta(hours=2)).isoformat())
    assert code == 0, err
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert [(x[0], x[2], x[3]) for x in lines] == [("24-000001", "scheduled", "-"),
                                                   ("24-000002", "skipped", "no mobile")]
    code, out, _ = run(capsys, "--db", cli_db, "dispatch", "--once")
    assert code == 0 and out.startswith("2 sent")
    assert sorted(m["body"] for m in sandbox_server.messages()) == [
        "Court is closed tomorrow, Maria.", "Court is closed tomorrow, Olga."]


def test_events_add_with_client_reminders(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "hi", "--consent", "yes")
    at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    code, out, err = run(capsys, "--db", cli_db, "events", "add", "--case", "24-000001",
                         "--title", "Hearing", "--at", at, "--place", "Room 4",
                         "--remind-client", "1d,2h")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("event ")
    assert [line.split("\t")[1] for line in lines[1:]] == ["scheduled", "scheduled"]
    code, _, err = run(capsys, "--db", cli_db, "events", "add", "--case", "24-000001",
                       "--title", "Hearing", "--at", at, "--remind-client", "soon")
    assert code == 1 and "not a reminder offset" in err
