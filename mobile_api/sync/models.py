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
On SQLite (one writer at a time) ``txid`` is NULL and the row id is the commit order
(AUTOINCREMENT since migration 0013: an id is never handed out twice, even after pruning).

Retention (migration 0013, ``mobile_api.sync.retention``): each row gets ``created_at`` from
its database default (the triggers name their columns, so they never set it); rows older
than ``WANGGE_SYNC_FEED_RETENTION_DAYS`` are deleted in batches, and ``sync_feed_horizon``
(one row) keeps the highest id and transaction id deleted, so a pull from a cursor older than
that is answered with a reset and a fresh snapshot instead of silently missing changes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.extensions import db
from wangge.timeutil import UTCDateTime

KINDS = ("case", "enforcement")


class SyncFeed(db.Model):
    __tablename__ = "sync_feed"
    __table_args__ = (
        Index("ix_sync_feed_txid_id", "txid", "id"),
        Index("ix_sync_feed_kind_entity", "kind", "entity_id"),  # mobile_api.push.history
        Index("ix_sync_feed_created_at", "created_at"),          # the retention's prune
        {"sqlite_autoincrement": True},
    )

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
    # set by the database (the triggers never name it): PostgreSQL the writing transaction's
    # start, SQLite the statement's time, both UTC
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=text("CURRENT_TIMESTAMP"))


class SyncFeedHorizon(db.Model):
    """One row (id 1): how far the feed has been pruned. ``pruned_id``: the highest feed row
    id deleted (SQLite's order); ``pruned_txid``: the highest transaction id of a deleted row
    (PostgreSQL's order, NULL until something was pruned there)."""
    __tablename__ = "sync_feed_horizon"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pruned_id: Mapped[int] = mapped_column(BigInteger)
    pruned_txid: Mapped[int | None] = mapped_column(BigInteger)
    pruned_rows: Mapped[int] = mapped_column(BigInteger)       # deleted since the feed began
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
