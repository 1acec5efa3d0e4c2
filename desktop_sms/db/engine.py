"""Engines and sessions: SQLite (WAL, foreign keys, busy time-out) or PostgreSQL via psycopg 3."""

from __future__ import annotations

import errno
import os
import sqlite3
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


def sqlite_file_read_only(path: Path) -> bool:
    """True when the file exists but this process can't open it for writing: its mode, an
    immutable flag, a read-only mount or share. (Root passes mode checks, so this tries.)"""
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    os.close(fd)
    return False


def _read_only_connector(path: Path) -> Any:
    """Connections to a read-only SQLite file: mode=ro, or also immutable=1 when SQLite can't
    create the -shm file beside a WAL database either (a read-only folder). Immutable skips
    locking, which is right for a file nobody here can write (https://sqlite.org/uri.html)."""
    uri = path.resolve().as_uri()

    def connect() -> sqlite3.Connection:
        options = {"uri": True, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                   "check_same_thread": False}
        conn = sqlite3.connect(f"{uri}?mode=ro", **options)  # type: ignore[call-overload]
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn  # type: ignore[no-any-return]
        except sqlite3.OperationalError:
            conn.close()
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", **options)  # type: ignore[call-overload,no-any-return]

    return connect


def _where(url: str) -> str:
    """The database as a person names it in a message: "file:" and the path, or host/name
    (never the password)."""
    path = sqlite_path(url)
    if path is not None:
        return f"file:{path}"
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}/{parsed.database or ''}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the pragmas SQLite needs for several threads and processes."""
    url = normalize_url(url)
    # Errors must never quote a statement's parameters: they can hold a message body or a
    # phone number, and error text ends up in logs.
    kwargs.setdefault("hide_parameters", True)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        read_only = path is not None and sqlite_file_read_only(path)
        if path is not None and not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        if read_only:
            assert path is not None
            kwargs.setdefault("creator", _read_only_connector(path))
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _name_in_errors(engine, url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily; take control so BEGIN IMMEDIATE works.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if path is not None and not read_only:  # a read-only file can't change mode
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
    engine = create_engine(url, **kwargs)
    _name_in_errors(engine, url)
    return engine


def _name_in_errors(engine: Engine, url: str) -> None:
    """Tag every database error with where the database is (``database_where``), so that
    db/errors.describe_error can say which file is read-only."""
    where = _where(url)

    @event.listens_for(engine, "handle_error")
    def _tag(ctx: Any) -> None:
        for exc in (ctx.sqlalchemy_exception, ctx.original_exception):
            if exc is not None:
                try:
                    exc.database_where = where
                except AttributeError:  # some driver exceptions take no attributes
                    pass


def make_session_factory(engine: Engine, write: bool = False) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (views read them afterwards).

    With write=True, SQLite transactions begin IMMEDIATE (see make_engine).
    """
    bind = engine.execution_options(**{IMMEDIATE_OPTION: True}) if write else engine
    return sessionmaker(bind, expire_on_commit=False)
