"""Trust: idempotency keys namespaced per sender with a body fingerprint, Open311 media links,
capture time and position of staff photos (kept as fields once EXIF is stripped).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:05:00

"""
from alembic import op
import sqlalchemy as sa

import wangge.timeutil


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('idempotency_key', existing_type=sa.String(length=128),
                              type_=sa.String(length=200), existing_nullable=True)
        batch_op.add_column(sa.Column('idempotency_fingerprint', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('media_url', sa.String(length=2048), nullable=True))
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('captured_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('captured_lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('captured_lat', sa.Float(), nullable=True))
    rekey_old_idempotency_keys()


def rekey_old_idempotency_keys():
    """Keys stored before this revision were as the client sent them: an anonymous report's
    key could sit inside another sender's namespace ("staff:20:...", "hotline:12345-...").
    Move every old key into its own sender's namespace, so it can answer only that sender."""
    op.execute("UPDATE cases SET idempotency_key = 'public:' || idempotency_key "
               "WHERE idempotency_key IS NOT NULL AND channel IN ('citizen', 'web')")
    op.execute("UPDATE cases SET idempotency_key = 'open311:legacy:' || idempotency_key "
               "WHERE idempotency_key IS NOT NULL AND channel = 'open311'")
    op.execute("UPDATE cases SET idempotency_key = 'staff:' || CAST(reporter_staff_id AS VARCHAR(12)) || ':' "
               "|| idempotency_key WHERE idempotency_key IS NOT NULL AND reporter_staff_id IS NOT NULL "
               "AND channel NOT IN ('citizen', 'web', 'open311', 'hotline') AND idempotency_key NOT LIKE 'staff:%'")


def downgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_column('captured_lat')
        batch_op.drop_column('captured_lon')
        batch_op.drop_column('captured_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('media_url')
        batch_op.drop_column('idempotency_fingerprint')
        batch_op.alter_column('idempotency_key', existing_type=sa.String(length=200),
                              type_=sa.String(length=128), existing_nullable=True)
