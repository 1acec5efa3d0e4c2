"""one-time setup codes for accounts created without a password

Revision ID: 0004
Revises: 0003

* ``users.setup_code_hash``: the Argon2id hash of the one-time code an administrator gives a
  user added without a password; the code (not the username alone) claims the account.
* ``users.setup_code_expires_at``: naive UTC; after it the code no longer works (the
  ``setup_code_hours`` setting, 72 hours by default).

Accounts already without a password get no code: an administrator issues one (Preferences →
Users → New setup code…, or ``desktop-sms users setup-code USERNAME``).
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('setup_code_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('setup_code_expires_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('setup_code_expires_at')
        batch_op.drop_column('setup_code_hash')
