"""templates, batches of texts to many clients, reminders to clients

Revision ID: 0008
Revises: 0005

* ``message_templates``: named texts with merge fields (docs/templates.md).
* ``outbound_batches``: one text to many clients; ``outbound_messages.batch_id`` links each
  recipient's own message to it (SQLite: batch mode, the table is copied).
* ``client_reminders``: reminders of a task or event sent to the matter's client; each one's
  text is a scheduled outbound message (``outbound_id``).
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'message_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name=op.f('fk_message_templates_updated_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_templates')),
        sa.UniqueConstraint('name', name=op.f('uq_message_templates_name')),
    )
    op.create_table(
        'outbound_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('template_name', sa.String(length=80), nullable=True),
        sa.Column('send_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('skipped', sa.Integer(), nullable=False),
        sa.Column('canceled_at', sa.DateTime(), nullable=True),
        sa.Column('canceled_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'],
                                name=op.f('fk_outbound_batches_author_id_users')),
        sa.ForeignKeyConstraint(['canceled_by_id'], ['users.id'],
                                name=op.f('fk_outbound_batches_canceled_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_batches')),
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbound_messages_batch_id'), ['batch_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbound_messages_batch_id_outbound_batches'),
                                    'outbound_batches', ['batch_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table(
        'client_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('offset_minutes', sa.Integer(), nullable=True),
        sa.Column('fixed_at', sa.DateTime(), nullable=True),
        sa.Column('template_body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=True),
        sa.Column('outbound_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['item_id'], ['calendar_items.id'], ondelete='CASCADE',
                                name=op.f('fk_client_reminders_item_id_calendar_items')),
        sa.ForeignKeyConstraint(['outbound_id'], ['outbound_messages.id'], ondelete='SET NULL',
                                name=op.f('fk_client_reminders_outbound_id_outbound_messages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_client_reminders')),
    )
    op.create_index(op.f('ix_client_reminders_item_id'), 'client_reminders', ['item_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_client_reminders_item_id'), table_name='client_reminders')
    op.drop_table('client_reminders')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbound_messages_batch_id_outbound_batches'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbound_messages_batch_id'))
        batch_op.drop_column('batch_id')
    op.drop_table('outbound_batches')
    op.drop_table('message_templates')
