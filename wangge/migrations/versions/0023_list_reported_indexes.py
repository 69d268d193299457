"""Keyset list indexes for the day filters (issue 10: a day or a month of reports, a year ago,
at 1,000,000 cases).

With ``reported_from``/``reported_to`` the queue pages in the order of the day filter
(``dispatch.workflow.queue``): ``newest`` by ``(reported_at, id)`` descending, the cases
without a running clock of ``deadline`` by ``(reported_at, id)``: walks of
``ix_cases_list_reported`` that stop after a page. The running cases of a ``deadline`` page
stay in deadline order and are read either way:

* ``ix_cases_list_clocked_reported`` ``(reported_at, id) WHERE clock_due_at IS NOT NULL``,
  carrying the light copies, the state and the filters' columns (as the other clocked indexes):
  the running cases reported in a range that ended long ago (a few: the open backlog is the
  newest cases), read from the index alone and sorted;
* ``ix_cases_list_deadline`` carries ``reported_at`` now: a range that reaches today is tested
  in the index while it is walked in deadline order (the recent cases are most of the running
  ones: a page is found within a few hundred entries).

Built ``CONCURRENTLY`` on PostgreSQL (outside the migration's transaction; the deadline index
is rebuilt under a new name, then swapped); on SQLite the new partial index in place (SQLite
indexes carry no columns). Declared for the models in dispatch/cases/list_indexes.py.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-27 14:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

CLOCKED = "clock_due_at IS NOT NULL"
FILTERS = ["department_id", "category_code", "channel", "grid_code", "supervised"]
REPORTED = "ix_cases_list_clocked_reported"
REPORTED_INCLUDE = ["clock_due_at", "clock_warn_at", "clock_paused_light", "state", *FILTERS]
DEADLINE = "ix_cases_list_deadline"
DEADLINE_INCLUDE = ["clock_warn_at", "clock_paused_light", "state", *FILTERS]


def _where():
    return {"postgresql_where": sa.text(CLOCKED), "sqlite_where": sa.text(CLOCKED)}


def _swap_deadline(include):
    """Rebuild the deadline index with ``include`` without blocking writes: build, drop, rename."""
    op.create_index(f"{DEADLINE}_new", "cases", ["clock_due_at", "id"], unique=False, postgresql_include=include,
                    postgresql_concurrently=True, **_where())
    op.drop_index(DEADLINE, table_name="cases", postgresql_concurrently=True)
    op.execute(f"ALTER INDEX {DEADLINE}_new RENAME TO {DEADLINE}")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(REPORTED, "cases", ["reported_at", "id"], unique=False, **_where())
        return
    with op.get_context().autocommit_block():
        op.create_index(REPORTED, "cases", ["reported_at", "id"], unique=False, postgresql_include=REPORTED_INCLUDE,
                        postgresql_concurrently=True, **_where())
        _swap_deadline([*DEADLINE_INCLUDE, "reported_at"])


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(REPORTED, table_name="cases")
        return
    with op.get_context().autocommit_block():
        op.drop_index(REPORTED, table_name="cases", postgresql_concurrently=True)
        _swap_deadline(DEADLINE_INCLUDE)
