"""Case queue search (issue 9): pg_trgm and the trigram GIN indexes of ``q`` on PostgreSQL.

``GET /api/v1/cases?q=`` matches words of the title, description and address with
``ILIKE '%words%'`` and the reporter's phone (separators dropped) with ``LIKE '%digits'``; a
trigram GIN index answers either from the index at any table size (see
dispatch/cases/list_indexes.py, ``SEARCH_INDEXES``, the same names and definitions).
Built ``CONCURRENTLY`` (outside the migration's transaction) so a city's queue keeps working
while a big table is indexed. SQLite (the embedded default) needs nothing: a plain LIKE.

Chained after 0018 on its branch; the lead re-chains it after 0019 at merge.

Revision ID: 0020
Revises: 0018
Create Date: 2026-11-27 04:00:00

"""
from alembic import op

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None

PHONE = ("replace(replace(replace(replace(replace(reporter_phone, ' ', ''), '-', ''), '(', ''), ')', ''), "
         "'+', '')")
# name, index body; the copy in dispatch/cases/list_indexes.py (SEARCH_INDEXES)
INDEXES = (
    ("ix_cases_search_text", "title gin_trgm_ops, description gin_trgm_ops, address gin_trgm_ops"),
    ("ix_cases_search_phone", f"({PHONE}) gin_trgm_ops"),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.get_context().autocommit_block():
        for name, body in INDEXES:
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON cases USING gin ({body})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        for name, _body in reversed(INDEXES):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
