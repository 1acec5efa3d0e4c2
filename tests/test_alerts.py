"""Who sees which alert on the Home page (docs/product.md F12), on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from desktop_sms.db.database import Database
from desktop_sms.db.models import AuditEntry
from desktop_sms.providers.base import ProviderMessage
from desktop_sms.services.alerts import AlertService, snippet
from desktop_sms.services.common import SYSTEM, Actor
from desktop_sms.services.ingest import InboundIngest
from desktop_sms.services.settings import SettingsService
from tests.test_matcher import add_matter, add_user, assign

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


class NoMedia:
    """A provider stub: messages without media never touch it."""


def clock() -> datetime:
    return NOW


def file_reply(db: Database, settings: SettingsService, sid: str, sender: str,
               body: str = "Yes I can come on Monday") -> None:
    msg = ProviderMessage(sid=sid, direction="inbound", from_=sender, to="+12125550100",
                          body=body, status="received", date_sent=NOW - timedelta(minutes=5))
    InboundIngest(db, settings, clock).ingest(msg, NoMedia())  # type: ignore[arg-type]


# (kind, end date) of the user's assignment → visible with scope primary, with scope all
TABLE = [
    ("primary", None, True, True),
    ("other", None, False, True),
    ("primary", TODAY - timedelta(days=1), False, False),  # ended
    ("primary", TODAY, False, False),  # ends today: no longer current
    ("primary", TODAY + timedelta(days=30), True, True),  # ends in the future
    ("other", TODAY + timedelta(days=30), False, True),
    (None, None, False, False),  # not on the matter
]


@pytest.mark.parametrize("scope", ["primary", "all"])
def test_alert_visibility_table(db: Database, scope: str) -> None:
    settings = SettingsService(db, clock)
    settings.set(SYSTEM, "alert_scope", scope)
    users: list[tuple[int, bool]] = []
    for i, (kind, end, primary_sees, all_sees) in enumerate(TABLE):
        number = f"+1212555{i + 1:04d}"
        matter = add_matter(db, f"25-{i:06d}", mobile=number, intake=date(2025, 1, 1),
                            client=f"Client {i}")
        uid = add_user(db, f"user{i}")
        if kind is not None:
            assign(db, matter, uid, kind, end)
        file_reply(db, settings, f"SM{i:04d}", number)
        users.append((uid, primary_sees if scope == "primary" else all_sees))
    # a prescreen has no assignments: nobody sees its alert
    add_matter(db, "PS-1", stage="prescreen", mobile="+13125550111")
    file_reply(db, settings, "SMpre", "+13125550111")
    service = AlertService(db, settings, clock)
    for i, (uid, sees) in enumerate(users):
        rows = service.visible_to(uid)
        assert (len(rows) == 1) is sees, TABLE[i]
        assert service.count_for(uid) == len(rows)
        if rows:
            row = rows[0]
            assert (row.case_number, row.client_name) == (f"25-{i:06d}", f"Client {i}")
            assert row.sender == f"(212) 555-{i + 1:04d}"
            assert row.snippet == "Yes I can come on Monday"


def test_dismissal_by_one_user_hides_it_for_everybody(db: Database) -> None:
    settings = SettingsService(db, clock)
    settings.set(SYSTEM, "alert_scope", "all")
    matter = add_matter(db, "25-000001", mobile="+12125550123", intake=date(2025, 1, 1))
    ann, bob = add_user(db, "ann"), add_user(db, "bob")
    assign(db, matter, ann, "primary")
    assign(db, matter, bob, "other")
    file_reply(db, settings, "SM1", "+12125550123", "first")
    file_reply(db, settings, "SM2", "+12125550123", "second\nline  " + "x" * 100)
    service = AlertService(db, settings, clock)
    rows = service.visible_to(bob)
    assert len(rows) == 2 and rows[0].id > rows[1].id  # newest first
    assert rows[0].snippet.startswith("second line x") and rows[0].snippet.endswith("…")
    assert service.matters_for_user(ann, [matter, 999]) == [matter]
    assert service.dismiss(Actor(ann, "ann"), rows[0].id) is True
    assert [r.id for r in service.visible_to(bob)] == [rows[1].id]
    assert service.count_for(ann) == 1
    assert service.dismiss(Actor(bob, "bob"), rows[0].id) is False  # already dismissed
    with db.session() as s:
        assert list(s.scalars(select(AuditEntry.user_id).where(
            AuditEntry.action == "alert.dismiss"))) == [ann]


def test_rejecting_a_matter_hides_its_alerts(db: Database) -> None:
    from desktop_sms.services.matters import MatterService

    settings = SettingsService(db, clock)
    matter = add_matter(db, "25-000001", mobile="+12125550123", intake=date(2025, 1, 1))
    ann = add_user(db, "ann")
    assign(db, matter, ann, "primary")
    file_reply(db, settings, "SM1", "+12125550123")
    service = AlertService(db, settings, clock)
    assert service.count_for(ann) == 1
    MatterService(db, lambda: NOW + timedelta(days=1)).set_stage(SYSTEM, matter, "rejected")
    later = AlertService(db, settings, lambda: NOW + timedelta(days=2))
    assert later.count_for(ann) == 0


def test_snippet() -> None:
    assert snippet("  a\n b ") == "a b"
    assert len(snippet("y" * 200)) == 80
