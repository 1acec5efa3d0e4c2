"""The command line: the same services, exit codes as docs/product.md F16."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_sms.cli import main

CSV = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,,intake,2024-01-05,,\n"
    "24-000002,,212.555.0124,,open,2024-01-06,2024-02-01,\n"
    "24-000003,Ann Lee,not a phone,,intake,2024-01-07,,\n"
    "24-000004,Bo Chen,+12125550125,,open,2024-01-07,2024-01-20,\n"
)


def run(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--db", db_url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_cases_reports_bad_lines_exits_1_and_updates_on_reimport(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, db_url, "users", "add", "boss", "--name", "Boss")[0] == 0
    path = tmp_path / "cases.csv"
    path.write_text(CSV, encoding="utf-8")
    code, out, err = run(capsys, db_url, "import-cases", str(path))
    assert code == 1
    assert "2 added, 0 updated, 2 skipped (read as UTF-8, comma-separated)." in out
    assert "line 3:" in err and "client name" in err
    assert "line 4:" in err and "not a valid phone number" in err
    code, out, _ = run(capsys, db_url, "import-cases", str(path))
    assert code == 1 and "0 added, 2 updated, 2 skipped" in out


def test_settings_get_set_and_refusals(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, db_url, "users", "add", "boss", "--name", "Boss")
    run(capsys, db_url, "--as", "boss", "users", "add", "pat", "--name", "Pat")
    assert run(capsys, db_url, "settings", "get", "inbound_matching")[1].strip() == "all_related"
    code, out, _ = run(capsys, db_url, "settings", "set", "inbound_matching", "most_recent_outbound")
    assert code == 0 and "most_recent_outbound" in out
    code, _, err = run(capsys, db_url, "--as", "pat", "settings", "set", "alert_scope", "all")
    assert code == 1 and "administrator" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, db_url, "settings", "set", "poll_interval_seconds", "1")
    assert code == 1 and "5 or more" in err
    code, _, err = run(capsys, db_url, "settings", "get", "no_such_key")
    assert code == 1 and "no setting" in err


def test_usage_error_exits_2(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--db", db_url, "settings", "frobnicate"])
    assert exc.value.code == 2


def test_messages_json_is_one_array(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, db_url, "users", "add", "boss", "--name", "Boss")
    code, out, _ = run(capsys, db_url, "messages", "--json")
    assert code == 0 and json.loads(out) == []


def test_users_add_reads_password_from_stdin(db_url: str, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    code, out, _ = run(capsys, db_url, "users", "add", "boss", "--name", "Boss",
                       "--password-stdin")
    assert code == 0 and "added boss (admin)" in out
    from desktop_sms.db.database import open_database
    from desktop_sms.services.users import UserService

    db, _ = open_database(db_url)
    assert UserService(db).authenticate("boss", "a long password").username == "boss"
    db.dispose()


@pytest.mark.parametrize("args", [
    ["send", "--case", "24-000001", "--body", "caf\udce9"],
    ["send", "--case", "24-\udcff", "--body", "fine"],
    ["settings", "set", "office_numbers", "\udce9"],
    ["users", "add", "b\udc80ss", "--name", "Boss"],
    ["cancel", "out-1", "out-\udce9"],
])
def test_undecodable_bytes_in_any_text_argument_give_one_line_and_exit_2(
        db_url: str, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    """Issue 12, reproduction 15: `send --body "$(printf 'caf\\xe9')"` printed a traceback."""
    code, out, err = run(capsys, db_url, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "is not valid" in err and "text" in err and "Traceback" not in err
    assert "0x" in err
    # nothing was written: the database does not even know a user
    assert run(capsys, db_url, "users", "list")[1] == ""


def test_undecodable_body_from_a_real_shell_exits_2(db_url: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"}
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"desktop_sms", b"--db", db_url.encode(), b"send",
         b"--case", b"24-000001", b"--body", b"caf\xe9"],
        capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    assert len(lines) == 1 and "--body is not valid" in lines[0] and "0xE9" in lines[0]
