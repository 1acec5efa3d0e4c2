"""A database in trouble (issue 12, reproduction 12): a read-only file or server, a full disk.

Before: "A database error occurred (OperationalError)" for both, and a read-only SQLite file in
a read-only folder could not even be read. After: one sentence saying which, and the read-only
commands (`messages`, `settings get`) still work on a read-only file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from desktop_sms.cli import main
from desktop_sms.db.database import open_database
from desktop_sms.db.errors import describe_error
from desktop_sms.services.common import SYSTEM
from desktop_sms.services.settings import SettingsService
from tests.test_alerts import file_reply

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--db", db_url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _set_immutable(path: Path, on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders read-only for this process, root included: the immutable flag
    when running as root (root ignores modes), else the mode bits."""
    as_root = os.geteuid() == 0
    modes = {p: p.stat().st_mode for p in paths}
    try:
        for p in paths:
            if as_root:
                _set_immutable(p, True)
            else:
                p.chmod(0o555 if p.is_dir() else 0o444)
        yield
    finally:
        for p in reversed(paths):
            if as_root:
                _set_immutable(p, False)
            else:
                p.chmod(modes[p])


def _office(db_url: str) -> None:
    """An office with an admin, a changed setting and one filed reply."""
    db, _ = open_database(db_url)
    try:
        main(["--db", db_url, "users", "add", "boss", "--name", "Boss"])
        settings = SettingsService(db)
        settings.set(SYSTEM, "alert_scope", "all")
        file_reply(db, settings, "SM1", "+12125550123", "see you monday")
    finally:
        db.dispose()


@pytest.mark.parametrize("folder_too", [False, True])
def test_a_read_only_sqlite_file_still_answers_reads_and_says_why_a_write_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], folder_too: bool) -> None:
    folder = tmp_path / "office"
    folder.mkdir()
    path = folder / "office.sqlite3"
    url = f"sqlite:///{path}"
    _office(url)
    capsys.readouterr()
    with read_only(*([folder, path] if folder_too else [path])):
        code, out, err = run(capsys, url, "settings", "get", "alert_scope")
        assert (code, out.strip(), err) == (0, "all", "")
        code, out, err = run(capsys, url, "messages")
        assert code == 0 and err == "" and "see you monday" in out
        code, out, err = run(capsys, url, "settings", "set", "alert_scope", "primary")
        assert code == 1 and out == ""
        assert err.strip() == (f"desktop-sms: The database file is read-only: {path}; "
                               "nothing was saved.")
    assert run(capsys, url, "settings", "get", "alert_scope")[1].strip() == "all"


def test_a_read_only_postgresql_database_says_so(pg_source: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers.db_fixtures import _pg_url

    url = _pg_url(pg_source)
    _office(url)
    capsys.readouterr()
    name = make_url(url).database
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                          if url.startswith("postgresql://") else url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    admin.dispose()
    code, out, err = run(capsys, url, "settings", "get", "alert_scope")
    assert (code, out.strip()) == (0, "all")
    code, out, err = run(capsys, url, "settings", "set", "alert_scope", "primary")
    host = make_url(url).host or "localhost"
    assert code == 1
    assert err.strip() == (f"desktop-sms: The database on {host}/{name} is read-only; "
                           "nothing was saved.")


def test_sqlite_full_is_reported_as_a_full_disk_and_loses_nothing(tmp_path: Path) -> None:
    """SQLITE_FULL through SQLite's own page limit (max_page_count), on the service layer."""
    db, _ = open_database(f"sqlite:///{tmp_path / 'full.sqlite3'}")
    settings = SettingsService(db)
    settings.set(SYSTEM, "alert_scope", "all")

    @event.listens_for(db.engine, "connect")
    def _cap(dbapi_conn: Any, _record: Any) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={pages + 1}")

    db.engine.dispose()  # new connections get the cap
    with pytest.raises(OperationalError) as caught:
        for i in range(200):
            file_reply(db, settings, f"SM{i}", "+12125550123", "x" * 1500)
    assert describe_error(caught.value) == ("The disk that holds the database is full; nothing "
                                            "was saved. Free some space and try again.")
    assert str(settings.get("alert_scope")) == "all"
    db.dispose()


def test_a_real_full_disk_gives_one_sentence(tmp_path: Path) -> None:
    """The database on a 700 KB tmpfs (in a private mount namespace); a big import fills it."""
    mount = tmp_path / "small"
    mount.mkdir()
    csv = tmp_path / "cases.csv"
    lines = ["case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,"
             "primary_username"]
    lines += [f"24-{i:06d},{'Client ' * 25}{i},,,intake,2024-01-05,," for i in range(6000)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite:///{mount / 'office.sqlite3'}"
    cli = (f"{sys.executable} -m desktop_sms --db {url} users add boss --name Boss && "
           f"{sys.executable} -m desktop_sms --db {url} import-cases {csv}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=700k tmpfs {mount} && {cli}"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "desktop-sms: The disk that holds the database is full; nothing was saved. Free some "
        "space and try again."]


def test_describe_error_never_names_a_file_it_was_not_told() -> None:
    exc = SQLAlchemyError("attempt to write a readonly database")
    assert describe_error(exc) == "The database is read-only here; nothing was saved."


def test_postgresql_on_a_full_disk_gives_one_sentence(
        pg_source: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The matters table moved to a tablespace on a 256 KB tmpfs; a big import fills it
    ("could not extend file …: No space left on device")."""
    import shutil
    import tempfile

    from tests.helpers.db_fixtures import _pg_url

    url = _pg_url(pg_source)
    assert main(["--db", url, "users", "add", "boss", "--name", "Boss"]) == 0
    capsys.readouterr()
    small = Path(tempfile.mkdtemp(prefix="desktop-sms-full-"))
    owner = ",uid=postgres" if os.geteuid() == 0 else ""
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=256k,mode=0700{owner}", "tmpfs",
                    str(small)], check=True, capture_output=True)
    space = "full_" + small.name.replace("-", "_").lower()
    admin = create_engine(url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE TABLESPACE {space} LOCATION '{small}'"))
            conn.execute(text(f"ALTER TABLE matters SET TABLESPACE {space}"))
        csv = small.parent / f"{small.name}.csv"
        lines = ["case_number,client_name,mobile_phone,home_phone,stage,intake_date,"
                 "date_opened,primary_username"]
        lines += [f"24-{i:06d},{'Client ' * 25}{i},,,intake,2024-01-05,," for i in range(3000)]
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        code, out, err = run(capsys, url, "import-cases", str(csv))
        csv.unlink()
        assert code == 1 and out == ""
        assert err.strip() == ("desktop-sms: The disk that holds the database is full; nothing "
                               "was saved. Free some space and try again.")
        with admin.connect() as conn:  # nothing of the import was kept
            assert conn.execute(text("SELECT count(*) FROM matters")).scalar() == 0
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ALTER TABLE matters SET TABLESPACE pg_default"))
            conn.execute(text(f"DROP TABLESPACE {space}"))
        admin.dispose()
        subprocess.run(["umount", "-l", str(small)], check=False, capture_output=True)
        shutil.rmtree(small, ignore_errors=True)
