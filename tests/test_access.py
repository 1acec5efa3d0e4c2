"""Permissions read the user's row as it is now (issue 12, reproductions 8 and 9), both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from desktop_sms.db.database import Database
from desktop_sms.db.models import Alert, AuditEntry, OutboundMessage
from desktop_sms.services.access import AccountDeactivated
from desktop_sms.services.alerts import AlertService
from desktop_sms.services.common import SYSTEM, Actor, PermissionDenied
from desktop_sms.services.container import Services, build_services
from desktop_sms.services.messages import list_messages
from tests.test_alerts import file_reply
from tests.test_matcher import add_matter, assign

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def svc(db: Database) -> Services:
    return build_services(db, clock=lambda: NOW)


def _people(svc: Services) -> tuple[Actor, Actor, Actor]:
    boss = svc.users.add(None, "boss", "Office Manager", password="correct horse").actor()
    deputy = svc.users.add(boss, "deputy", "Deputy", role="admin",
                           password="deputy words").actor()
    pat = svc.users.add(boss, "pat", "Pat Paralegal", password="battery staple").actor()
    return boss, deputy, pat


def _outbound_count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count(OutboundMessage.id))) or 0)


def test_a_demoted_admins_open_session_can_no_longer_change_settings_or_read_the_audit_log(
        svc: Services) -> None:
    boss, deputy, _ = _people(svc)
    svc.settings.set(deputy, "alert_scope", "all")  # still an admin: allowed
    svc.users.update(boss, deputy.user_id or 0, role="staff")
    assert deputy.role == "admin"  # the window's cached actor still says admin
    with pytest.raises(PermissionDenied, match="Only an administrator can change settings"):
        svc.settings.set(deputy, "alert_scope", "primary")
    with pytest.raises(PermissionDenied, match="read the audit log"):
        svc.audit.entries(deputy)
    with pytest.raises(PermissionDenied, match="Only an administrator"):
        svc.users.update(deputy, boss.user_id or 0, role="staff")
    assert str(svc.settings.get("alert_scope")) == "all"


def test_sms_access_taken_away_stops_sends_and_reading_bodies(svc: Services, db: Database) -> None:
    boss, _, pat = _people(svc)
    matter = add_matter(db, "25-000001", mobile="+12125550123", intake=date(2025, 1, 1))
    file_reply(db, svc.settings, "SM1", "+12125550123", "my private answer")
    svc.outbound.send(pat, matter, "+12125550123", "Hello from the office")
    assert len(list_messages(db, actor=pat)) == 2
    assert len(svc.inbound.received.rows(actor=pat)) == 1

    svc.users.update(boss, pat.user_id or 0, sms_access=False)
    assert pat.sms_access  # cached
    with pytest.raises(PermissionDenied, match="You need SMS access to send texts"):
        svc.outbound.send(pat, matter, "+12125550123", "Another one")
    with pytest.raises(PermissionDenied, match="You need SMS access to read messages"):
        list_messages(db, actor=pat)
    with pytest.raises(PermissionDenied, match="You need SMS access to read the Received Log"):
        svc.inbound.received.rows(actor=pat)
    inbound_id = svc.inbound.received.rows(actor=boss)[0].id
    with pytest.raises(PermissionDenied, match="SMS access"):
        svc.inbound.received.row(inbound_id, actor=pat)
    with pytest.raises(PermissionDenied, match="SMS access"):
        svc.outbound.cancel(pat, [1])
    assert _outbound_count(db) == 1


def test_a_deactivated_users_open_session_is_refused_every_change(svc: Services,
                                                                   db: Database) -> None:
    boss, _, pat = _people(svc)
    matter = add_matter(db, "25-000002", mobile="+12125550124", intake=date(2025, 1, 1))
    svc.users.update(boss, pat.user_id or 0, active=False)
    with pytest.raises(AccountDeactivated, match="deactivated"):
        svc.outbound.send(pat, matter, "+12125550124", "Hello")
    with pytest.raises(AccountDeactivated):
        svc.matters.set_consent(pat, matter, "no")  # no permission check of its own: audited
    with pytest.raises(AccountDeactivated):
        svc.users.set_password(pat, pat.user_id or 0, "a new password")
    with pytest.raises(AccountDeactivated):
        list_messages(db, actor=pat)
    assert _outbound_count(db) == 0
    assert svc.matters.detail(matter).consent == "yes"
    with db.session() as s:
        assert not s.scalar(select(AuditEntry.id).where(AuditEntry.user_id == pat.user_id,
                                                        AuditEntry.action != "user.add"))


def test_an_alert_can_only_be_dismissed_by_someone_who_sees_it(svc: Services,
                                                               db: Database) -> None:
    boss, _, pat = _people(svc)
    svc.settings.set(SYSTEM, "alert_scope", "all")
    mine = add_matter(db, "25-000003", mobile="+12125550125", intake=date(2025, 1, 1))
    theirs = add_matter(db, "25-000004", mobile="+12125550126", intake=date(2025, 1, 1))
    assign(db, mine, pat.user_id or 0, "primary")
    assign(db, theirs, boss.user_id or 0, "primary")
    file_reply(db, svc.settings, "SM3", "+12125550125")
    file_reply(db, svc.settings, "SM4", "+12125550126")
    alerts = AlertService(db, svc.settings, lambda: NOW)
    [own] = alerts.visible_to(pat.user_id or 0)
    [hidden] = alerts.visible_to(boss.user_id or 0)
    with pytest.raises(PermissionDenied, match="only dismiss alerts shown to you"):
        alerts.dismiss(pat, hidden.id)
    with db.session() as s:
        assert s.get(Alert, hidden.id).dismissed_at is None  # type: ignore[union-attr]
    assert alerts.dismiss(pat, own.id) is True
