"""Reproduction 10 of issue 12: with -v, no phone number, body or token reaches any log.

A real send and a real list through the twilio client against the local Twilio-compatible
server, at DEBUG for every logger (ours, twilio.http_client, urllib3), with the one masking
set-up the command line and the application install.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_sms.logging_setup import install, mask_text, uninstall
from desktop_sms.providers.sandbox_server import SandboxServer
from desktop_sms.providers.twilio_provider import TwilioProvider
from tests.helpers.sandbox_fixtures import CLIENT_NUMBER, OFFICE_NUMBER

BODY = "Privileged: settlement offer 48000"


@pytest.fixture
def masked_debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    install()
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        uninstall()


def test_reproduction_10_debug_logs_of_a_real_send_hold_no_number_body_or_token(
        masked_debug_logging: pytest.LogCaptureFixture, sandbox_server: SandboxServer) -> None:
    account_sid, token = sandbox_server.credentials
    provider = TwilioProvider(account_sid, token, api_base_url=sandbox_server.base_url,
                              timeout=5.0)
    sent = provider.send(to=CLIENT_NUMBER, body=BODY, from_=OFFICE_NUMBER)
    sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, BODY)
    listed = list(provider.list_messages(to=OFFICE_NUMBER))
    assert sent.sid and listed
    logging.getLogger("desktop_sms.test").info("texted %s: %s", CLIENT_NUMBER, {"body": BODY})
    try:
        raise ValueError(f"failed for {CLIENT_NUMBER} Body={BODY}")
    except ValueError:
        logging.getLogger("desktop_sms.test").exception("with a traceback")
    handler_text = "\n".join(logging.Formatter().format(r) for r in masked_debug_logging.records)
    names = {r.name for r in masked_debug_logging.records}
    assert "twilio.http_client" in names and any(n.startswith("urllib3") for n in names)
    text = masked_debug_logging.text + handler_text
    assert "…0123" in text  # numbers are masked to their last four digits, not dropped
    for secret in (CLIENT_NUMBER, CLIENT_NUMBER[1:], "%2B" + CLIENT_NUMBER[1:], OFFICE_NUMBER,
                   "%2B" + OFFICE_NUMBER[1:], "settlement", token):
        assert secret not in text, secret


@pytest.mark.parametrize(("raw", "hidden"), [
    ("GET /Messages.json?To=%2B12125550123&PageSize=50", "12125550123"),
    ("To=+44 20 7946 0958", "7946 0958"),
    ("call (212) 555-0123", "555-0123"),
    ("Body=Meet+me+at+the+court&To=x", "court"),
    ("{'Authorization': 'Basic QUM6dG9rZW4='}", "QUM6dG9rZW4="),
    ("auth_token=0123456789abcdef0123456789abcdef", "0123456789abcdef"),
    ('{"body": "call me \\"now\\""}', "call me"),
])
def test_mask_text_hides_each_form(raw: str, hidden: str) -> None:
    assert hidden not in mask_text(raw)


def test_mask_text_keeps_what_is_not_private() -> None:
    text = "message 12 sent at 2026-11-30 10:00:00 to SM0123456789abcdef0123456789abcdef"
    assert mask_text(text) == text


CSV = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,,intake,2024-01-05,,\n"
)


def test_cli_dash_v_send_and_poll_log_nothing_private(
        db_url: str, tmp_path: Path, sandbox_server: SandboxServer,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """`desktop-sms -v send …` and `-v poll --once`: the CLI installs the masking itself."""
    from desktop_sms.cli import main

    monkeypatch.setenv("DESKTOP_SMS_TWILIO_API_URL", sandbox_server.base_url)
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "cases.csv"
    path.write_text(CSV, encoding="utf-8")
    try:
        assert main(["--db", db_url, "users", "add", "boss", "--name", "Boss"]) == 0
        assert main(["--db", db_url, "settings", "set", "office_numbers", OFFICE_NUMBER]) == 0
        # The real clock: at night the client's quiet hours would refuse the send; this test
        # is about logs (quiet hours have their own tests with injected clocks).
        assert main(["--db", db_url, "settings", "set", "quiet_hours", "off"]) == 0
        assert main(["--db", db_url, "import-cases", str(path)]) == 0
        assert main(["-v", "--db", db_url, "send", "--case", "24-000001", "--body", BODY,
                     "--consent", "yes"]) == 0
        sandbox_server.inject_inbound(CLIENT_NUMBER, OFFICE_NUMBER, BODY)
        assert main(["-v", "--db", db_url, "poll", "--once"]) == 0
    finally:
        uninstall()
    assert [m["body"] for m in sandbox_server.messages()].count(BODY) == 2
    names = {r.name for r in caplog.records}
    assert "twilio.http_client" in names
    text = caplog.text
    for secret in (CLIENT_NUMBER, "%2B" + CLIENT_NUMBER[1:], OFFICE_NUMBER,
                   "%2B" + OFFICE_NUMBER[1:], "settlement"):
        assert secret not in text, secret
