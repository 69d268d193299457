"""The change feed that offline sync pulls from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 12:50:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
