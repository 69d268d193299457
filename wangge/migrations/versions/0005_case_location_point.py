"""cases.location is a Point, as the model says (0002 created it as any geometry).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 11:10:00

"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # Intake only ever writes points; on SQLite the column is WKB in a BLOB either way.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases ALTER COLUMN location TYPE geometry(Point, 4326) "
                   "USING ST_SetSRID(location, 4326)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases ALTER COLUMN location TYPE geometry(Geometry, 4326)")
