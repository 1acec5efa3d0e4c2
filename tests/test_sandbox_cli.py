"""run_sandbox_server: serves until interrupted, printing its base URL."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from desktop_sms.providers.twilio_provider import TwilioProvider

SID = "AC" + "f" * 32


def test_run_sandbox_server_serves_until_ctrl_c() -> None:
    code = ("import sys; from desktop_sms.providers.sandbox_server import run_sandbox_server; "
            f"sys.exit(run_sandbox_server(0, {SID!r}, 'tok'))")
    proc = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base_url = first.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert TwilioProvider(SID, "tok", api_base_url=base_url).test_credentials([]).ok
        assert TwilioProvider(SID, "bad", api_base_url=base_url).test_credentials([]).bad_credentials
        assert requests.get(base_url + "/_sandbox/messages", timeout=5).json() == {"messages": []}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
