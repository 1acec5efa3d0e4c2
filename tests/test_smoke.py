"""`--smoke` (docs/product.md F17): the send/poll round trip against the in-process local server.

tests/test_ui_main_window.py checks that the smoke run exits 0 with the case list filled; these
check the round trip it adds, its failure path, and the command line a bundle runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_sms.app import run_gui
from desktop_sms.services.provider_factory import API_URL_ENV

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_sends_one_text_and_files_the_polled_reply(
        qtbot: QtBot, ui_config_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)
    assert run_gui(smoke=True) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("smoke:")]
    steps = "\n".join(lines)
    assert "consent recorded on case" in steps
    assert any(line.startswith("smoke: sent out-") and "the local server received SM" in line
               for line in lines), steps
    assert any(line.startswith("smoke: poll: reply in-") and "filed on case" in line
               for line in lines), steps
    assert lines[-1].startswith("smoke: ok (51 matters in the case list, 1 text sent, "
                                "1 reply filed")
    assert not any("FAILED" in line for line in lines)


def test_smoke_fails_with_the_reason_when_the_local_server_is_not_in_process(
        qtbot: QtBot, ui_config_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(API_URL_ENV, "http://127.0.0.1:9")
    assert run_gui(smoke=True) == 1
    out = capsys.readouterr().out
    assert "smoke: FAILED: the round trip needs the in-process local server" in out
    assert "smoke: ok" not in out


@pytest.mark.slow
def test_python_dash_m_runs_the_smoke_like_the_bundle(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != API_URL_ENV}
    env.update(QT_QPA_PLATFORM="offscreen", DESKTOP_SMS_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.run([sys.executable, "-m", "desktop_sms", "--smoke"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "smoke: poll: reply in-" in proc.stdout
    assert "smoke: ok (" in proc.stdout
