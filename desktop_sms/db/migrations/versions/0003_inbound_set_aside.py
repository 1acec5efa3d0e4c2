"""replies that could not be filed are counted and set aside; truncated bodies are marked

Revision ID: 0003
Revises: 0002

* ``inbound_filing_failures``: one row per provider message id whose filing failed: the
  attempts so far, the reason, the message's fields (made storable and capped) and, once the
  attempts ran out, ``set_aside_at`` (see docs/set_aside.md).
* ``inbound_messages.body_truncated``: the body was longer than the storage cap and was cut.
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbound_filing_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_sid', sa.String(length=40), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('from_raw', sa.String(length=40), nullable=False),
        sa.Column('to_number', sa.String(length=40), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=True),
        sa.Column('num_media', sa.Integer(), nullable=False),
        sa.Column('first_failed_at', sa.DateTime(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(), nullable=False),
        sa.Column('set_aside_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_filing_failures')),
        sa.UniqueConstraint('provider_sid', name=op.f('uq_inbound_filing_failures_provider_sid')),
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_truncated', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('body_truncated')
    op.drop_table('inbound_filing_failures')
