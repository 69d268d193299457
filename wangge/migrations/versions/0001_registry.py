"""Registry: grids, departments, staff, tokens, catalog, matrix, limits, calendar.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 06:21:34.629812

"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa

import wangge.geometry
import wangge.timeutil


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('categories',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=True),
    sa.Column('auto_dispatch', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('component','event')", name=op.f('ck_categories_kind')),
    sa.ForeignKeyConstraint(['parent_code'], ['categories.code'], name=op.f('fk_categories_parent_code_categories')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_categories'))
    )
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_categories_parent_code'), ['parent_code'], unique=False)

    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('grid_code', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('functional','street_office','enforcement_team','dispatch_center')", name=op.f('ck_departments_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    op.create_table('grids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('geom', wangge.geometry.Geometry(), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('valid_from', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.CheckConstraint("level IN ('district','street','community','grid')", name=op.f('ck_grids_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grids'))
    )
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grids_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_grids_parent_code'), ['parent_code'], unique=False)
        batch_op.create_index('uq_grids_current_code', ['code'], unique=True, postgresql_where=sa.text('valid_to IS NULL'), sqlite_where=sa.text('valid_to IS NULL'))
    if postgres:
        op.create_index('ix_grids_geom', 'grids', ['geom'], postgresql_using='gist')

    op.create_table('layer_versions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('changed_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_layer_versions'))
    )
    op.bulk_insert(sa.table('layer_versions', sa.column('name', sa.String), sa.column('version', sa.String),
                            sa.column('changed_at', wangge.timeutil.UTCDateTime())),
                   [{'name': 'grids', 'version': 'initial', 'changed_at': datetime.now(UTC)}])
    op.create_table('time_limits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.CheckConstraint("unit IN ('urgent_hours','work_hours','work_days','calendar_days')", name=op.f('ck_time_limits_unit')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_time_limits_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_limits')),
    sa.UniqueConstraint('category_code', 'stage', name='uq_time_limit')
    )
    op.create_table('responsibilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('grid_code', sa.String(length=64), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['category_code'], ['categories.code'], name=op.f('fk_responsibilities_category_code_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_responsibilities_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibilities')),
    sa.UniqueConstraint('category_code', 'grid_code', name='uq_responsibility')
    )
    with op.batch_alter_table('responsibilities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responsibilities_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responsibilities_grid_code'), ['grid_code'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_staff_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_department_id'), ['department_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=100), nullable=True),
    sa.Column('created_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_api_tokens_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_staff_id'), ['staff_id'], unique=False)

    op.create_table('grid_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=64), nullable=False),
    sa.Column('valid_from', wangge.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', wangge.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_grid_assignments_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_assignments'))
    )
    with op.batch_alter_table('grid_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_grid_assignments_grid_code_valid', ['grid_code', 'valid_to'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_assignments_staff_id'), ['staff_id'], unique=False)

    op.create_table('staff_roles',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_roles_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'role', name=op.f('pk_staff_roles'))
    )


def downgrade():
    op.drop_table('staff_roles')
    with op.batch_alter_table('grid_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_assignments_staff_id'))
        batch_op.drop_index('ix_grid_assignments_grid_code_valid')

    op.drop_table('grid_assignments')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_staff_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_department_id'))

    op.drop_table('staff')
    with op.batch_alter_table('responsibilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responsibilities_grid_code'))
        batch_op.drop_index(batch_op.f('ix_responsibilities_department_id'))

    op.drop_table('responsibilities')
    op.drop_table('time_limits')
    op.drop_table('layer_versions')
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.drop_index('uq_grids_current_code', postgresql_where=sa.text('valid_to IS NULL'), sqlite_where=sa.text('valid_to IS NULL'))
        batch_op.drop_index(batch_op.f('ix_grids_parent_code'))
        batch_op.drop_index(batch_op.f('ix_grids_code'))

    op.drop_table('grids')
    op.drop_table('departments')
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_categories_parent_code'))

    op.drop_table('categories')
    op.drop_table('calendar_days')
