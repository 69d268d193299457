"""The change feed that offline sync pulls from (sync_feed, written by triggers on cases and
enforcement_cases on both backends), and the indexes the phone's inbox reads by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 12:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

RUNNING = sa.text("ended_at IS NULL")
CLOCK_COLUMNS = ["due_at", "warn_at", "segment_started_at", "consumed", "amount"]
FEED_COLUMNS = ("txid, kind, entity_id, old_department_id, new_department_id, old_grid_code, new_grid_code, "
                "old_assignee_id, new_assignee_id, reporter_staff_id, old_state, new_state")


def _values(txid: str, kind: str, old: str | None) -> dict:
    """The VALUES of one feed row for each source table; ``old`` is None on insert."""
    o = (lambda col: f"{old}.{col}") if old else (lambda col: "NULL")
    return {
        "case": f"{txid}, 'case', NEW.id, {o('department_id')}, NEW.department_id, {o('grid_code')}, "
                f"NEW.grid_code, {o('assignee_id')}, NEW.assignee_id, NEW.reporter_staff_id, {o('state')}, NEW.state",
        "enforcement": f"{txid}, 'enforcement', NEW.id, {o('team_id')}, NEW.team_id, NULL, NULL, NULL, NULL, "
                       f"NULL, {o('stage')}, NEW.stage",
        # a stage clock changes its owner's deadline and light, never who sees it
        "clock": f"{txid}, CASE WHEN NEW.case_id IS NOT NULL THEN 'case' ELSE 'enforcement' END, "
                 "COALESCE(NEW.case_id, NEW.enforcement_id), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
    }[kind]


TABLES = {"case": "cases", "enforcement": "enforcement_cases", "clock": "stage_clocks"}


def upgrade():
    op.create_table(
        'sync_feed',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('txid', sa.BigInteger(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('entity_id', sa.Integer(), nullable=False),
        sa.Column('old_department_id', sa.Integer(), nullable=True),
        sa.Column('new_department_id', sa.Integer(), nullable=True),
        sa.Column('old_grid_code', sa.String(length=64), nullable=True),
        sa.Column('new_grid_code', sa.String(length=64), nullable=True),
        sa.Column('old_assignee_id', sa.Integer(), nullable=True),
        sa.Column('new_assignee_id', sa.Integer(), nullable=True),
        sa.Column('reporter_staff_id', sa.Integer(), nullable=True),
        sa.Column('old_state', sa.String(length=24), nullable=True),
        sa.Column('new_state', sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_feed')),
    )
    op.create_index('ix_sync_feed_txid_id', 'sync_feed', ['txid', 'id'], unique=False)
    op.create_index('ix_cases_department_state_id', 'cases', ['department_id', 'state', 'id'], unique=False)
    op.create_index('ix_cases_assignee_state', 'cases', ['assignee_id', 'state', 'id'], unique=False)
    op.create_index('ix_cases_reporter_state', 'cases', ['reporter_staff_id', 'state', 'id'], unique=False)
    op.create_index('ix_enforcement_cases_team_stage', 'enforcement_cases', ['team_id', 'stage', 'id'],
                    unique=False)
    op.create_index('ix_enforcement_officers_staff', 'enforcement_officers', ['staff_id'], unique=False)
    op.create_index('ix_stage_clocks_running_case', 'stage_clocks', ['case_id', 'id'], unique=False,
                    postgresql_where=RUNNING, sqlite_where=RUNNING, postgresql_include=CLOCK_COLUMNS)
    op.create_index('ix_stage_clocks_running_enforcement', 'stage_clocks', ['enforcement_id', 'id'], unique=False,
                    postgresql_where=RUNNING, sqlite_where=RUNNING, postgresql_include=CLOCK_COLUMNS)
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    _backfill()


def _postgresql_triggers():
    # The writing transaction's id, as a bigint (xid8 is epoch << 32 | xid: it fits).
    txid = "pg_current_xact_id()::text::bigint"
    for kind, table in TABLES.items():
        op.execute(f"""
CREATE FUNCTION sync_feed_{kind}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO sync_feed ({FEED_COLUMNS}) VALUES ({_values(txid, kind, None)});
  ELSE
    INSERT INTO sync_feed ({FEED_COLUMNS}) VALUES ({_values(txid, kind, 'OLD')});
  END IF;
  RETURN NULL;
END $$""")
        op.execute(f"CREATE TRIGGER trg_sync_feed_{kind} AFTER INSERT OR UPDATE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION sync_feed_{kind}()")


def _sqlite_triggers():
    for kind, table in TABLES.items():
        op.execute(f"CREATE TRIGGER trg_sync_feed_{kind}_insert AFTER INSERT ON {table} BEGIN "
                   f"INSERT INTO sync_feed ({FEED_COLUMNS}) VALUES ({_values('NULL', kind, None)}); END")
        op.execute(f"CREATE TRIGGER trg_sync_feed_{kind}_update AFTER UPDATE ON {table} BEGIN "
                   f"INSERT INTO sync_feed ({FEED_COLUMNS}) VALUES ({_values('NULL', kind, 'OLD')}); END")


def _backfill():
    """One row per existing case and enforcement case, so a phone's first pull after the
    upgrade and every later one start from the same feed."""
    txid = "pg_current_xact_id()::text::bigint" if op.get_bind().dialect.name == "postgresql" else "NULL"
    op.execute(f"INSERT INTO sync_feed ({FEED_COLUMNS}) SELECT {txid}, 'case', id, NULL, department_id, NULL, "
               "grid_code, NULL, assignee_id, reporter_staff_id, NULL, state FROM cases ORDER BY id")
    op.execute(f"INSERT INTO sync_feed ({FEED_COLUMNS}) SELECT {txid}, 'enforcement', id, NULL, team_id, NULL, "
               "NULL, NULL, NULL, NULL, NULL, stage FROM enforcement_cases ORDER BY id")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for kind, table in TABLES.items():
            op.execute(f"DROP TRIGGER IF EXISTS trg_sync_feed_{kind} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS sync_feed_{kind}()")
    else:
        for kind in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_sync_feed_{kind}_insert")
            op.execute(f"DROP TRIGGER IF EXISTS trg_sync_feed_{kind}_update")
    for name, table in (('ix_stage_clocks_running_enforcement', 'stage_clocks'),
                        ('ix_stage_clocks_running_case', 'stage_clocks'),
                        ('ix_enforcement_officers_staff', 'enforcement_officers'),
                        ('ix_enforcement_cases_team_stage', 'enforcement_cases'),
                        ('ix_cases_reporter_state', 'cases'), ('ix_cases_assignee_state', 'cases'),
                        ('ix_cases_department_state_id', 'cases')):
        op.drop_index(name, table_name=table)
    op.drop_index('ix_sync_feed_txid_id', table_name='sync_feed')
    op.drop_table('sync_feed')
