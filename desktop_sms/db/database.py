"""The Database object services share: one engine, sessions, and start-up migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from desktop_sms.db import migrate
from desktop_sms.db.engine import make_engine, make_session_factory, normalize_url


class Database:
    """One database: an engine and a session factory; migrated by `open_database`."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine: Engine = make_engine(self.url)
        self._sessions = make_session_factory(self.engine)
        self._write_sessions = make_session_factory(self.engine, write=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        """A new session for reading; use as a context manager (never blocks on a writer)."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on any error."""
        with self._write_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str) -> tuple[Database, Path | None]:
    """Open and migrate; returns the database and the backup copy made before migrating."""
    db = Database(url)
    try:
        backup = migrate.upgrade(db.engine)
    except Exception:
        db.dispose()
        raise
    return db, backup
