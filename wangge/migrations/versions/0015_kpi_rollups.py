"""Indicator roll-ups (issue 10): placeholder, filled by the indicators work.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 15:30:00

"""

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
