"""Device sessions and refresh tokens (phone API: me).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:50:00

"""
from alembic import op
import sqlalchemy as sa

import wangge.timeutil


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=200), nullable=False),
    sa.Column('device_name', sa.String(length=100), nullable=True),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.CheckConstraint("platform IN ('android','ios','harmonyos','web','other')",
                       name=op.f('ck_device_sessions_platform')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_device_sessions_staff_id_staff'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_sessions'))
    )
    with op.batch_alter_table('device_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_sessions_staff_id'), ['staff_id'], unique=False)

    op.create_table('refresh_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_session_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_session_id'], ['device_sessions.id'],
                            name=op.f('fk_refresh_tokens_device_session_id_device_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_tokens_token_hash'))
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_device_session_id'), ['device_session_id'], unique=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_session_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_tokens_device_session_id'), ['device_session_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_device_session_id_device_sessions'),
                                    'device_sessions', ['device_session_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_device_session_id_device_sessions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_tokens_device_session_id'))
        batch_op.drop_column('device_session_id')
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_device_session_id'))
    op.drop_table('refresh_tokens')
    with op.batch_alter_table('device_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_sessions_staff_id'))
    op.drop_table('device_sessions')
