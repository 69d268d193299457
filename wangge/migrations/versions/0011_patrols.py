"""Patrols, check-ins and GPS track points (partitioned by day on PostgreSQL).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 12:50:00

``patrol_points`` is ``PARTITION BY RANGE (t)`` on PostgreSQL and a plain table on SQLite.
No partition is made here: ``grid.patrol.partitions`` creates each UTC day's partition ahead
(the worker's periodic job, ``wangge patrol partitions``) or on demand when a point arrives
for a day that has none, and drops those past ``WANGGE_PATROL_RETENTION_DAYS``.
"""
from alembic import op
import sqlalchemy as sa

from wangge.timeutil import UTCDateTime


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("last_at", UTCDateTime(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        *[sa.Column(f"rejected_{reason}", sa.Integer(), nullable=False)
          for reason in ("speed", "accuracy", "outside", "duplicate", "time")],
    )
    op.create_index("uq_patrols_open_staff", "patrols", ["staff_id"], unique=True,
                    postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL"))
    op.create_index("ix_patrols_staff_started", "patrols", ["staff_id", "started_at"])
    op.create_table(
        "patrol_points",
        sa.Column("patrol_id", sa.Integer(), sa.ForeignKey("patrols.id", ondelete="CASCADE"), nullable=False),
        sa.Column("t", UTCDateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("flag", sa.String(12), nullable=True),
        sa.PrimaryKeyConstraint("patrol_id", "t"),
        postgresql_partition_by="RANGE (t)",
    )
    op.create_table(
        "patrol_checkins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patrol_id", sa.Integer(), sa.ForeignKey("patrols.id", ondelete="CASCADE"), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
        sa.Column("grid_code", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
    )
    op.create_index("ix_patrol_checkins_patrol_id", "patrol_checkins", ["patrol_id"])
    # a report made during a patrol links to it (dispatch.intake)
    if postgres:
        op.add_column("cases", sa.Column("patrol_id", sa.Integer(), sa.ForeignKey("patrols.id"), nullable=True))
    else:  # SQLite adds a column with its reference inline, never a constraint on its own
        op.execute("ALTER TABLE cases ADD COLUMN patrol_id INTEGER REFERENCES patrols (id)")
    op.create_index("ix_cases_patrol_id", "cases", ["patrol_id"])


def downgrade():
    op.drop_index("ix_cases_patrol_id", table_name="cases")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("cases", "patrol_id")
    else:
        with op.batch_alter_table("cases") as batch:
            batch.drop_column("patrol_id")
    op.drop_table("patrol_checkins")
    op.drop_table("patrol_points")  # on PostgreSQL its partitions go with it
    op.drop_table("patrols")
