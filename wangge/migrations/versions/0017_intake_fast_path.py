"""Intake fast path (issue 10): placeholder, filled by the intake work.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 15:30:00

"""

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
