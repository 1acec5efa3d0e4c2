"""conversations: read state, needs-response state, drafts and message search

Revision ID: 0007
Revises: 0006

* ``message_reads``: one row per (user, inbound message) the user has opened; a reply is
  unread for a user while there is no row. *Mark as unread* deletes the row.
* ``conversation_states``: per matter, when someone last marked the conversation done
  (``done_at``/``done_by_id``). A matter *needs a response* when its newest filed reply is
  newer than both its newest text sent by staff and ``done_at``.
* ``drafts``: the text a user typed to a matter's client and has not sent (one per user and
  matter).
* Message search. SQLite: FTS5 ``trigram`` tables ``inbound_fts`` (body, from_e164) and
  ``outbound_fts`` (body, to_e164) over the message tables as external content, kept in step
  by triggers and rebuilt from the rows already there. Created only when SQLite has FTS5 with
  the trigram tokenizer (3.34 or newer); otherwise search scans with LIKE.
  PostgreSQL: ``pg_trgm`` GIN indexes on both bodies and numbers, used by ``ILIKE``; skipped
  when the extension can't be created (search then scans).
"""
import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

log = logging.getLogger("desktop_sms.db.migrations")


def _fts(table: str, source: str, number: str) -> list[str]:
    cols = f"body, {number}"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5({cols}, content='{source}', "
        "content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS {table}_ai AFTER INSERT ON {source} BEGIN "
        f"INSERT INTO {table}(rowid, {cols}) VALUES (new.id, new.body, new.{number}); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_ad AFTER DELETE ON {source} BEGIN "
        f"INSERT INTO {table}({table}, rowid, {cols}) "
        f"VALUES ('delete', old.id, old.body, old.{number}); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_au AFTER UPDATE OF body, {number} ON {source} "
        f"BEGIN INSERT INTO {table}({table}, rowid, {cols}) "
        f"VALUES ('delete', old.id, old.body, old.{number}); "
        f"INSERT INTO {table}(rowid, {cols}) VALUES (new.id, new.body, new.{number}); END",
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",
    ]


SQLITE_FTS = (_fts("inbound_fts", "inbound_messages", "from_e164")
              + _fts("outbound_fts", "outbound_messages", "to_e164"))

PG_TRGM_INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_inbound_messages_body_trgm ON inbound_messages "
    "USING gin (body gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_inbound_messages_from_trgm ON inbound_messages "
    "USING gin (from_e164 gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_outbound_messages_body_trgm ON outbound_messages "
    "USING gin (body gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_outbound_messages_to_trgm ON outbound_messages "
    "USING gin (to_e164 gin_trgm_ops)",
]


def _sqlite_has_trigram(bind: sa.Connection) -> bool:
    if sqlite3.sqlite_version_info < (3, 34, 0):
        return False
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp.messages_fts_probe USING fts5("
                             "x, tokenize='trigram')")
        bind.exec_driver_sql("DROP TABLE temp.messages_fts_probe")
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    op.create_table(
        'message_reads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_message_reads_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'],
                                name=op.f('fk_message_reads_inbound_id_inbound_messages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_reads')),
        sa.UniqueConstraint('user_id', 'inbound_id',
                            name=op.f('uq_message_reads_user_id_inbound_id')),
    )
    op.create_index(op.f('ix_message_reads_inbound_id'), 'message_reads', ['inbound_id'])
    op.create_table(
        'conversation_states',
        sa.Column('matter_id', sa.Integer(), nullable=False),
        sa.Column('done_at', sa.DateTime(), nullable=True),
        sa.Column('done_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['matter_id'], ['matters.id'],
                                name=op.f('fk_conversation_states_matter_id_matters'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['done_by_id'], ['users.id'],
                                name=op.f('fk_conversation_states_done_by_id_users')),
        sa.PrimaryKeyConstraint('matter_id', name=op.f('pk_conversation_states')),
    )
    op.create_table(
        'drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('matter_id', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('to_raw', sa.String(length=40), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_drafts_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['matter_id'], ['matters.id'],
                                name=op.f('fk_drafts_matter_id_matters'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
        sa.UniqueConstraint('user_id', 'matter_id', name=op.f('uq_drafts_user_id_matter_id')),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if _sqlite_has_trigram(bind):
            for statement in SQLITE_FTS:
                bind.exec_driver_sql(statement)
        else:
            log.warning("SQLite %s has no FTS5 trigram tokenizer: message search scans",
                        sqlite3.sqlite_version)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                for statement in PG_TRGM_INDEXES:
                    bind.exec_driver_sql(statement)
        except sa.exc.DBAPIError as exc:
            log.warning("pg_trgm is not available (%s): message search scans",
                        str(exc).splitlines()[0])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in ("inbound_fts", "outbound_fts"):
            for suffix in ("ai", "ad", "au"):
                bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
            bind.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    elif bind.dialect.name == "postgresql":
        for name in ("inbound_messages_body", "inbound_messages_from",
                     "outbound_messages_body", "outbound_messages_to"):
            bind.exec_driver_sql(f"DROP INDEX IF EXISTS ix_{name}_trgm")
    op.drop_table('drafts')
    op.drop_table('conversation_states')
    op.drop_index(op.f('ix_message_reads_inbound_id'), table_name='message_reads')
    op.drop_table('message_reads')
