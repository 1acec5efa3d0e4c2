"""Alembic migrations applied at start-up: backed up first, newer schemas refused."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from desktop_sms.db.engine import sqlite_path
from desktop_sms.resources import package_path

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# The newest migration in db/migrations/versions (a test keeps the two equal). A database
# already at it is opened without importing Alembic at all, which keeps start-up quick.
HEAD_REVISION = "0012"


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Desktop SMS; opening it could damage it."""


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the migrations shipped in the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(package_path("db/migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision(url: str = "sqlite://") -> str:
    """The newest migration this application knows (read from the migration scripts)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(version) if version is not None else None


def upgrade(engine: Engine) -> Path | None:
    """Bring the schema to the newest revision; returns the backup made of a SQLite file, if any."""
    current = current_revision(engine)
    if current == HEAD_REVISION:
        return None
    from alembic import command
    from alembic.script import ScriptDirectory

    url = engine.url.render_as_string(hide_password=False)
    cfg = alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    if current is not None:
        known = {rev.revision for rev in script.walk_revisions()}
        if current not in known:
            raise SchemaTooNewError(
                f"This database was made by a newer version of Desktop SMS (schema {current}). "
                "Install the newer version to open it; nothing was changed."
            )
    if current == head:
        return None
    backup = _backup_sqlite(url, current)
    log.info("migrating database from %s to %s", current or "empty", head)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return backup


def _backup_sqlite(url: str, current: str | None) -> Path | None:
    path = sqlite_path(url)
    if path is None or current is None or not path.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.before-{current}-{stamp}.bak")
    shutil.copy2(path, backup)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            shutil.copy2(extra, backup.with_name(backup.name + suffix))
    log.info("copied the database aside to %s before migrating", backup)
    return backup
