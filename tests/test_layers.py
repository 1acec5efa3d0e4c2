"""The layers of ARCHITECTURE.md, kept by import-linter's contracts in `.importlinter`.

import-linter (a maintained tool for exactly this) reads the import graph of the whole package,
including imports inside functions, which a grep for `import PySide6` would miss.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    run = subprocess.run(
        [sys.executable, "-c",
         "import sys; from importlinter.cli import lint_imports_command; "
         "sys.argv = ['lint-imports', '--no-cache', '.importlinter']; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_the_contracts_cover_every_layer() -> None:
    config = (ROOT / ".importlinter").read_text(encoding="utf-8")
    for source in ("desktop_sms.domain", "desktop_sms.db", "desktop_sms.providers",
                   "desktop_sms.scheduling", "desktop_sms.services"):
        assert f"    {source}\n" in config
