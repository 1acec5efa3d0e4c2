"""One-time setup codes (issue 12, reproduction 7), on both backends.

Before: `users add boss --role admin` without a password, and anyone who typed `boss` at the
sign-in dialog was told "This is your first sign-in" and chose the admin's password.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from desktop_sms.cli import main
from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, User
from desktop_sms.services.common import SYSTEM, PermissionDenied, ValidationError
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.users import (
    PasswordNotSet,
    SetupCodeExpired,
    SignInFailed,
    UserService,
)
from tests.helpers.clock import FakeClock

CODE_RE = re.compile(r"^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(db: Database, clock: FakeClock) -> Services:
    return build_services(db, clock=clock)


def test_an_account_without_a_password_is_claimed_only_with_its_code(svc: Services,
                                                                     db: Database) -> None:
    boss = svc.users.add(None, "boss", "Boss")
    assert boss.role == "admin" and boss.setup_code and CODE_RE.match(boss.setup_code)
    for guess in ("", "boss", "password1", "AAAAA-AAAAA"):
        with pytest.raises(SignInFailed, match="The username or password is not right.") as e:
            svc.users.authenticate("boss", guess)
        assert type(e.value) is SignInFailed
        with pytest.raises(SignInFailed):
            svc.users.set_first_password("boss", guess, "a stranger's password")
    with db.session() as s:
        row = s.scalar(select(User).where(User.username == "boss"))
        assert row is not None and row.password_hash is None
        assert row.setup_code_hash and row.setup_code_hash.startswith("$argon2id$")
        assert boss.setup_code not in row.setup_code_hash
    # typed loosely: lower case, spaces for the dash
    with pytest.raises(PasswordNotSet):
        svc.users.authenticate("boss", boss.setup_code.lower().replace("-", " "))
    claimed = svc.users.set_first_password("boss", boss.setup_code, "the boss's words")
    assert claimed.has_password and claimed.setup_code is None
    assert svc.users.authenticate("boss", "the boss's words").id == boss.id


def test_a_code_expires_after_the_setting_and_an_admin_issues_a_new_one(
        svc: Services, clock: FakeClock, db: Database) -> None:
    admin = svc.users.add(None, "boss", "Boss", password="correct horse").actor()
    pat = svc.users.add(admin, "pat", "Pat", password="battery staple").actor()
    svc.settings.set(admin, "setup_code_hours", "24")
    ivy = svc.users.add(admin, "ivy", "Ivy")
    assert ivy.setup_code_expires_at == clock() + __import__("datetime").timedelta(hours=24)
    clock.advance(hours=23, minutes=59)
    with pytest.raises(PasswordNotSet):
        svc.users.authenticate("ivy", ivy.setup_code or "")
    clock.advance(minutes=1)
    with pytest.raises(SetupCodeExpired, match="expired; ask an administrator"):
        svc.users.authenticate("ivy", ivy.setup_code or "")
    with pytest.raises(SetupCodeExpired):
        svc.users.set_first_password("ivy", ivy.setup_code or "", "long enough")

    with pytest.raises(PermissionDenied, match="Only an administrator can issue setup codes"):
        svc.users.issue_setup_code(pat, ivy.id)
    with pytest.raises(ValidationError, match="already has a password"):
        svc.users.issue_setup_code(admin, pat.user_id or 0)
    fresh = svc.users.issue_setup_code(admin, ivy.id)
    assert fresh.setup_code and fresh.setup_code != ivy.setup_code
    with pytest.raises(SignInFailed):  # the old code stopped working
        svc.users.set_first_password("ivy", ivy.setup_code or "", "long enough")
    svc.users.set_first_password("ivy", fresh.setup_code, "ivy's own words")
    with db.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.target_id == "ivy").order_by(AuditEntry.id)))
    assert actions == ["user.add", "user.setup_code", "user.password"]


def _fastest(fn: object, *args: str, times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        with pytest.raises(SignInFailed) as refused:
            fn(*args)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
        assert str(refused.value) == "The username or password is not right."
    return best


def test_unknown_user_and_wrong_password_get_the_same_words_in_about_the_same_time(
        db: Database) -> None:
    users = UserService(db)
    users.add(None, "boss", "Boss", password="correct horse")
    users.add(SYSTEM, "ivy", "Ivy")  # no password: a setup code
    wrong = _fastest(users.authenticate, "boss", "wrong horse")
    unknown = _fastest(users.authenticate, "nobody", "wrong horse")
    unclaimed = _fastest(users.authenticate, "ivy", "wrong horse")
    # each costs one Argon2 verification (tens of milliseconds); without the dummy hash an
    # unknown user answered in well under a millisecond
    assert unknown > 0.5 * wrong and unclaimed > 0.5 * wrong, (wrong, unknown, unclaimed)


def test_cli_prints_the_code_once_and_issues_a_new_one(db_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", db_url, "users", "add", "boss", "--name", "Boss", "--role",
                 "admin"]) == 0
    out = capsys.readouterr().out
    first = re.search(r"setup code for boss: (\S+)", out)
    assert first and CODE_RE.match(first.group(1)) and "not shown again" in out
    assert main(["--db", db_url, "users", "setup-code", "boss"]) == 0
    second = re.search(r"setup code for boss: (\S+)", capsys.readouterr().out)
    assert second and second.group(1) != first.group(1)
    from desktop_sms.db.database import open_database

    database, _ = open_database(db_url)
    try:
        users = UserService(database)
        with pytest.raises(SignInFailed):
            users.set_first_password("boss", first.group(1), "long enough")
        assert users.set_first_password("boss", second.group(1), "long enough").has_password
    finally:
        database.dispose()
    assert main(["--db", db_url, "users", "setup-code", "boss"]) == 1
    assert "already has a password" in capsys.readouterr().err
