"""Database faults (issue 9, docs/product.md, Bad input): SQLite locked by another process, and the disk full while
writing. Each gets a clear answer and leaves nothing half-written. (A database from a newer
schema is refused: tested in tests/test_db.py.)
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from desktop_sms import cli
from desktop_sms.db import database as database_module
from desktop_sms.db import engine as engine_module
from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, OutboundMessage
from desktop_sms.services.container import Services, build_services
from tests.reliability.workers import CASE, CLIENT, REPO_ROOT, _NoKeyring, setup_office

pytestmark = pytest.mark.reliability

BUSY_MS = 300
UNCLEAR = ("Traceback", "SELECT", "INSERT", "UPDATE", "[SQL", "sqlalchemy", "sqlite3.")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'office.sqlite3'}"
    setup_office(url).close()
    yield url


def counts(url: str) -> tuple[int, int]:
    """(outbound messages, audit entries) as another reader sees them."""
    db = Database(url)
    try:
        with db.session() as s:
            return (int(s.scalar(select(func.count()).select_from(OutboundMessage)) or 0),
                    int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0))
    finally:
        db.dispose()


def run_cli_send(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`desktop-sms send` in this process; (exit status, standard error)."""
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except Exception as exc:  # the CLI must never end in a traceback
        pytest.fail(f"desktop-sms send raised {type(exc).__name__} instead of exiting 1 with "
                    f"one line on standard error: {str(exc).splitlines()[0][:200]}")
    return code, capsys.readouterr().err


def assert_one_clear_line(err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert not any(u in lines[0] for u in UNCLEAR), lines[0]
    assert any(w in lines[0].lower() for w in words), lines[0]


class LockHolder:
    """Another process holding SQLite's write lock (BEGIN EXCLUSIVE) until released."""

    def __init__(self, path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.workers", "hold-lock", path],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0


def office_services(url: str) -> Services:
    return build_services(Database(url), credentials=_NoKeyring())


def test_sqlite_locked_by_another_process_waits_then_fails_clearly(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", BUSY_MS)
    before = counts(sqlite_url)
    holder = LockHolder(sqlite_url.removeprefix("sqlite:///"))
    try:
        services = office_services(sqlite_url)
        staff = services.users.get("pat").actor()
        matter_id = services.matters.by_number(CASE).id
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            services.outbound.send(staff, matter_id, CLIENT, "while locked")
        assert time.monotonic() - started >= BUSY_MS / 1000 * 0.9  # it waited the busy time-out
        services.close()
        assert counts(sqlite_url) == before  # nothing half-written

        code, err = run_cli_send(["--db", sqlite_url, "--as", "pat", "send", "--case", CASE,
                                  "--body", "while locked"], capsys)
        assert code == 1
        assert_one_clear_line(err, "locked", "busy", "in use")
        assert counts(sqlite_url) == before
    finally:
        holder.release()
    # Once the other process lets go, the same send goes through.
    code, err = run_cli_send(["--db", sqlite_url, "--as", "pat", "send", "--case", CASE,
                              "--body", "after the lock"], capsys)
    assert code == 0, err
    assert counts(sqlite_url)[0] == before[0] + 1


def _cap_pages(dbapi_conn: Any, _record: Any) -> None:
    """No room to grow: every write that needs a new page fails with SQLITE_FULL."""
    cur = dbapi_conn.cursor()
    pages = cur.execute("PRAGMA page_count").fetchone()[0]
    cur.execute(f"PRAGMA max_page_count = {pages}")
    cur.close()


def full_engine(url: str, **kwargs: Any) -> Engine:
    engine = engine_module.make_engine(url, **kwargs)
    event.listen(engine, "connect", _cap_pages)
    return engine


def test_disk_full_while_writing_leaves_no_half_written_message(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(database_module, "make_engine", full_engine)
    services = office_services(sqlite_url)
    staff = services.users.get("pat").actor()
    matter_id = services.matters.by_number(CASE).id
    failure: OperationalError | None = None
    for i in range(40):  # pages fill up after a few long texts
        before = counts(sqlite_url)
        try:
            services.outbound.send(staff, matter_id, CLIENT, f"{i} " + "é" * 1500)
        except OperationalError as exc:
            failure = exc
            break
    services.close()
    assert failure is not None and "full" in str(failure)
    assert i > 0  # some texts fitted before the disk filled up
    # The failed send wrote neither its message nor its audit entry.
    assert counts(sqlite_url) == before
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    code, err = run_cli_send(["--db", sqlite_url, "--as", "pat", "send", "--case", CASE,
                              "--body", "x" * 1500], capsys)
    assert code == 1
    assert_one_clear_line(err, "full", "disk", "space")
    assert counts(sqlite_url) == before
