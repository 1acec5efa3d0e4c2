"""case-list search index; per-batch claim token on outbound messages

Revision ID: 0002
Revises: 0001

* SQLite: an FTS5 ``trigram`` table ``matters_fts`` (rowid = matters.id; columns case_number,
  client_name and ``phones``: the digits of the mobile and home E.164 numbers without '+',
  space-separated) kept in step by three triggers on ``matters`` and filled from the rows
  already there. Created only when the SQLite library has FTS5 with the trigram tokenizer
  (3.34 or newer); otherwise the case list keeps its LIKE filter (MatterService checks).
* PostgreSQL: ``pg_trgm`` GIN indexes on lower(case_number), lower(client_name), mobile_e164
  and home_e164, which the case list's ``LIKE '%…%'`` filter uses. Creating the extension
  needs the right privileges: when it can't be created, the indexes are skipped silently (the
  filter still works, by scanning) and an administrator may run
  ``CREATE EXTENSION pg_trgm`` and this revision's index statements later.
* ``outbound_messages.verify_since``: set when a send's outcome is unknown (a read time-out
  after the request went out); the next attempt first looks for the text at the provider.
* ``outbound_messages.claim_token``: the dispatcher claims a batch of due messages with one
  conditional UPDATE and reads back the rows carrying its token (exactly the rows it won).
"""
import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

log = logging.getLogger("desktop_sms.db.migrations")


def _phones(row: str) -> str:
    return (f"trim(coalesce(ltrim({row}.mobile_e164, '+'), '') || ' ' || "
            f"coalesce(ltrim({row}.home_e164, '+'), ''))")


SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS matters_fts USING fts5("
    "case_number, client_name, phones, tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS matters_fts_ai AFTER INSERT ON matters BEGIN "
    "INSERT INTO matters_fts(rowid, case_number, client_name, phones) "
    f"VALUES (new.id, new.case_number, new.client_name, {_phones('new')}); END",
    "CREATE TRIGGER IF NOT EXISTS matters_fts_ad AFTER DELETE ON matters BEGIN "
    "DELETE FROM matters_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS matters_fts_au AFTER UPDATE OF id, case_number, client_name, "
    "mobile_e164, home_e164 ON matters BEGIN "
    "DELETE FROM matters_fts WHERE rowid = old.id; "
    "INSERT INTO matters_fts(rowid, case_number, client_name, phones) "
    f"VALUES (new.id, new.case_number, new.client_name, {_phones('new')}); END",
    "DELETE FROM matters_fts",
    "INSERT INTO matters_fts(rowid, case_number, client_name, phones) "
    f"SELECT m.id, m.case_number, m.client_name, {_phones('m')} FROM matters AS m",
]

PG_TRGM_INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_matters_case_number_trgm ON matters "
    "USING gin (lower(case_number) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_matters_client_name_trgm ON matters "
    "USING gin (lower(client_name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_matters_mobile_e164_trgm ON matters "
    "USING gin (mobile_e164 gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_matters_home_e164_trgm ON matters "
    "USING gin (home_e164 gin_trgm_ops)",
]


def _sqlite_has_trigram(bind: sa.Connection) -> bool:
    if sqlite3.sqlite_version_info < (3, 34, 0):
        return False
    try:  # FTS5 can be compiled out; a failed statement leaves a SQLite transaction intact
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp.matters_fts_probe USING fts5("
                             "x, tokenize='trigram')")
        bind.exec_driver_sql("DROP TABLE temp.matters_fts_probe")
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    op.add_column('outbound_messages', sa.Column('claim_token', sa.String(length=32), nullable=True))
    op.add_column('outbound_messages', sa.Column('verify_since', sa.DateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if _sqlite_has_trigram(bind):
            for statement in SQLITE_FTS:
                bind.exec_driver_sql(statement)
        else:
            log.warning("SQLite %s has no FTS5 trigram tokenizer: the case list filters by "
                        "scanning", sqlite3.sqlite_version)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                for statement in PG_TRGM_INDEXES:
                    bind.exec_driver_sql(statement)
        except sa.exc.DBAPIError as exc:
            log.warning("pg_trgm is not available (%s): the case list filters by scanning",
                        str(exc).splitlines()[0])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("matters_fts_ai", "matters_fts_ad", "matters_fts_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS matters_fts")
    elif bind.dialect.name == "postgresql":
        for name in ("case_number", "client_name", "mobile_e164", "home_e164"):
            bind.exec_driver_sql(f"DROP INDEX IF EXISTS ix_matters_{name}_trgm")
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('claim_token')
        batch_op.drop_column('verify_since')
