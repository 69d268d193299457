"""The running stage clock's deadline kept on its owner: ``clock_due_at``, ``clock_warn_at``
and ``clock_paused_light`` on cases and enforcement_cases, written by triggers on
stage_clocks (both backends) and backfilled; partial indexes per inbox branch on (scope key,
clock_due_at, id) for the phone inbox's pages and counts.

Why a trigger rather than the application (dispatch.clocks.deadlines): clock times are also
written outside that module (bulk loads, tests and operators moving a deadline by SQL, the
next verb someone adds); a trigger in the same transaction sees every one of them, costs no
extra round trip per verb, and cannot forget the case where one verb ends a clock and
starts the next (it recomputes the owner's copy from the latest running clock, the rule of
``deadlines.current_clock``, after every change). On PostgreSQL it first locks the owner's
row, so two transactions changing one owner's clocks cannot leave a stale copy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OWNERS = {"case_id": "cases", "enforcement_id": "enforcement_cases"}
COPY = "(clock_due_at, clock_warn_at, clock_paused_light)"
# The light a paused clock is frozen at: deadlines.light's rule (what it used of the limit:
# green under 80%, yellow to 100%, red beyond). NULL while the clock runs.
PAUSED_LIGHT = ("CASE WHEN k.segment_started_at IS NOT NULL THEN NULL "
                "WHEN (CASE WHEN k.amount <> 0 THEN k.consumed / k.amount ELSE 1 END) > 1 THEN 'red' "
                "WHEN (CASE WHEN k.amount <> 0 THEN k.consumed / k.amount ELSE 1 END) >= 0.8 THEN 'yellow' "
                "ELSE 'green' END")
CLOCK_COLUMNS = "case_id, enforcement_id, segment_started_at, warn_at, due_at, ended_at, consumed, amount"
# scope key, index name, states; the copies in mobile_api/inbox/models.py
INDEXES = {
    "cases": ("state", [("department_id", "ix_cases_inbox_department", ("dispatched", "handling", "opened")),
                        ("assignee_id", "ix_cases_inbox_assignee", ("checking", "verifying")),
                        ("reporter_staff_id", "ix_cases_inbox_reporter", ("reported",))]),
    "enforcement_cases": ("stage", [("team_id", "ix_enforcement_cases_inbox_leader", ("accept", "close")),
                                    ("team_id", "ix_enforcement_cases_inbox_officer",
                                     ("investigate", "decide", "execute"))]),
}


def _running(key: str, owner: str) -> str:
    """The owner's copy: its latest running clock's times and paused light (NULLs: none)."""
    return (f"SELECT k.due_at, k.warn_at, {PAUSED_LIGHT} FROM stage_clocks k "
            f"WHERE k.{key} = {owner} AND k.ended_at IS NULL ORDER BY k.id DESC LIMIT 1")


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in OWNERS.values():
        op.add_column(table, sa.Column('clock_due_at', sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column('clock_warn_at', sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column('clock_paused_light', sa.String(length=8), nullable=True))
    _backfill(postgresql)
    if postgresql:
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    for table, (state, branches) in INDEXES.items():
        for key, name, states in branches:
            where = sa.text(f"{state} IN ({', '.join(repr(s) for s in states)})")
            op.create_index(name, table, [key, 'clock_due_at', 'id'], unique=False, postgresql_where=where,
                            sqlite_where=where, postgresql_include=['clock_warn_at', 'clock_paused_light'])


def _backfill(postgresql: bool):
    """Copy every running clock onto its owner. The deadline has not changed, so on PostgreSQL
    the sync feed's trigger on the owners is off meanwhile (phones need not pull every case
    again); on SQLite it writes one feed row per case with a running clock."""
    for key, table in OWNERS.items():
        kind = "case" if table == "cases" else "enforcement"
        if postgresql:
            op.execute(f"ALTER TABLE {table} DISABLE TRIGGER trg_sync_feed_{kind}")
        op.execute(f"UPDATE {table} SET {COPY} = ({_running(key, f'{table}.id')}) "
                   f"WHERE id IN (SELECT {key} FROM stage_clocks WHERE ended_at IS NULL)")
        if postgresql:
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER trg_sync_feed_{kind}")


def _postgresql_triggers():
    body = []
    for key, table in OWNERS.items():
        param = f"p_{table}"
        body.append(f"""
  IF {param} IS NOT NULL THEN
    -- the owner's row first: whoever changes its clocks next waits, then reads ours
    PERFORM 1 FROM {table} WHERE id = {param} FOR UPDATE;
    SELECT * INTO r FROM ({_running(key, param)}) AS running(due_at, warn_at, paused_light);
    UPDATE {table} SET {COPY} = (r.due_at, r.warn_at, r.paused_light)
     WHERE id = {param} AND {COPY} IS DISTINCT FROM (r.due_at, r.warn_at, r.paused_light);
  END IF;""")
    op.execute(f"""
CREATE FUNCTION stage_clock_owner_refresh(p_cases integer, p_enforcement_cases integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN{''.join(body)}
END $$""")
    op.execute("""
CREATE FUNCTION stage_clock_owner_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM stage_clock_owner_refresh(OLD.case_id, OLD.enforcement_id);
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.case_id IS DISTINCT FROM OLD.case_id
                                               OR NEW.enforcement_id IS DISTINCT FROM OLD.enforcement_id)) THEN
    PERFORM stage_clock_owner_refresh(NEW.case_id, NEW.enforcement_id);
  END IF;
  RETURN NULL;
END $$""")
    op.execute(f"CREATE TRIGGER trg_stage_clock_owner_deadline AFTER INSERT OR DELETE OR UPDATE OF {CLOCK_COLUMNS} "
               "ON stage_clocks FOR EACH ROW EXECUTE FUNCTION stage_clock_owner_deadline()")


def _sqlite_triggers():
    # One writer at a time: no lock needed.
    def refresh(row: str, only_if: str = "") -> str:
        return " ".join(f"UPDATE {table} SET {COPY} = ({_running(key, f'{table}.id')}) "
                        f"WHERE id = {row}.{key}{only_if.format(key=key)} "
                        f"AND {COPY} IS NOT ({_running(key, f'{table}.id')});" for key, table in OWNERS.items())

    op.execute("CREATE TRIGGER trg_stage_clock_owner_deadline_insert AFTER INSERT ON stage_clocks "
               f"BEGIN {refresh('NEW')} END")
    # an owner never changes on a clock; if one did, the old owner is refreshed too
    op.execute(f"CREATE TRIGGER trg_stage_clock_owner_deadline_update AFTER UPDATE OF {CLOCK_COLUMNS} "
               f"ON stage_clocks BEGIN {refresh('NEW')} {refresh('OLD', ' AND OLD.{key} IS NOT NEW.{key}')} END")
    op.execute("CREATE TRIGGER trg_stage_clock_owner_deadline_delete AFTER DELETE ON stage_clocks "
               f"BEGIN {refresh('OLD')} END")


def downgrade():
    for table, (_state, branches) in INDEXES.items():
        for _key, name, _states in branches:
            op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_stage_clock_owner_deadline ON stage_clocks")
        op.execute("DROP FUNCTION IF EXISTS stage_clock_owner_deadline()")
        op.execute("DROP FUNCTION IF EXISTS stage_clock_owner_refresh(integer, integer)")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_stage_clock_owner_deadline_{event}")
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of the table would lose
    # the sync feed's triggers on it (migration 0009)
    for table in OWNERS.values():
        for column in ('clock_paused_light', 'clock_warn_at', 'clock_due_at'):
            op.drop_column(table, column)
