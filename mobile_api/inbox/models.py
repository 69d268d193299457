"""The indexes the inbox reads its pages and counts from (migration 0012), declared here so
that the models and the migrations still agree.

Each branch of the inbox (handler: my department's cases in the handler's states; grid
worker: the verify / check tasks assigned to me and my own reports waiting at the desk;
enforcement: my team's cases in the leader's or the officer's stages) has a partial index
on (scope key, the owner's copy of the running clock's due time, id), so its page is an
ordered index scan that stops after ``limit + 1`` rows, however long the inbox is. On
PostgreSQL the rest of the light (warn time, a paused clock's frozen light) rides in the
index, so the counts per light are index-only scans that never touch ``stage_clocks``.

The state lists are copies of what ``mobile_api.inbox.service`` derives from the lifecycle
tables (a partial index needs literal values; tests/mobile/test_inbox_deadlines.py fails
when the copies and the lifecycle disagree, and the predicates in the database with them).
"""
from __future__ import annotations

from sqlalchemy import Index

HANDLER_STATES = ("dispatched", "handling", "opened")
ASSIGNEE_STATES = ("checking", "verifying")
REPORTER_STATES = ("reported",)
LEADER_STAGES = ("accept", "close")
OFFICER_STAGES = ("investigate", "decide", "execute")

# scope key column, index name, states (case state or enforcement stage)
CASE_BRANCHES = {
    "handler": ("department_id", "ix_cases_inbox_department", HANDLER_STATES),
    "assignee": ("assignee_id", "ix_cases_inbox_assignee", ASSIGNEE_STATES),
    "reporter": ("reporter_staff_id", "ix_cases_inbox_reporter", REPORTER_STATES),
}
ENFORCEMENT_BRANCHES = {
    "leader": ("team_id", "ix_enforcement_cases_inbox_leader", LEADER_STAGES),
    "officer": ("team_id", "ix_enforcement_cases_inbox_officer", OFFICER_STAGES),
}
# the rest of the light, carried in the index on PostgreSQL (index-only counts)
LIGHT_COLUMNS = ["clock_warn_at", "clock_paused_light"]


def _indexes():
    from dispatch.cases.models import Case
    from dispatch.enforcement.models import EnforcementCase

    out = []
    for model, state, branches in ((Case, Case.state, CASE_BRANCHES),
                                   (EnforcementCase, EnforcementCase.stage, ENFORCEMENT_BRANCHES)):
        for key, name, states in branches.values():
            where = state.in_(states)
            out.append(Index(name, getattr(model, key), model.clock_due_at, model.id, postgresql_where=where,
                             sqlite_where=where, postgresql_include=LIGHT_COLUMNS))
    return tuple(out)


INBOX_DEADLINE_INDEXES = _indexes()
