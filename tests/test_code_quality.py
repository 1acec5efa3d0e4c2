"""ruff is clean on the whole tree and mypy --strict passes on domain, db, services, providers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_check_is_clean() -> None:
    proc = _run("ruff", "check", "desktop_sms", "tests", "bench", "scripts")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_passes_on_the_core_layers() -> None:
    proc = _run("mypy", "--strict", "desktop_sms/domain", "desktop_sms/db", "desktop_sms/services",
                "desktop_sms/providers")
    assert proc.returncode == 0, proc.stdout + proc.stderr
