"""Database fixtures: every test gets a fresh, migrated database on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_sms.db.database import Database, open_database
from tests.helpers.postgres import PostgresCluster, PostgresUnavailable, new_database_from_url


class _PgSource:
    def __init__(self) -> None:
        self.cluster: PostgresCluster | None = None
        self.error: str | None = None
        self.base_url = os.environ.get("DESKTOP_SMS_TEST_PG_URL")

    def new_url(self) -> str:
        if self.base_url:
            return new_database_from_url(self.base_url)
        if self.error:
            raise PostgresUnavailable(self.error)
        if self.cluster is None:
            try:
                cluster = PostgresCluster()
                cluster.start()
            except PostgresUnavailable as exc:
                self.error = str(exc)
                raise
            self.cluster = cluster
        return self.cluster.new_database()


@pytest.fixture(scope="session")
def pg_source() -> Iterator[_PgSource]:
    source = _PgSource()
    yield source
    if source.cluster is not None:
        source.cluster.stop()


def _pg_url(pg_source: _PgSource) -> str:
    try:
        return pg_source.new_url()
    except PostgresUnavailable as exc:
        if os.environ.get("DESKTOP_SMS_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL is required (DESKTOP_SMS_REQUIRE_PG=1) but unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_source: _PgSource) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return _pg_url(pg_source)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on each backend."""
    database, _ = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for UI tests that need only one backend."""
    database, _ = open_database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    yield database
    database.dispose()


@pytest.fixture
def pg_db(pg_source: _PgSource) -> Iterator[Database]:
    """A migrated PostgreSQL database, for tests of several desktops on one server."""
    database, _ = open_database(_pg_url(pg_source))
    yield database
    database.dispose()
