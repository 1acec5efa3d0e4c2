"""Found from outside with the command line: `bulk-send --at` with a Messaging Service is held by
Twilio like `send --at`, and naming one text twice in `cancel` cancels it once and succeeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from desktop_sms.providers.sandbox_server import SandboxServer
from tests.test_cli_held import cli_db, run  # noqa: F401 - the fixture is used by name

__all__ = ["cli_db"]


def test_bulk_send_at_two_hours_is_held_by_the_provider(
        cli_db: str, sandbox_server: SandboxServer,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    assert run(capsys, "--db", cli_db, "settings", "set", "sms_consent_required", "false")[0] == 0
    code, out, err = run(capsys, "--db", cli_db, "bulk-send", "--cases", "24-000001", "--body",
                         "Court on Monday", "--at", later, "--json")
    assert code == 0, err
    [line] = json.loads(out)["recipients"]
    assert line["status"] == "held"
    [at_server] = sandbox_server.messages()
    assert at_server["status"] == "scheduled"
    code, out, _ = run(capsys, "--db", cli_db, "messages", "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["status"]) == (line["message_id"], "held")


def test_cancel_naming_one_text_twice_cancels_it_once_and_succeeds(
        cli_db: str, sandbox_server: SandboxServer,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    code, out, err = run(capsys, "--db", cli_db, "send", "--case", "24-000001", "--body",
                         "Court on Monday", "--consent", "yes", "--at", later)
    assert code == 0, err
    message_id = out.strip()
    code, out, err = run(capsys, "--db", cli_db, "cancel", message_id, message_id)
    assert (code, out.strip(), err) == (0, f"{message_id} canceled", "")
    [at_server] = sandbox_server.messages()
    assert at_server["status"] == "canceled"
