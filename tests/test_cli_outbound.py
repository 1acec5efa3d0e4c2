"""`send`, `cancel` and `dispatch --once` from the command line, to the local server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop_sms.cli import main
from desktop_sms.providers.sandbox_server import SandboxServer

CSV = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,,intake,2024-01-05,,\n"
)


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, sandbox_server: SandboxServer,
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", sandbox_server.base_url)
    assert main(["--db", db_url, "users", "add", "boss", "--name", "Boss"]) == 0
    assert main(["--db", db_url, "settings", "set", "office_numbers", "+12125550100"]) == 0
    # These tests use the real clock: quiet hours (tested in test_cli_consent.py) are off.
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


def test_send_without_consent_exits_1_naming_the_consent(cli_db: str, sandbox_server: SandboxServer,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi")
    assert code == 1 and "consent" in err and len(err.strip().splitlines()) == 1
    assert sandbox_server.messages() == []


def test_send_at_a_past_time_exits_1_with_a_clear_message(cli_db: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    code, _, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi",
                       "--consent", "yes", "--at", past)
    assert code == 1 and "at least one minute from now" in err


def test_send_now_reaches_the_server_and_cancel_a_scheduled_one(
        cli_db: str, sandbox_server: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body",
                         "Hello from the CLI", "--consent", "yes")
    assert code == 0, err
    assert out.strip().startswith("out-")
    assert [m["body"] for m in sandbox_server.messages()] == ["Hello from the CLI"]
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    code, out, _ = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Later",
                       "--at", later)
    assert code == 0
    scheduled_id = out.strip()
    code, out, _ = run(capsys, "--db", cli_db, "dispatch", "--once")
    assert code == 0 and out.startswith("0 sent")
    code, out, _ = run(capsys, "--db", cli_db, "cancel", scheduled_id)
    assert code == 0 and "canceled" in out
    code, _, err = run(capsys, "--db", cli_db, "cancel", scheduled_id)
    assert code == 1 and "already canceled" in err
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--json")
    import json

    rows = json.loads(out)
    assert [(r["body"], r["status"]) for r in rows] == [("Hello from the CLI", "sent"),
                                                        ("Later", "canceled")]
    assert rows[0]["cases"] == ["24-000001"] and rows[0]["provider_sid"].startswith("SM")


def test_poll_once_files_replies_per_the_matching_mode(cli_db: str, sandbox_server: SandboxServer,
                                                       capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    import json

    more = tmp_path / "more.csv"
    more.write_text(CSV.splitlines()[0] + "\n"
                    "24-000002,Rosa Garcia,,(212) 555-0123,intake,2025-03-01,,\n", encoding="utf-8")
    assert run(capsys, "--db", cli_db, "import-cases", str(more))[0] == 0
    code, _, err = run(capsys, "--db", cli_db, "settings", "set", "inbound_matching",
                       "most_recent_outbound")
    assert code == 0, err
    assert run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body", "Hi Maria",
               "--consent", "yes")[0] == 0
    sandbox_server.inject_inbound("+12125550123", "+12125550100", "Thanks!",
                                  date_sent=datetime.now(UTC) + timedelta(seconds=5))
    sandbox_server.inject_inbound("+12125550999", "+12125550100", "Who is this?",
                                  date_sent=datetime.now(UTC) + timedelta(seconds=6))
    code, out, err = run(capsys, "--db", cli_db, "poll", "--once")
    assert code == 0, err
    assert out.startswith("2 new replies, 1 need review")
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--direction", "inbound", "--json")
    rows = {r["body"]: r for r in json.loads(out)}
    assert rows["Thanks!"]["cases"] == ["24-000001"]
    assert rows["Thanks!"]["rules"] == ["most_recent_outbound"]
    assert rows["Who is this?"]["needs_review"] is True and rows["Who is this?"]["cases"] == []
    code, out, _ = run(capsys, "--db", cli_db, "poll", "--once")
    assert out.startswith("0 new replies")
