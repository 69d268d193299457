"""The indexes the case lists page by (migration 0016), declared here so that the models and
the migrations agree. Each serves one keyset order with one kind of filter, so a first or a
thousandth page is an ordered index range that stops after ``limit + 1`` rows
(``dispatch.workflow.queue``, ``dispatch.adapters.open311``; bench/bench_lists.py checks the
plans at 1,000,000 cases):

* queue ``sort=newest`` (``id`` descending): by department, grid, category, state, each
  ``(column, id)``; supervised cases ``(id) WHERE supervised``; cases with a running clock
  ``(id) WHERE clock_due_at IS NOT NULL`` (the light filter, its copy columns carried in the
  index on PostgreSQL so the light is tested without reading the row); a grid worker's own
  cases ``(reporter_staff_id, id)`` and ``(assignee_id, id)`` (each branch of what they see);
* queue ``sort=deadline``: ``(clock_due_at, id)`` (carrying the light copies),
  ``(department_id, clock_due_at, id)`` and ``(state, clock_due_at, id)``, all only over the
  cases with a running clock (a tenth of a city's cases or less); ``light=green`` in that sort
  is ordered by ``(clock_warn_at, id)`` (carrying the due time and paused light);
* Open311 ``requests`` (``reported_at`` then ``id``, newest first): ``(reported_at, id)``;
  the queue with a day filter (``reported_from``/``reported_to``) pages by it too, and reads
  the running cases of a range that ended long ago from ``(reported_at, id) WHERE
  clock_due_at IS NOT NULL`` (migration 0023, which also carries ``reported_at`` in the
  deadline index: a recent range is tested while the deadline order is walked).
"""
from __future__ import annotations

from sqlalchemy import Index

# name, columns, partial predicate (SQL, the same on both backends) or None
LIST_INDEXES = (
    ("ix_cases_list_department", ("department_id", "id"), None),
    ("ix_cases_list_grid", ("grid_code", "id"), None),
    ("ix_cases_list_category", ("category_code", "id"), None),
    ("ix_cases_list_state", ("state", "id"), None),
    ("ix_cases_list_supervised", ("id",), "supervised"),
    ("ix_cases_list_clocked", ("id",), "clock_due_at IS NOT NULL"),
    ("ix_cases_list_grid_clocked", ("grid_code", "id"), "clock_due_at IS NOT NULL"),  # migration 0021
    ("ix_cases_list_deadline", ("clock_due_at", "id"), "clock_due_at IS NOT NULL"),
    ("ix_cases_list_department_deadline", ("department_id", "clock_due_at", "id"), "clock_due_at IS NOT NULL"),
    ("ix_cases_list_state_deadline", ("state", "clock_due_at", "id"), "clock_due_at IS NOT NULL"),
    ("ix_cases_list_warning", ("clock_warn_at", "id"), "clock_warn_at IS NOT NULL"),
    ("ix_cases_list_reporter", ("reporter_staff_id", "id"), "reporter_staff_id IS NOT NULL"),
    ("ix_cases_list_assignee", ("assignee_id", "id"), "assignee_id IS NOT NULL"),
    ("ix_cases_list_reported", ("reported_at", "id"), None),
    ("ix_cases_list_clocked_reported", ("reported_at", "id"), "clock_due_at IS NOT NULL"),  # migration 0023
)
# carried on PostgreSQL: the light copies (the owner's running clock) and, in the open cases'
# deadline indexes, the filters' columns: a filtered page is read from the index alone (the
# queue selects ids first, then the cases by id)
FILTERS = ["department_id", "category_code", "channel", "grid_code", "supervised"]
LIGHT_INCLUDE = {"ix_cases_list_clocked": ["clock_due_at", "clock_warn_at", "clock_paused_light", "state", *FILTERS],
                  "ix_cases_list_grid_clocked": ["clock_due_at", "clock_warn_at", "clock_paused_light", "state",
                                                 *(f for f in FILTERS if f != "grid_code")],
                  "ix_cases_list_deadline": ["clock_warn_at", "clock_paused_light", "state", *FILTERS, "reported_at"],
                  "ix_cases_list_clocked_reported": ["clock_due_at", "clock_warn_at", "clock_paused_light", "state",
                                                     *FILTERS],
                  "ix_cases_list_state_deadline": ["clock_warn_at", "clock_paused_light", *FILTERS],
                  "ix_cases_list_state": ["clock_due_at", "clock_warn_at", "clock_paused_light", *FILTERS],
                  "ix_cases_list_warning": ["clock_due_at", "clock_paused_light"]}


def _indexes():
    from sqlalchemy import text

    from dispatch.cases.models import Case

    out = []
    for name, columns, where in LIST_INDEXES:
        partial = {} if where is None else {"postgresql_where": text(where), "sqlite_where": text(where)}
        out.append(Index(name, *(getattr(Case, c) for c in columns), **partial,
                         postgresql_include=LIGHT_INCLUDE.get(name, [])))
    return tuple(out)


CASE_LIST_INDEXES = _indexes()


# --- search (``q``, migration 0020) -------------------------------------------------------
# PostgreSQL only: trigram GIN indexes (pg_trgm) that answer ``ILIKE '%words%'`` and the
# phone's ``LIKE '%digits'`` from the index, whatever the table's size; the pattern needs 3
# characters to have a trigram (shorter ones are read within the other filters' ranges).
# SQLite (the embedded default) answers the same query with a plain LIKE over the rows. They
# are not model indexes (SQLite has no such kind): the migration makes them and
# tests/cli/test_models_migrations.py leaves them out of the comparison, by these names.
PHONE_SEPARATORS = (" ", "-", "(", ")", "+")  # what dispatch.intake.rules.PHONE_PATTERN allows besides digits


def phone_digits_sql(column: str = "reporter_phone") -> str:
    """The phone without its separators, in SQL both backends run (nested ``replace``)."""
    sql = column
    for separator in PHONE_SEPARATORS:
        sql = f"replace({sql}, '{separator}', '')"
    return sql


SEARCH_INDEXES = {
    # name: (columns or expression, operator class)
    "ix_cases_search_text": "title gin_trgm_ops, description gin_trgm_ops, address gin_trgm_ops",
    "ix_cases_search_phone": f"({phone_digits_sql()}) gin_trgm_ops",
}


def phone_digits(column):
    """:func:`phone_digits_sql` as an expression on ``column``, literals inline (not bound
    parameters) so that PostgreSQL matches it with the index's expression."""
    from sqlalchemy import func, literal_column

    expression = column
    for separator in PHONE_SEPARATORS:
        expression = func.replace(expression, literal_column(f"'{separator}'"), literal_column("''"))
    return expression
