"""Keyset list indexes (issue 10): the cases with a running clock by grid, newest first.

``ix_cases_list_grid_clocked`` ``(grid_code, id) WHERE clock_due_at IS NOT NULL``, carrying
the light copies, the state and the filters' columns (as the other clocked indexes of
migration 0016): a light filter with a grid filter (a grid, a street's grids) reads the running
cases of those grids from the index alone, a few per grid, instead of the whole range of a
state and a light across the city (bench/bench_lists.py, ``state+light+grid``). Declared for
the models in dispatch/cases/list_indexes.py.

Built ``CONCURRENTLY`` on PostgreSQL (outside the migration's transaction), in place on SQLite.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 05:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

NAME = "ix_cases_list_grid_clocked"
INCLUDE = ["clock_due_at", "clock_warn_at", "clock_paused_light", "state",
           "department_id", "category_code", "channel", "supervised"]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    where = {"postgresql_where": sa.text("clock_due_at IS NOT NULL"),
             "sqlite_where": sa.text("clock_due_at IS NOT NULL")}
    if postgresql:
        with op.get_context().autocommit_block():
            op.create_index(NAME, "cases", ["grid_code", "id"], unique=False, postgresql_include=INCLUDE,
                            postgresql_concurrently=True, **where)
    else:
        op.create_index(NAME, "cases", ["grid_code", "id"], unique=False, **where)


def downgrade():
    op.drop_index(NAME, table_name="cases")
