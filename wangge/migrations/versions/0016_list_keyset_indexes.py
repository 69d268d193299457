"""Keyset list indexes (issue 10): the indexes the case queue (both sort orders, each filter)
and Open311 ``requests`` page by; see dispatch/cases/list_indexes.py, which declares the same
for the models, and bench/bench_lists.py, which checks the plans at 1,000,000 cases.

On PostgreSQL each is built ``CONCURRENTLY`` (outside the migration's transaction), so a
city's queue keeps working while a big cases table is indexed; SQLite builds them in place.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 15:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# name, columns, partial predicate; the copy in dispatch/cases/list_indexes.py
INDEXES = (
    ("ix_cases_list_department", ["department_id", "id"], None),
    ("ix_cases_list_grid", ["grid_code", "id"], None),
    ("ix_cases_list_category", ["category_code", "id"], None),
    ("ix_cases_list_state", ["state", "id"], None),
    ("ix_cases_list_supervised", ["id"], "supervised"),
    ("ix_cases_list_clocked", ["id"], "clock_due_at IS NOT NULL"),
    ("ix_cases_list_deadline", ["clock_due_at", "id"], "clock_due_at IS NOT NULL"),
    ("ix_cases_list_department_deadline", ["department_id", "clock_due_at", "id"], "clock_due_at IS NOT NULL"),
    ("ix_cases_list_state_deadline", ["state", "clock_due_at", "id"], "clock_due_at IS NOT NULL"),
    ("ix_cases_list_warning", ["clock_warn_at", "id"], "clock_warn_at IS NOT NULL"),
    ("ix_cases_list_reporter", ["reporter_staff_id", "id"], "reporter_staff_id IS NOT NULL"),
    ("ix_cases_list_assignee", ["assignee_id", "id"], "assignee_id IS NOT NULL"),
    ("ix_cases_list_reported", ["reported_at", "id"], None),
)
# the filters' columns, carried in the open cases' deadline indexes: a filtered page of them is
# read from the index alone (the queue selects ids first)
FILTERS = ["department_id", "category_code", "channel", "grid_code", "supervised"]
INCLUDE = {"ix_cases_list_clocked": ["clock_due_at", "clock_warn_at", "clock_paused_light", "state", *FILTERS],
           "ix_cases_list_deadline": ["clock_warn_at", "clock_paused_light", "state", *FILTERS],
           "ix_cases_list_state_deadline": ["clock_warn_at", "clock_paused_light", *FILTERS],
           "ix_cases_list_state": ["clock_due_at", "clock_warn_at", "clock_paused_light", *FILTERS],
           "ix_cases_list_warning": ["clock_due_at", "clock_paused_light"]}


def _create(postgresql: bool):
    for name, columns, where in INDEXES:
        partial = {} if where is None else {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}
        op.create_index(name, "cases", columns, unique=False, **partial,
                        postgresql_include=INCLUDE.get(name, []),
                        **({"postgresql_concurrently": True} if postgresql else {}))


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        with op.get_context().autocommit_block():
            _create(True)
    else:
        _create(False)


def downgrade():
    for name, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name="cases")
