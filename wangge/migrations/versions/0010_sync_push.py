"""Offline push batches: one row per client item, its outcome, kept conflicts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:50:00

"""
from alembic import op
import sqlalchemy as sa

import wangge.timeutil


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sync_push_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("created_at", wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.UniqueConstraint("staff_id", "client_id", name="uq_sync_push_items_staff_client"),
    )
    op.create_index("ix_sync_push_items_case_id", "sync_push_items", ["case_id"])
    op.create_index("ix_sync_push_items_outcome_resolved", "sync_push_items", ["outcome", "resolved_at"])


def downgrade():
    op.drop_index("ix_sync_push_items_outcome_resolved", table_name="sync_push_items")
    op.drop_index("ix_sync_push_items_case_id", table_name="sync_push_items")
    op.drop_table("sync_push_items")
