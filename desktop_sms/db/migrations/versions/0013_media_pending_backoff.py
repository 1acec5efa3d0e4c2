"""media pending with back-off: when to list an MMS's media again, and what was given up

Revision ID: 0013
Revises: 0007

* ``inbound_messages.media_attempts``: how many times the media list of a message whose
  photos were pending has been asked again.
* ``inbound_messages.media_retry_at``: not asked again before this time (UTC; back-off).
* ``inbound_messages.media_missing``: attachments given up once the limit passed (24 hours
  after the message was stored); the Received Log says "photo could not be downloaded".
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('media_retry_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('media_missing', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('media_missing')
        batch_op.drop_column('media_retry_at')
        batch_op.drop_column('media_attempts')
