"""Dispatch: cases, events, stage clocks, attachments, outbox, deliveries, enforcement.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:54:52.715868

"""
from alembic import op
import sqlalchemy as sa

import wangge.geometry
import wangge.timeutil


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_sequences',
    sa.Column('area', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('area', 'year', name=op.f('pk_case_sequences'))
    )
    op.create_table('enforcement_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('opened_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_ends_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_groups'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('available_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_outbox_dedup_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['available_at'], unique=False, postgresql_where=sa.text('delivered_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL'))

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=100), nullable=False),
    sa.Column('delivered_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_deliveries_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('outbox_id', 'channel', 'recipient', name='uq_delivery')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_outbox_id'), ['outbox_id'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('tracking_code', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('reporter_staff_id', sa.Integer(), nullable=True),
    sa.Column('reporter_name', sa.String(length=100), nullable=True),
    sa.Column('reporter_phone', sa.String(length=32), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('location', wangge.geometry.Geometry(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('original_lon', sa.Float(), nullable=True),
    sa.Column('original_lat', sa.Float(), nullable=True),
    sa.Column('original_crs', sa.String(length=8), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('grid_code', sa.String(length=64), nullable=True),
    sa.Column('category_code', sa.String(length=32), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('suggested_department_id', sa.Integer(), nullable=True),
    sa.Column('suggestion_reason', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('resume_state', sa.String(length=24), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('rating', sa.String(length=24), nullable=True),
    sa.Column('supervised', sa.Boolean(), nullable=False),
    sa.Column('review_date', sa.Date(), nullable=True),
    sa.Column('reported_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff.id'], name=op.f('fk_cases_assignee_id_staff')),
    sa.ForeignKeyConstraint(['category_code'], ['categories.code'], name=op.f('fk_cases_category_code_categories')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_cases_department_id_departments')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['cases.id'], name=op.f('fk_cases_duplicate_of_id_cases')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_cases_grid_id_grids')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['cases.id'], name=op.f('fk_cases_merged_into_id_cases')),
    sa.ForeignKeyConstraint(['reporter_staff_id'], ['staff.id'], name=op.f('fk_cases_reporter_staff_id_staff')),
    sa.ForeignKeyConstraint(['suggested_department_id'], ['departments.id'], name=op.f('fk_cases_suggested_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_cases_idempotency_key')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number')),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_cases_tracking_code'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_category_reported', ['category_code', 'reported_at'], unique=False)
        batch_op.create_index('ix_cases_department_state', ['department_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reporter_staff_id'), ['reporter_staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_state'), ['state'], unique=False)

    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('thumbnail_path', sa.String(length=500), nullable=True),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_attachments_case_id_cases')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['staff.id'], name=op.f('fk_attachments_uploaded_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_sha256'), ['sha256'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.create_index('ix_cases_location', 'cases', ['location'], postgresql_using='gist')
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('verb', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=32), nullable=False),
    sa.Column('at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('attachment_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_case_events_actor_id_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_events_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_events_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_case_events_verb_at', ['verb', 'at'], unique=False)

    op.create_table('enforcement_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('parent_case_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('referred_by', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=24), nullable=False),
    sa.Column('stage_started_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stage_warn_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stage_due_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('penalty_amount', sa.Float(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['enforcement_groups.id'], name=op.f('fk_enforcement_cases_group_id_enforcement_groups')),
    sa.ForeignKeyConstraint(['parent_case_id'], ['cases.id'], name=op.f('fk_enforcement_cases_parent_case_id_cases')),
    sa.ForeignKeyConstraint(['referred_by'], ['staff.id'], name=op.f('fk_enforcement_cases_referred_by_staff')),
    sa.ForeignKeyConstraint(['team_id'], ['departments.id'], name=op.f('fk_enforcement_cases_team_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_enforcement_cases_number'))
    )
    with op.batch_alter_table('enforcement_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_cases_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_cases_parent_case_id'), ['parent_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_cases_team_id'), ['team_id'], unique=False)

    op.create_table('stage_clocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('started_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('consumed', sa.Float(), nullable=False),
    sa.Column('segment_started_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warn_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_late', sa.Boolean(), nullable=True),
    sa.Column('warned_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_notified_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extended', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_stage_clocks_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_stage_clocks_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_clocks'))
    )
    with op.batch_alter_table('stage_clocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_clocks_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_stage_clocks_overdue_due', ['due_at'], unique=False, postgresql_where=sa.text('ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL'), sqlite_where=sa.text('ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL'))
        batch_op.create_index('ix_stage_clocks_warn_due', ['warn_at'], unique=False, postgresql_where=sa.text('ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL'), sqlite_where=sa.text('ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL'))

    op.create_table('enforcement_officers',
    sa.Column('enforcement_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enforcement_id'], ['enforcement_cases.id'], name=op.f('fk_enforcement_officers_enforcement_id_enforcement_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_enforcement_officers_staff_id_staff')),
    sa.PrimaryKeyConstraint('enforcement_id', 'staff_id', name=op.f('pk_enforcement_officers'))
    )
    op.create_table('enforcement_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enforcement_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('from_stage', sa.String(length=24), nullable=True),
    sa.Column('to_stage', sa.String(length=24), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('attachment_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_enforcement_records_actor_id_staff')),
    sa.ForeignKeyConstraint(['enforcement_id'], ['enforcement_cases.id'], name=op.f('fk_enforcement_records_enforcement_id_enforcement_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_records'))
    )
    with op.batch_alter_table('enforcement_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_records_enforcement_id'), ['enforcement_id'], unique=False)

    # The event log and enforcement records are append-only, in the database itself too.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE FUNCTION wangge_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql""")
        for table in ("case_events", "enforcement_records"):
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION wangge_append_only()")
    else:
        for table in ("case_events", "enforcement_records"):
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in ("case_events", "enforcement_records"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS wangge_append_only()")
    with op.batch_alter_table('enforcement_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_records_enforcement_id'))

    op.drop_table('enforcement_records')
    op.drop_table('enforcement_officers')
    with op.batch_alter_table('stage_clocks', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_clocks_warn_due', postgresql_where=sa.text('ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL'), sqlite_where=sa.text('ended_at IS NULL AND warned_at IS NULL AND segment_started_at IS NOT NULL'))
        batch_op.drop_index('ix_stage_clocks_overdue_due', postgresql_where=sa.text('ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL'), sqlite_where=sa.text('ended_at IS NULL AND overdue_notified_at IS NULL AND segment_started_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_stage_clocks_case_id'))

    op.drop_table('stage_clocks')
    with op.batch_alter_table('enforcement_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_cases_team_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_cases_parent_case_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_cases_group_id'))

    op.drop_table('enforcement_cases')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_case_events_verb_at')
        batch_op.drop_index(batch_op.f('ix_case_events_department_id'))
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_events_actor_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_sha256'))
        batch_op.drop_index(batch_op.f('ix_attachments_case_id'))

    op.drop_table('attachments')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_state'))
        batch_op.drop_index(batch_op.f('ix_cases_reporter_staff_id'))
        batch_op.drop_index(batch_op.f('ix_cases_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_cases_grid_code'))
        batch_op.drop_index(batch_op.f('ix_cases_external_id'))
        batch_op.drop_index('ix_cases_department_state')
        batch_op.drop_index('ix_cases_category_reported')

    op.drop_table('cases')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_outbox_id'))

    op.drop_table('deliveries')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending', postgresql_where=sa.text('delivered_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL'))

    op.drop_table('outbox')
    op.drop_table('enforcement_groups')
    op.drop_table('case_sequences')
