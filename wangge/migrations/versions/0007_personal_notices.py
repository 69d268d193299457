"""Personal notification inbox and push subscriptions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 12:50:00

"""
from alembic import op
import sqlalchemy as sa

import wangge.timeutil


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('personal_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=True),
    sa.Column('case_number', sa.String(length=64), nullable=True),
    sa.Column('text_zh', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_personal_notices_outbox_id_outbox'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_personal_notices_staff_id_staff'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_notices')),
    sa.UniqueConstraint('staff_id', 'outbox_id', name='uq_personal_notice')
    )
    with op.batch_alter_table('personal_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_personal_notices_outbox_id'), ['outbox_id'], unique=False)
        batch_op.create_index('ix_personal_notices_staff', ['staff_id', 'id'], unique=False)
        batch_op.create_index('ix_personal_notices_unread', ['staff_id', 'id'], unique=False,
                              postgresql_where=sa.text('read_at IS NULL'), sqlite_where=sa.text('read_at IS NULL'))
        batch_op.create_index('ix_personal_notices_changes', ['staff_id', 'change_seq'], unique=False)

    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('endpoint', sa.String(length=1024), nullable=True),
    sa.Column('p256dh', sa.String(length=200), nullable=True),
    sa.Column('auth', sa.String(length=100), nullable=True),
    sa.Column('vendor', sa.String(length=32), nullable=True),
    sa.Column('token', sa.String(length=512), nullable=True),
    sa.Column('device', sa.String(length=100), nullable=True),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_push_subscriptions_staff_id_staff'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('identity', name=op.f('uq_push_subscriptions_identity'))
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_staff_id'), ['staff_id'], unique=False)

    op.create_table('push_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('receipt', sa.String(length=500), nullable=True),
    sa.Column('sent_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_push_receipts_outbox_id_outbox'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_receipts')),
    sa.UniqueConstraint('outbox_id', 'subscription_id', name='uq_push_receipt')
    )
    with op.batch_alter_table('push_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_receipts_outbox_id'), ['outbox_id'], unique=False)


def downgrade():
    op.drop_table('push_receipts')
    op.drop_table('push_subscriptions')
    op.drop_table('personal_notices')
