"""same-line comparison keys for phone numbers

Revision ID: 0005
Revises: 0004

* ``matters.mobile_key`` / ``matters.home_key`` and ``outbound_messages.to_key``: the key
  ``desktop_sms.domain.phones.line_key`` builds from the E.164 number beside it, so that
  numbers written two ways for one line (Mexico's old "+521" mobiles, Argentina's mobile "9")
  compare equal in one indexed query. Indexed (``to_key`` with ``sent_at``, as the matcher
  orders by it). Existing rows get their keys computed here, in batches.
"""
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_BATCH = 2000


def _rows(bind: sa.Connection, sql: str) -> Iterator[list[Any]]:
    result = bind.execute(sa.text(sql))
    while True:
        chunk = result.fetchmany(_BATCH)
        if not chunk:
            return
        yield list(chunk)


def _recompute(bind: sa.Connection) -> None:
    from desktop_sms.domain.phones import line_key

    def key(value: str | None) -> str | None:
        return line_key(value) if value else None

    updates = [dict(i=r[0], m=key(r[1]), h=key(r[2])) for chunk in
               _rows(bind, "SELECT id, mobile_e164, home_e164 FROM matters") for r in chunk]
    for start in range(0, len(updates), _BATCH):
        bind.execute(sa.text("UPDATE matters SET mobile_key = :m, home_key = :h WHERE id = :i"),
                     updates[start:start + _BATCH])
    updates = [dict(i=r[0], k=key(r[1])) for chunk in
               _rows(bind, "SELECT id, to_e164 FROM outbound_messages") for r in chunk]
    for start in range(0, len(updates), _BATCH):
        bind.execute(sa.text("UPDATE outbound_messages SET to_key = :k WHERE id = :i"),
                     updates[start:start + _BATCH])


def upgrade() -> None:
    with op.batch_alter_table('matters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile_key', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('home_key', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_matters_mobile_key'), ['mobile_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_matters_home_key'), ['home_key'], unique=False)
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_key', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_outbound_to_key_sent', ['to_key', 'sent_at'], unique=False)
    _recompute(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_to_key_sent')
        batch_op.drop_column('to_key')
    with op.batch_alter_table('matters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matters_home_key'))
        batch_op.drop_index(batch_op.f('ix_matters_mobile_key'))
        batch_op.drop_column('home_key')
        batch_op.drop_column('mobile_key')
