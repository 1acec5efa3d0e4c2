"""Engines and sessions: SQLite (WAL, foreign keys, busy time-out) or PostgreSQL via psycopg 3."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

APP_NAME = "DesktopSMS"
SQLITE_BUSY_TIMEOUT_MS = 10_000
IMMEDIATE_OPTION = "desktop_sms_write"


def data_dir() -> Path:
    """The user's data folder for this application (created on demand)."""
    path = Path(os.environ.get("DESKTOP_SMS_DATA_DIR") or platformdirs.user_data_dir(APP_NAME, False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """The SQLite file in the user data folder."""
    return f"sqlite:///{data_dir() / 'desktop-sms.sqlite3'}"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way (postgresql:// or postgres://)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the pragmas SQLite needs for several threads and processes."""
    url = normalize_url(url)
    # Errors must never quote a statement's parameters: they can hold a message body or a
    # phone number, and error text ends up in logs.
    kwargs.setdefault("hide_parameters", True)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily; take control so BEGIN IMMEDIATE works.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if path is not None:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Write transactions (Database.transaction) take the write lock up front with
            # IMMEDIATE, so two writers queue on busy_timeout instead of one failing with
            # "database is locked" when it upgrades a read lock. Reads stay deferred: in WAL
            # mode they never wait for a writer, so the GUI's queries never stall on a poll.
            immediate = conn.get_execution_options().get(IMMEDIATE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine, write: bool = False) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (views read them afterwards).

    With write=True, SQLite transactions begin IMMEDIATE (see make_engine).
    """
    bind = engine.execution_options(**{IMMEDIATE_OPTION: True}) if write else engine
    return sessionmaker(bind, expire_on_commit=False)
