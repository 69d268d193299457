"""The change feed that offline sync pulls from (``sync_feed``).

Rows are written by database triggers (migration 0009), never by the application: every
INSERT or UPDATE of a case, an enforcement case or a stage clock (which moves its owner's
deadline; such rows carry no visibility values), whoever makes it (a request, the CLI, a
job, a hand-written SQL fix), adds one row in the same transaction. A row keeps the values
that decide who may see the item before and after the change (department or team, grid,
assignee, reporter, state), so a pull can tell a phone that an item LEFT its view without
ever naming an item the phone could never see.

Order: on PostgreSQL ``txid`` is the writing transaction's id (``pg_current_xact_id()``);
a pull's cursor is a snapshot (its ``xmax`` and the ids still in progress), so a
transaction that started earlier and commits later is still picked up by the next pull.
On SQLite (one writer at a time) ``txid`` is NULL and the row id is the commit order."""
from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.extensions import db

KINDS = ("case", "enforcement")


class SyncFeed(db.Model):
    __tablename__ = "sync_feed"
    __table_args__ = (Index("ix_sync_feed_txid_id", "txid", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    txid: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))          # case | enforcement
    entity_id: Mapped[int] = mapped_column(Integer)        # cases.id / enforcement_cases.id
    # before (NULL on insert) and after the change; for an enforcement case the department
    # is its team and the state its stage
    old_department_id: Mapped[int | None] = mapped_column(Integer)
    new_department_id: Mapped[int | None] = mapped_column(Integer)
    old_grid_code: Mapped[str | None] = mapped_column(String(64))
    new_grid_code: Mapped[str | None] = mapped_column(String(64))
    old_assignee_id: Mapped[int | None] = mapped_column(Integer)
    new_assignee_id: Mapped[int | None] = mapped_column(Integer)
    reporter_staff_id: Mapped[int | None] = mapped_column(Integer)
    old_state: Mapped[str | None] = mapped_column(String(24))
    new_state: Mapped[str | None] = mapped_column(String(24))


# Indexes the inbox (mobile_api.inbox) reads by, on dispatch's tables; created by migration
# 0009 with the feed. Declared here so that the models and the migrations still agree.
def _inbox_indexes():
    from sqlalchemy import text

    from dispatch.cases.models import Case
    from dispatch.clocks.models import StageClock
    from dispatch.enforcement.models import EnforcementCase, EnforcementOfficer

    running = text("ended_at IS NULL")
    # PostgreSQL: the clock's columns the inbox reads ride in the index (index-only lookups)
    clock_columns = ["due_at", "warn_at", "segment_started_at", "consumed", "amount"]
    return (
        Index("ix_cases_department_state_id", Case.department_id, Case.state, Case.id),
        Index("ix_cases_assignee_state", Case.assignee_id, Case.state, Case.id),
        Index("ix_cases_reporter_state", Case.reporter_staff_id, Case.state, Case.id),
        Index("ix_enforcement_cases_team_stage", EnforcementCase.team_id, EnforcementCase.stage, EnforcementCase.id),
        Index("ix_enforcement_officers_staff", EnforcementOfficer.staff_id),
        Index("ix_stage_clocks_running_case", StageClock.case_id, StageClock.id, postgresql_where=running,
              sqlite_where=running, postgresql_include=clock_columns),
        Index("ix_stage_clocks_running_enforcement", StageClock.enforcement_id, StageClock.id,
              postgresql_where=running, sqlite_where=running, postgresql_include=clock_columns),
    )


INBOX_INDEXES = _inbox_indexes()
