"""opt-outs compared by phone line; the stand-in client quiet hours setting removed

Revision ID: 0012
Revises: 0013

* ``opt_outs.phone_key``: the same-line key (``desktop_sms.domain.phones.line_key``) of
  ``phone_e164``, indexed, so a STOP from Mexico's old "+521..." form of a mobile blocks texts
  to "+52..." (the same line). Existing rows get their keys here; rows of one line that
  disagree are brought to the state of the line's latest event.
* The ``client_quiet_hours`` setting row is deleted: batches and client reminders follow the
  office's ``quiet_hours`` rule (docs/consent_and_quiet_hours.md).
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0013'
branch_labels = None
depends_on = None


def _fill_keys(bind: sa.Connection) -> None:
    from desktop_sms.domain.phones import line_key

    rows = list(bind.execute(sa.text(
        "SELECT id, phone_e164, opted_out, source, changed_at, inbound_id FROM opt_outs "
        "ORDER BY changed_at, id")))
    latest: dict[str, Any] = {}
    keys: list[dict[str, Any]] = []
    for row in rows:
        key = line_key(row[1]) or row[1]
        keys.append({"i": row[0], "k": key})
        latest[key] = row  # ordered by time: the last one wins
    if keys:
        bind.execute(sa.text("UPDATE opt_outs SET phone_key = :k WHERE id = :i"), keys)
    for key, row in latest.items():
        bind.execute(sa.text(
            "UPDATE opt_outs SET opted_out = :o, source = :s, changed_at = :c "
            "WHERE phone_key = :k AND id <> :i"),
            {"o": row[2], "s": row[3], "c": row[4], "k": key, "i": row[0]})


def upgrade() -> None:
    with op.batch_alter_table('opt_outs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_key', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_opt_outs_phone_key'), ['phone_key'], unique=False)
    bind = op.get_bind()
    _fill_keys(bind)
    bind.execute(sa.text("DELETE FROM settings WHERE key = 'client_quiet_hours'"))


def downgrade() -> None:
    with op.batch_alter_table('opt_outs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opt_outs_phone_key'))
        batch_op.drop_column('phone_key')
