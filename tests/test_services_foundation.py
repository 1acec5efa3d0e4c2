"""Settings, users and case import services on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry, Matter, User
from desktop_sms.services.common import PermissionDenied, ValidationError
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.demo import seed_demo
from desktop_sms.services.users import PasswordNotSet, SignInFailed

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def svc(db: Database) -> Services:
    return build_services(db, clock=lambda: NOW)


def _admin_and_staff(svc: Services) -> tuple:
    admin = svc.users.add(None, "boss", "Office Manager", password="correct horse").actor()
    staff = svc.users.add(admin, "pat", "Pat Paralegal", mobile="(212) 555-0191",
                          password="battery staple").actor()
    return admin, staff


def test_settings_defaults_and_typed_values(svc: Services) -> None:
    assert svc.settings.get("inbound_matching") == "all_related"
    assert svc.settings.get("sms_consent_required") is True
    assert svc.settings.get("poll_interval_seconds") == 20
    assert svc.settings.get("first_poll_lookback_days") == 7
    assert svc.settings.get("overdue_grace_minutes") == 15
    assert svc.settings.get("alert_scope") == "primary"
    assert svc.settings.get("default_region") == "US"
    assert svc.settings.get("provider") == "sandbox"


def test_admin_changes_a_setting_and_it_is_audited(svc: Services, db: Database) -> None:
    admin, _ = _admin_and_staff(svc)
    seen: list[tuple] = []
    svc.settings.subscribe(lambda k, v: seen.append((k, v)))
    svc.settings.set(admin, "inbound_matching", "most_recent_outbound")
    assert svc.settings.get("inbound_matching") == "most_recent_outbound"
    assert seen == [("inbound_matching", "most_recent_outbound")]
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "setting.change")).one()
        assert "most_recent_outbound" in entry.detail and entry.user_id == admin.user_id


def test_staff_cannot_change_settings_in_the_service(svc: Services) -> None:
    _, staff = _admin_and_staff(svc)
    with pytest.raises(PermissionDenied, match="administrator"):
        svc.settings.set(staff, "inbound_matching", "most_recent_outbound")
    assert svc.settings.get("inbound_matching") == "all_related"


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("poll_interval_seconds", "2", "5 or more"),
    ("poll_interval_seconds", "often", "whole number"),
    ("inbound_matching", "random", "must be one of"),
    ("sms_consent_required", "maybe", "true or false"),
    ("default_region", "ZZ", "country code"),
    ("office_numbers", "12345", "not a valid phone number"),
])
def test_bad_setting_values_are_refused_with_a_reason(svc: Services, key: str, value: str,
                                                      reason: str) -> None:
    admin, _ = _admin_and_staff(svc)
    before = svc.settings.raw(key)
    with pytest.raises(ValidationError, match=reason):
        svc.settings.set(admin, key, value)
    assert svc.settings.raw(key) == before


def test_first_user_becomes_admin_and_passwords_are_argon2(svc: Services, db: Database) -> None:
    assert svc.users.needs_first_admin()
    first = svc.users.add(None, "first", "First Person", role="staff", password="long enough")
    assert first.role == "admin"
    with db.session() as s:
        assert s.scalar(select(User.password_hash)).startswith("$argon2id$")
    assert svc.users.authenticate("first", "long enough").username == "first"
    with pytest.raises(SignInFailed):
        svc.users.authenticate("first", "wrong password")


def test_only_admins_add_users_and_usernames_are_unique(svc: Services) -> None:
    admin, staff = _admin_and_staff(svc)
    with pytest.raises(PermissionDenied):
        svc.users.add(staff, "eve", "Eve")
    with pytest.raises(ValidationError, match="taken"):
        svc.users.add(admin, "PAT", "Another Pat")
    with pytest.raises(ValidationError, match="not a valid phone number"):
        svc.users.add(admin, "bob", "Bob", mobile="12")
    assert svc.users.get("pat").mobile_e164 == "+12125550191"


def test_a_user_added_without_a_password_chooses_one_at_first_sign_in(
        svc: Services, db: Database) -> None:
    admin, _ = _admin_and_staff(svc)
    ivy = svc.users.add(admin, "ivy", "Ivy Intake")
    assert not ivy.has_password and ivy.setup_code
    code = ivy.setup_code
    # the username alone no longer claims the account (issue 12, reproduction 7)
    with pytest.raises(SignInFailed, match="not right") as refused:
        svc.users.authenticate("IVY", "")
    assert not isinstance(refused.value, PasswordNotSet)
    with pytest.raises(PasswordNotSet, match="first sign-in"):
        svc.users.authenticate("IVY", code.lower())
    with pytest.raises(ValidationError, match="at least 8"):
        svc.users.set_first_password("ivy", code, "short")
    # only for an active account without a password, and only with its code
    with pytest.raises(SignInFailed):
        svc.users.set_first_password("pat", code, "taken over")
    with pytest.raises(SignInFailed):
        svc.users.set_first_password("nobody", code, "long enough")
    with pytest.raises(SignInFailed):
        svc.users.set_first_password("ivy", "ABCDE-FGHJK", "long enough")
    assert svc.users.authenticate("pat", "battery staple").username == "pat"

    chosen = svc.users.set_first_password("Ivy", code, "ivy's own words")
    assert chosen.username == "ivy" and chosen.has_password
    assert svc.users.authenticate("ivy", "ivy's own words").id == ivy.id
    with pytest.raises(SignInFailed):
        svc.users.set_first_password("ivy", code, "a second try")  # once only
    with db.session() as s:
        row = s.scalar(select(User).where(User.id == ivy.id))
        assert row.password_hash.startswith("$argon2id$")
        assert row.setup_code_hash is None and row.setup_code_expires_at is None
    entries = svc.audit.entries(admin, action="user.password")
    assert [(e.username, e.target) for e in entries] == [("ivy", "user ivy")]

    # an inactive account without a password is refused like a wrong password
    sam = svc.users.add(admin, "sam", "Sam Attorney")
    svc.users.update(admin, sam.id, active=False)
    with pytest.raises(SignInFailed) as refused:
        svc.users.authenticate("sam", sam.setup_code or "")
    assert not isinstance(refused.value, PasswordNotSet)
    with pytest.raises(SignInFailed):
        svc.users.set_first_password("sam", sam.setup_code or "", "long enough")


def test_demo_dates_opened_are_never_in_the_future(svc: Services, db: Database) -> None:
    today = date(2026, 3, 2)
    seed_demo(svc, today)
    with db.session() as s:
        dates = list(s.execute(select(Matter.intake_date, Matter.date_opened)))
    opened = [(intake, when) for intake, when in dates if when is not None]
    assert opened
    assert all(when <= today for _intake, when in opened)
    assert all(intake is not None and intake <= when for intake, when in opened)


def test_last_admin_cannot_be_demoted(svc: Services) -> None:
    admin, _ = _admin_and_staff(svc)
    with pytest.raises(ValidationError, match="at least one active administrator"):
        svc.users.update(admin, admin.user_id, role="staff")


CSV_TEXT = (
    "case_number,client_name,mobile_phone,home_phone,stage,intake_date,date_opened,primary_username\n"
    "24-000001,Maria Garcia,(212) 555-0123,,intake,2024-01-05,,pat\n"
    "24-000002,James Smith,212.555.0124,212 555 0150,open,2024-01-06,2024-02-01,boss\n"
    "24-000003,,212.555.0125,,intake,2024-01-07,,\n"
    "24-000004,Bad Phone,12345,,intake,2024-01-07,,\n"
    "24-000005,Bad Date,,,intake,2024-13-40,,\n"
    "24-000006,Bad Stage,,,suspended,2024-01-07,,\n"
    "24-000007,Prescreen Person,+12125550126,,prescreen,,,\n"
    "24-000008,Unknown User,,,intake,2024-01-07,,nobody\n"
)


def test_import_reports_bad_rows_by_line_and_imports_the_good(svc: Services, db: Database,
                                                              tmp_path: Path) -> None:
    admin, _ = _admin_and_staff(svc)
    path = tmp_path / "cases.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_TEXT.encode())  # UTF-8 with BOM, as Excel writes it
    result = svc.importer.import_file(admin, path)
    assert (result.created, result.updated) == (3, 0)
    assert [e.line for e in result.errors] == [4, 5, 6, 7, 9]
    assert "client name" in result.errors[0].reason
    assert "not a valid phone number" in result.errors[1].reason
    assert "not a date" in result.errors[2].reason
    assert "not a stage" in result.errors[3].reason
    assert "nobody" in result.errors[4].reason
    with db.session() as s:
        m = s.scalar(select(Matter).where(Matter.case_number == "24-000002"))
        assert m is not None and m.mobile_e164 == "+12125550124" and m.home_e164 == "+12125550150"
        assert m.date_opened == date(2024, 2, 1) and m.mobile_raw == "212.555.0124"
    # A second import updates by case number instead of duplicating.
    again = svc.importer.import_file(admin, path)
    assert (again.created, again.updated) == (0, 3)
    with db.session() as s:
        assert s.scalar(select(func.count(Matter.id))) == 3


def test_import_reads_a_windows_1252_file_and_names_the_encoding(svc: Services, db: Database,
                                                                  tmp_path: Path) -> None:
    admin, _ = _admin_and_staff(svc)
    path = tmp_path / "latin1.csv"
    path.write_bytes(CSV_TEXT.replace("Maria", "Mária").encode("cp1252"))
    result = svc.importer.import_file(admin, path)
    assert result.created == 3 and "Windows-1252" in result.summary()
    with db.session() as s:
        assert s.scalar(select(Matter.client_name).where(Matter.case_number == "24-000001")) \
            == "Mária Garcia"


def test_rejecting_a_matter_ends_its_assignments(svc: Services) -> None:
    admin, staff = _admin_and_staff(svc)
    from desktop_sms.services.matters import MatterInput

    mid = svc.matters.save(admin, MatterInput("25-000001", "Client", "intake", mobile="2125550123",
                                              intake_date=date(2026, 1, 1), primary_username="pat"))
    assert svc.matters.current_assignee_ids(mid, primary_only=True) == [staff.user_id]
    svc.matters.set_stage(admin, mid, "rejected")
    assert svc.matters.current_assignee_ids(mid, primary_only=False) == []


def test_case_list_filter_finds_any_phone_form(svc: Services) -> None:
    admin, staff = _admin_and_staff(svc)
    from desktop_sms.services.matters import MatterInput

    svc.matters.save(admin, MatterInput("25-000001", "Maria Garcia", "intake", mobile="+12125550123",
                                        intake_date=date(2026, 1, 1), primary_username="pat"))
    svc.matters.save(admin, MatterInput("25-000002", "James Smith", "intake", home="(646) 555-0199",
                                        intake_date=date(2026, 1, 1)))
    for text in ("212.555.0123", "(212) 555-0123", "+12125550123", "5550123", "garcia", "25-000001"):
        assert [r.case_number for r in svc.matters.page(text)] == ["25-000001"], text
    assert [r.case_number for r in svc.matters.page("646-555-0199")] == ["25-000002"]
    assert svc.matters.count("", mine_user_id=staff.user_id) == 1
