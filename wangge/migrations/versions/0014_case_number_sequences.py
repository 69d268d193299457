"""Case numbers from database sequences on PostgreSQL: one sequence ``case_seq_<area>_<year>``
per existing ``case_sequences`` row, starting after the highest number used there (the row's
counter or a case's number, whichever is higher), so numbering goes on where it was.
``dispatch.intake.numbering`` makes the sequences of new (area, year) pairs on first use.

The ``case_sequences`` table stays: SQLite (one writer at a time) still counts there, and on
PostgreSQL it records where each sequence started. On SQLite nothing changes.

Downgrade: the counter rows are brought up to the sequences' last values (so the row lock
numbering of 0013 goes on after them), then the sequences are dropped.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 10:00:00

"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_AREA = re.compile(r"[0-9]{1,12}")  # ASCII: \d would take other scripts' digits


def _name(area, year):
    if not _AREA.fullmatch(area or "") or not 1 <= int(year) <= 9999:
        return None  # not a number area: never used by the intake, no sequence
    return f"case_seq_{area}_{int(year)}"


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for area, year, last in bind.execute(sa.text("SELECT area, year, last FROM case_sequences")).all():
        name = _name(area, year)
        if name is None:
            continue
        prefix = f"{area}{int(year)}"
        highest = bind.execute(sa.text(
            "SELECT max(CAST(substring(number FROM :pattern) AS bigint)) FROM cases WHERE number LIKE :like"),
            {"pattern": f"^{prefix}(\\d{{6,18}})$", "like": f"{prefix}%"}).scalar()
        start = max(int(last or 0), int(highest or 0)) + 1
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} AS bigint START WITH {start}")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    names = bind.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname ~ '^case_seq_[0-9]+_[0-9]+$'"
    )).scalars().all()
    for name in names:
        _, _, area, year = name.split("_")
        state = bind.execute(sa.text(f"SELECT last_value, is_called FROM {name}")).one()
        last = state.last_value if state.is_called else state.last_value - 1
        bind.execute(sa.text(
            "INSERT INTO case_sequences (area, year, last) VALUES (:area, :year, :last) "
            "ON CONFLICT (area, year) DO UPDATE SET last = GREATEST(case_sequences.last, EXCLUDED.last)"),
            {"area": area, "year": int(year), "last": last})
        op.execute(f"DROP SEQUENCE {name}")
