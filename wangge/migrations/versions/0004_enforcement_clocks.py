"""Enforcement stages run on stage clocks: a clock belongs to a case or to an enforcement case
(exactly one); each open enforcement case's running stage becomes a clock; the enforcement
case's own deadline columns (stage_warn_at, stage_due_at) go.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import wangge.timeutil

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ONE_OWNER = "(case_id IS NULL) <> (enforcement_id IS NULL)"
WHEN = wangge.timeutil.UTCDateTime(timezone=True)

# the tables as this revision knows them (not the application's models, which move on)
enforcement_cases = sa.table(
    'enforcement_cases', sa.column('id', sa.Integer), sa.column('parent_case_id', sa.Integer),
    sa.column('team_id', sa.Integer), sa.column('stage', sa.String), sa.column('stage_started_at', WHEN),
    sa.column('stage_warn_at', WHEN), sa.column('stage_due_at', WHEN))
cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('category_code', sa.String))
categories = sa.table('categories', sa.column('code', sa.String), sa.column('parent_code', sa.String))
time_limits = sa.table('time_limits', sa.column('category_code', sa.String), sa.column('stage', sa.String),
                       sa.column('amount', sa.Float), sa.column('unit', sa.String))
outbox = sa.table('outbox', sa.column('dedup_key', sa.String))
stage_clocks = sa.table(
    'stage_clocks', sa.column('enforcement_id', sa.Integer), sa.column('stage', sa.String),
    sa.column('department_id', sa.Integer), sa.column('started_at', WHEN), sa.column('amount', sa.Float),
    sa.column('unit', sa.String), sa.column('consumed', sa.Float), sa.column('segment_started_at', WHEN),
    sa.column('warn_at', WHEN), sa.column('due_at', WHEN), sa.column('warned_at', WHEN),
    sa.column('overdue_notified_at', WHEN), sa.column('extended', sa.Float))


def upgrade():
    with op.batch_alter_table('stage_clocks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enforcement_id', sa.Integer(), nullable=True))
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_stage_clocks_enforcement_id_enforcement_cases'),
                                    'enforcement_cases', ['enforcement_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_stage_clocks_enforcement_id'), ['enforcement_id'], unique=False)
        batch_op.create_check_constraint(batch_op.f('ck_stage_clocks_one_owner'), ONE_OWNER)
    move_running_stages_to_clocks()
    with op.batch_alter_table('enforcement_cases', schema=None) as batch_op:
        batch_op.drop_column('stage_due_at')
        batch_op.drop_column('stage_warn_at')


def move_running_stages_to_clocks():
    """Each open enforcement case's stage becomes a running clock with the deadlines it had.
    Its limit is looked up as the application does (the category's, its big class's, the
    default). A warning or overdue notice already sent (its outbox key) is marked as sent, so
    the one sweep does not count it again."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = bind.execute(
        sa.select(enforcement_cases.c.id, enforcement_cases.c.stage, enforcement_cases.c.team_id,
                  enforcement_cases.c.stage_started_at, enforcement_cases.c.stage_warn_at,
                  enforcement_cases.c.stage_due_at, cases.c.category_code)
        .select_from(enforcement_cases.join(cases, cases.c.id == enforcement_cases.c.parent_case_id))
        .where(enforcement_cases.c.stage != 'closed').order_by(enforcement_cases.c.id)).all()
    for row in rows:
        stage = f"enf_{row.stage}"
        codes = [row.category_code] if row.category_code else []
        parent = bind.scalar(sa.select(categories.c.parent_code).where(categories.c.code == row.category_code)) \
            if row.category_code else None
        codes += [parent] if parent else []
        codes.append('*')
        limits = {r.category_code: r for r in bind.execute(
            sa.select(time_limits.c.category_code, time_limits.c.amount, time_limits.c.unit)
            .where(time_limits.c.stage == stage, time_limits.c.category_code.in_(codes)))}
        limit = next((limits[c] for c in codes if c in limits), None)
        amount, unit = (limit.amount, limit.unit) if limit else (0.0, 'work_days')

        def sent(kind, row=row):
            key = f"enforcement:{row.id}:{row.stage}:{row.stage_started_at.timestamp():.0f}:{kind}"
            return now if bind.scalar(sa.select(outbox.c.dedup_key).where(outbox.c.dedup_key == key)) else None

        bind.execute(stage_clocks.insert().values(
            enforcement_id=row.id, stage=stage, department_id=row.team_id, started_at=row.stage_started_at,
            amount=amount, unit=unit, consumed=0.0, segment_started_at=row.stage_started_at,
            warn_at=row.stage_warn_at or row.stage_started_at, due_at=row.stage_due_at or row.stage_started_at,
            # the old sweep sent one notice per run: an overdue one stands for the warning too
            warned_at=sent("warning") or sent("overdue"), overdue_notified_at=sent("overdue"), extended=0.0))


def downgrade():
    with op.batch_alter_table('enforcement_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_warn_at', WHEN, nullable=True))
        batch_op.add_column(sa.Column('stage_due_at', WHEN, nullable=True))
    running = sa.select(stage_clocks.c.warn_at).where(
        stage_clocks.c.enforcement_id == enforcement_cases.c.id, sa.text('ended_at IS NULL')).scalar_subquery()
    due = sa.select(stage_clocks.c.due_at).where(
        stage_clocks.c.enforcement_id == enforcement_cases.c.id, sa.text('ended_at IS NULL')).scalar_subquery()
    op.execute(enforcement_cases.update().values(stage_warn_at=running, stage_due_at=due))
    op.execute("DELETE FROM stage_clocks WHERE enforcement_id IS NOT NULL")
    with op.batch_alter_table('stage_clocks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_stage_clocks_one_owner'), type_='check')
        batch_op.drop_index(batch_op.f('ix_stage_clocks_enforcement_id'))
        batch_op.drop_constraint(batch_op.f('fk_stage_clocks_enforcement_id_enforcement_cases'),
                                 type_='foreignkey')
        batch_op.drop_column('enforcement_id')
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
