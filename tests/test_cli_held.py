"""`send --at` with a Messaging Service: the text is held by the local server, `cancel` cancels it there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop_sms.cli import main
from desktop_sms.providers.sandbox_server import SandboxServer

SERVICE_SID = "MG" + "5a" * 16
CSV = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,,intake,2024-01-05,,\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, sandbox_server: SandboxServer,
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", sandbox_server.base_url)
    assert main(["--db", db_url, "users", "add", "boss", "--name", "Boss"]) == 0
    assert main(["--db", db_url, "settings", "set", "office_numbers", "+12125550100"]) == 0
    assert main(["--db", db_url, "settings", "set", "messaging_service_sid", SERVICE_SID]) == 0
    # The command line runs on the wall clock: quiet hours (tested with injected clocks in
    # test_consent.py) would make this test depend on the hour.
    assert main(["--db", db_url, "settings", "set", "quiet_hours", "off"]) == 0
    path = tmp_path / "cases.csv"
    path.write_text(CSV, encoding="utf-8")
    assert main(["--db", db_url, "import-cases", str(path)]) == 0
    capsys.readouterr()
    return db_url


def test_send_at_two_hours_is_held_by_the_provider_and_cancel_cancels_it_there(
        cli_db: str, sandbox_server: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    code, out, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body",
                         "Court on Monday", "--consent", "yes", "--at", later)
    assert code == 0, err
    message_id = out.strip()
    assert message_id.startswith("out-")
    [at_server] = sandbox_server.messages()
    assert at_server["status"] == "scheduled"
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["status"]) == (message_id, "held")
    assert listed["provider_sid"] == at_server["sid"]
    code, out, err = run(capsys, "--db", cli_db, "cancel", message_id)
    assert code == 0, err
    assert out.strip() == f"{message_id} canceled"
    [at_server] = sandbox_server.messages()
    assert at_server["status"] == "canceled"
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--json")
    assert json.loads(out)[0]["status"] == "canceled"
