"""consent records, consent requests, quiet-hours override flag

Revision ID: 0006
Revises: 0008

* ``consent_records``: every SMS consent answer and revocation of a matter (answer, method,
  wording version and text, note, who, when, the reply that gave it).
* ``consent_requests``: the one "Reply YES…" text per matter (unique matter_id) and the reply
  that answered it.
* ``outbound_messages.quiet_hours_override``: the text was sent inside quiet hours on purpose
  (audited); the dispatcher does not hold it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'consent_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('matter_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.String(length=10), nullable=False),
        sa.Column('method', sa.String(length=12), nullable=False),
        sa.Column('wording_version', sa.String(length=16), nullable=False),
        sa.Column('wording', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['matter_id'], ['matters.id'],
                                name=op.f('fk_consent_records_matter_id_matters'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_consent_records_recorded_by_id_users')),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'],
                                name=op.f('fk_consent_records_inbound_id_inbound_messages'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    )
    op.create_index('ix_consent_records_matter_at', 'consent_records',
                    ['matter_id', 'recorded_at'], unique=False)
    op.create_table(
        'consent_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('matter_id', sa.Integer(), nullable=False),
        sa.Column('to_e164', sa.String(length=20), nullable=False),
        sa.Column('outbound_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.Column('answered_inbound_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['matter_id'], ['matters.id'],
                                name=op.f('fk_consent_requests_matter_id_matters'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbound_id'], ['outbound_messages.id'],
                                name=op.f('fk_consent_requests_outbound_id_outbound_messages'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_consent_requests_requested_by_id_users')),
        sa.ForeignKeyConstraint(['answered_inbound_id'], ['inbound_messages.id'],
                                name=op.f('fk_consent_requests_answered_inbound_id_inbound_messages'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_requests')),
        sa.UniqueConstraint('matter_id', name=op.f('uq_consent_requests_matter_id')),
    )
    op.create_index(op.f('ix_consent_requests_to_e164'), 'consent_requests', ['to_e164'],
                    unique=False)
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quiet_hours_override', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('quiet_hours_override')
    op.drop_index(op.f('ix_consent_requests_to_e164'), table_name='consent_requests')
    op.drop_table('consent_requests')
    op.drop_index('ix_consent_records_matter_at', table_name='consent_records')
    op.drop_table('consent_records')
