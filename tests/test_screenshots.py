"""scripts/screenshots.py runs headless and writes every README screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py"
EXPECTED = ("main-window.png", "home.png", "compose.png", "sms-log.png", "queue.png",
            "received.png", "preferences.png", "preferences-telephony.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_screenshots_script_writes_every_png(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in EXPECTED:
        path = out / name
        assert path.is_file(), f"{name} missing; output:\n{done.stdout}{done.stderr}"
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) > 5_000, f"{name} is suspiciously small ({len(data)} bytes)"
    assert f"{len(EXPECTED)} files written" in done.stdout
