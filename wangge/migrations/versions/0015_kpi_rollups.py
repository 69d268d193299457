"""Indicator roll-ups (issue 10): the facts of every measured event and stage clock
(``kpi_event_facts``, ``kpi_clock_facts``, dispatch/indicators/models.py) and the cases whose
facts are to be recomputed (``kpi_dirty``), with triggers that add a case to ``kpi_dirty``
in the transaction that adds one of its events, changes one of its clocks or changes the
columns it is grouped by (both backends).

Why a trigger (as in 0012): events and clocks are written by many modules, bulk loads and
operators; a trigger sees every one of them at the cost of one small INSERT and no round
trip. The facts themselves are computed by ``dispatch.indicators.rollup`` (one SELECT for
both backends, tested against the from-scratch computation) when the worker folds the dirty
cases; readers compute the facts of the still-dirty cases on the fly, so answers are exact.

Upgrade marks every existing case dirty: answers are exact at once, and ``wangge
indicators rebuild`` (or the worker's tick, a batch at a time) fills the facts.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 15:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

CLOCK_COLUMNS = "case_id, stage, department_id, started_at, due_at, ended_at, ended_late"
CASE_COLUMNS = "grid_code, category_code, channel, reporter_staff_id"
# trigger name -> (table, events, row whose case is marked, the case id column of that row)
TRIGGERS = {
    "trg_kpi_dirty_event": ("case_events", "INSERT", "NEW", "case_id"),
    "trg_kpi_dirty_clock_insert": ("stage_clocks", "INSERT", "NEW", "case_id"),
    "trg_kpi_dirty_clock_update": ("stage_clocks", f"UPDATE OF {CLOCK_COLUMNS}", "NEW", "case_id"),
    "trg_kpi_dirty_clock_moved": ("stage_clocks", f"UPDATE OF {CLOCK_COLUMNS}", "OLD", "case_id"),
    "trg_kpi_dirty_clock_delete": ("stage_clocks", "DELETE", "OLD", "case_id"),
    "trg_kpi_dirty_case_update": ("cases", f"UPDATE OF {CASE_COLUMNS}", "NEW", "id"),
    "trg_kpi_dirty_case_delete": ("cases", "DELETE", "OLD", "id"),
}


def _times(*names):
    return [sa.Column(name, sa.DateTime(timezone=True), nullable=True) for name in names]


def upgrade():
    op.create_table(
        'kpi_dirty',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kpi_dirty_case_id', 'kpi_dirty', ['case_id'])
    group = [sa.Column('department_id', sa.Integer(), nullable=True),
             sa.Column('grid_code', sa.String(length=64), nullable=True),
             sa.Column('category_code', sa.String(length=32), nullable=True),
             sa.Column('worker_id', sa.Integer(), nullable=True)]
    op.create_table(
        'kpi_event_facts',
        sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('verb', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        *group,
        sa.Column('from_public', sa.Boolean(), nullable=True),
        *_times('valid_at'),
        sa.Column('on_time', sa.Boolean(), nullable=True),
        *_times('voided_at', 'returned_at', 'return_accepted_at'),
        sa.Column('rating', sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint('event_id'),
    )
    op.create_index('ix_kpi_event_facts_case_id', 'kpi_event_facts', ['case_id'])
    op.create_index('ix_kpi_event_facts_verb_at', 'kpi_event_facts', ['verb', 'at'])
    op.create_table(
        'kpi_clock_facts',
        sa.Column('clock_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=24), nullable=False),
        *[sa.Column(c.name, c.type, nullable=True) for c in group],
        *_times('due_at', 'done_at', 'ontime_at', 'withdrawn_at', 'extended_at', 'closed_at', 'rework_at',
                'case_late_at'),
        sa.PrimaryKeyConstraint('clock_id'),
    )
    op.create_index('ix_kpi_clock_facts_case_id', 'kpi_clock_facts', ['case_id'])
    op.create_index('ix_kpi_clock_facts_stage_ontime', 'kpi_clock_facts', ['stage', 'ontime_at'])
    op.create_index('ix_kpi_clock_facts_stage_due', 'kpi_clock_facts', ['stage', 'due_at'])

    if op.get_bind().dialect.name == "postgresql":
        for row in ("NEW", "OLD"):
            for column in ("case_id", "id"):
                op.execute(f"""
CREATE FUNCTION kpi_mark_{row.lower()}_{column}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {row}.{column} IS NOT NULL THEN
    INSERT INTO kpi_dirty (case_id) VALUES ({row}.{column});
  END IF;
  RETURN NULL;
END $$""")
        for name, (table, events, row, column) in TRIGGERS.items():
            moved = (f" WHEN (OLD.case_id IS DISTINCT FROM NEW.case_id)" if name.endswith("_moved") else "")
            op.execute(f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW{moved} "
                       f"EXECUTE FUNCTION kpi_mark_{row.lower()}_{column}()")
    else:
        for name, (table, events, row, column) in TRIGGERS.items():
            when = f"{row}.{column} IS NOT NULL"
            if name.endswith("_moved"):
                when += " AND OLD.case_id IS NOT NEW.case_id"
            op.execute(f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW WHEN {when} "
                       f"BEGIN INSERT INTO kpi_dirty (case_id) VALUES ({row}.{column}); END")
    op.execute("INSERT INTO kpi_dirty (case_id) SELECT id FROM cases ORDER BY id")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, (table, *_rest) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        for row in ("new", "old"):
            for column in ("case_id", "id"):
                op.execute(f"DROP FUNCTION IF EXISTS kpi_mark_{row}_{column}()")
    op.drop_table('kpi_clock_facts')
    op.drop_table('kpi_event_facts')
    op.drop_table('kpi_dirty')
