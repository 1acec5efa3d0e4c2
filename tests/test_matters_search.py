"""The case list's search: the SQLite FTS5 trigram index (migration 0002), the LIKE fallback,
the capped count of short filters, and migration 0002 over an existing 0001 database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from pytestqt.qtbot import QtBot
from sqlalchemy import delete, insert, inspect, text, update

from desktop_sms.db import migrate
from desktop_sms.db.database import Database, open_database
from desktop_sms.db.models import Matter
from desktop_sms.services.common import Actor
from desktop_sms.services.container import Services
from desktop_sms.services.matters import (
    COUNT_CAP,
    MatterInput,
    MatterService,
    count_is_capped,
)
from desktop_sms.ui.windows.main_window import MainWindow

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

INPUTS = ("garcia", "GARCIA", "maria g", "Maria", "ia ga", "25-0001", "25-000012", "0001",
          "212.555.0123", "(212) 555-0123", "+12125550123", "5550123", "555 01", "646-555-0199",
          "(917) 5", "9175", "00123", "zz-nobody", "smith", "o'brien", 'say "hi"', "100%",
          "a_b", "ma", "5", "2", "")


def _rows(n: int = 60, prefix: str = "25-") -> list[dict[str, object]]:
    names = ("Maria Garcia", "James Smith", "Aisha O'Brien", "Wei Chen", "Say \"Hi\" Ltd",
             "100% Corp", "A_B Holdings", "Grace Garcias")
    areas = ("212", "646", "917", "718")
    rows = []
    for i in range(n):
        mobile = f"+1{areas[i % 4]}55501{i % 100:02d}" if i % 5 else None
        home = f"+1{areas[(i + 1) % 4]}555{i:04d}" if i % 3 == 0 else None
        rows.append({"case_number": f"{prefix}{i:06d}", "client_name": names[i % len(names)],
                     "stage": "intake", "mobile_raw": mobile, "mobile_e164": mobile,
                     "home_raw": home, "home_e164": home, "intake_date": date(2025, 1, 1),
                     "consent": "not_asked", "created_at": NOW, "updated_at": NOW})
    return rows


def _fill(db: Database, rows: list[dict[str, object]]) -> None:
    with db.transaction() as s:
        s.execute(insert(Matter), rows)


def _answers(svc: MatterService) -> dict[str, tuple[int, list[str]]]:
    return {t: (svc.count(t), [r.case_number for r in svc.page(t, limit=500)]) for t in INPUTS}


def test_index_and_like_give_the_same_answers(db: Database) -> None:
    _fill(db, _rows())
    indexed = MatterService(db, clock=lambda: NOW)
    scanning = MatterService(db, clock=lambda: NOW)
    scanning._fts = False  # the LIKE path, as on PostgreSQL or an SQLite without trigram
    if db.is_sqlite:
        assert indexed._has_search_index()
    got, want = _answers(indexed), _answers(scanning)
    assert got == want
    assert got["garcia"][0] == got["GARCIA"][0] > 0
    assert got["5550123"][1] == ["25-000023"]


def test_phone_forms_find_the_same_matter(db: Database) -> None:
    svc = MatterService(db, clock=lambda: NOW)
    _fill(db, _rows(10))
    for t in ("212.555.0108", "(212) 555-0108", "+12125550108", "2125550108", "5550108"):
        assert [r.case_number for r in svc.page(t)] == ["25-000008"], t
    assert [r.case_number for r in svc.page("Maria 212")] == []  # letters: not a phone


def test_index_follows_inserts_edits_and_deletes(db: Database) -> None:
    svc = MatterService(db, clock=lambda: NOW)
    actor = _actor(db)
    mid = svc.save(actor, MatterInput("26-000001", "Ruth Okafor", "intake", mobile="(718) 555-0142",
                                      intake_date=date(2026, 1, 1)))
    assert [r.id for r in svc.page("okafor")] == [mid]
    assert [r.id for r in svc.page("718-555-0142")] == [mid]
    svc.save(actor, MatterInput("26-000001", "Ruth Adeyemi", "intake", home="(917) 555-0177",
                                intake_date=date(2026, 1, 1)), matter_id=mid)
    assert svc.page("okafor") == [] and svc.page("718-555-0142") == []
    assert [r.id for r in svc.page("adeyemi")] == [r.id for r in svc.page("917 555 0177")] == [mid]
    with db.transaction() as s:
        s.execute(update(Matter).where(Matter.id == mid).values(case_number="26-777777"))
    assert [r.id for r in svc.page("777777")] == [mid] and svc.page("26-000001") == []
    with db.transaction() as s:
        s.execute(delete(Matter).where(Matter.id == mid))
    assert svc.page("adeyemi") == [] and svc.count("adeyemi") == 0


def _actor(db: Database) -> Actor:
    from desktop_sms.services.container import build_services

    services = build_services(db, clock=lambda: NOW)
    return services.users.add(None, "boss", "Office Manager", password="correct horse").actor()


def test_short_filters_are_counted_up_to_the_cap(db: Database) -> None:
    svc = MatterService(db, clock=lambda: NOW)
    _fill(db, _rows(COUNT_CAP + 200))
    n = svc.count("2")
    assert n == COUNT_CAP + 1 and count_is_capped("2", n)
    assert svc.count("") == COUNT_CAP + 200 and not count_is_capped("", COUNT_CAP + 200)
    long_count = svc.count("25-")
    assert long_count == COUNT_CAP + 200 and not count_is_capped("25-", long_count)
    assert svc.count("zq") == 0
    assert len(svc.page("2", offset=0, limit=200)) == 200


def test_cases_page_shows_a_capped_count(qtbot: QtBot, main_window: MainWindow,
                                         services: Services) -> None:
    _fill(services.db, _rows(COUNT_CAP + 200, prefix="77-"))
    page = main_window.cases_page
    page.refresh()
    page.filter_edit.setText("7")
    page.apply_filter()
    assert page.model.rowCount() == COUNT_CAP + 1
    assert page.count_label.text() == "1,000+ cases"
    page.filter_edit.setText("77-0011")
    page.apply_filter()
    assert page.model.rowCount() == 100 and page.count_label.text() == "100 cases"


def test_migration_0002_indexes_an_existing_0001_database(db_url: str) -> None:
    raw = Database(db_url)
    cfg = migrate.alembic_config(raw.url)
    with raw.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert migrate.current_revision(raw.engine) == "0001"
    rows = _rows(40)
    with raw.engine.begin() as conn:
        conn.execute(insert(Matter.__table__), rows)  # as the bench and old data: no ORM
    raw.dispose()

    db, _ = open_database(db_url)
    try:
        assert migrate.current_revision(db.engine) == migrate.head_revision() == migrate.HEAD_REVISION
        columns = {c["name"] for c in inspect(db.engine).get_columns("outbound_messages")}
        assert "claim_token" in columns
        svc = MatterService(db, clock=lambda: NOW)
        if db.is_sqlite:
            assert svc._has_search_index()
            with db.session() as s:
                assert s.scalar(text("SELECT count(*) FROM matters_fts")) == 40
        else:
            indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("matters")}
            with db.session() as s:
                has_trgm = s.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
            if has_trgm:
                assert "ix_matters_client_name_trgm" in indexes
        assert [r.case_number for r in svc.page("212.555.0108")] == ["25-000008"]
        assert svc.count("garcias") == 5
        scanning = MatterService(db, clock=lambda: NOW)
        scanning._fts = False
        assert _answers(svc) == _answers(scanning)
    finally:
        db.dispose()


def test_migration_0002_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    db, _ = open_database(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    _fill(db, _rows(12))
    cfg = migrate.alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "matters_fts" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    svc = MatterService(db, clock=lambda: NOW)
    assert svc._has_search_index() and svc.count("garcia") == 3
    db.dispose()


@pytest.mark.parametrize("value", ['"', '""', "a\"b", "{x}", "NEAR(a b)", "x OR y", "*", "^ab"])
def test_fts_syntax_in_the_filter_is_taken_literally(db: Database, value: str) -> None:
    svc = MatterService(db, clock=lambda: NOW)
    _fill(db, _rows(4))
    assert svc.count(value) == 0 and svc.page(value) == []
