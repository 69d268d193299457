"""The intake's write on PostgreSQL: one statement makes the case and its ``submit`` event.

Why plain SQL rather than the ORM's unit of work: a report through the ORM took 21
statements (issue 10): a SELECT of the key, a SAVEPOINT, a SELECT per grid level with its
polygon, the category twice, the rules, the sequence, the open patrol, the duplicate search,
two INSERTs, a RELEASE, and the answer's re-reads. Here everything that does not change
per report comes from the process's caches (grid index and chain: ``grid.grids.locator``;
catalog, matrix, departments: ``grid.catalog.reference``), and what must be read at the
moment of the write is read by the write itself, as sub-queries of one INSERT:

* the number: ``nextval`` of the (area, year) sequence (``numbering``), formatted in SQL,
  taken only when the key is not there already (a retry uses no number; the row it would
  make conflicts on the key, so its stand-in number is never stored);
* the duplicate: the nearest open case of the category within the distance (the same rule
  as ``service.find_duplicate``: ``&&`` on the GiST index, ``ST_DWithin`` on geography);
* the reporter's open patrol (grid workers only), the staff member's name, phone,
  department, language and time zone (the answer needs them; no separate staff SELECT);
* idempotency: ``ON CONFLICT DO NOTHING``. No row back means a unique index refused the
  row: the same key committed before (or by a concurrent request, which the INSERT waited
  for), answered by the caller's SELECT of that key; otherwise the random tracking code was
  taken and the caller tries again with a new one (no savepoint needed: nothing failed);
* the event: a second INSERT in a data-modifying CTE from the case's RETURNING.

The caller turns the returned row into ``Case`` and ``CaseEvent`` objects that the session
holds as loaded (persistent, nothing to flush): later ORM work in the request (a photo
link, self-handling, Open311's ``media_url``) works on them as on rows it had read."""
from __future__ import annotations

import threading
from functools import cache

from sqlalchemy import Integer, String, column, text

from dispatch.intake.numbering import create_sequence, sequence_name
from wangge.geometry import SRID

_known: dict[tuple[str, str], int] = {}   # (database URL, sequence name) -> its oid
_known_lock = threading.Lock()

_DUPLICATE = """
dup AS (
    SELECT id, number FROM cases
     WHERE category_code = :category_code AND reported_at >= :dup_since AND state = ANY(:open_states)
       AND location && ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, {srid})
       AND ST_DWithin(geography(location), geography(ST_SetSRID(ST_MakePoint(:lon, :lat), {srid})), :radius)
     ORDER BY ST_Distance(geography(location), geography(ST_SetSRID(ST_MakePoint(:lon, :lat), {srid}))), id
     LIMIT 1
),"""

_STATEMENT = """
WITH {duplicate}
seq AS (SELECT nextval(CAST(CAST(:sequence AS oid) AS regclass)) AS n
         WHERE NOT EXISTS (SELECT 1 FROM cases WHERE idempotency_key = CAST(:idempotency_key AS varchar))),
reporter AS (SELECT name, phone, department_id, language, timezone FROM staff WHERE id = :reporter_id),
new AS (
    INSERT INTO cases (number, tracking_code, channel, external_id, idempotency_key, idempotency_fingerprint,
                       reporter_staff_id, reporter_name, reporter_phone, title, description, address, location,
                       lon, lat, original_lon, original_lat, original_crs, grid_id, grid_code, category_code,
                       suggested_department_id, suggestion_reason, state, duplicate_of_id, patrol_id, supervised,
                       reported_at, updated_at, version)
    VALUES (COALESCE((SELECT :prefix || CASE WHEN n < :pad_below THEN lpad(CAST(n AS text), :width, '0')
                                             ELSE CAST(n AS text) END FROM seq), 'key taken'),
            :tracking_code, :channel, :external_id, :idempotency_key, :fingerprint,
            :reporter_id, COALESCE(:reporter_name, (SELECT name FROM reporter)),
            COALESCE(:reporter_phone, (SELECT phone FROM reporter)), :title, :description, :address, {location},
            :lon, :lat, :original_lon, :original_lat, :original_crs, :grid_id, :grid_code, :category_code,
            :suggested_department_id, :suggestion_reason, 'reported', {duplicate_id},
            (SELECT id FROM patrols WHERE staff_id = :patroller_id AND ended_at IS NULL LIMIT 1), false,
            :reported_at, :now, 1)
    ON CONFLICT DO NOTHING
    RETURNING id, number, reporter_name, reporter_phone, duplicate_of_id, patrol_id
),
ev AS (
    INSERT INTO case_events (case_id, verb, actor_id, actor_role, at, from_state, to_state, department_id, note,
                             data, attachment_ids)
    SELECT new.id, 'submit', CAST(:reporter_id AS integer), CAST(:actor_role AS varchar), CAST(:now AS timestamptz),
           NULL, 'reported', NULL, NULL, {data}, CAST(:attachment_ids AS json)
      FROM new
    RETURNING id
)
SELECT new.id, new.number, new.reporter_name, new.reporter_phone, new.duplicate_of_id, new.patrol_id,
       {duplicate_number} AS duplicate_number, (SELECT id FROM ev) AS event_id,
       (SELECT name FROM reporter) AS staff_name, (SELECT department_id FROM reporter) AS staff_department_id,
       (SELECT language FROM reporter) AS staff_language, (SELECT timezone FROM reporter) AS staff_timezone
  FROM new
"""


@cache
def statement(located: bool, duplicates: bool):
    """The INSERT for a report with or without a point, searching duplicates or not."""
    location = f"ST_SetSRID(ST_MakePoint(:lon, :lat), {SRID})" if located else "NULL"
    if duplicates:
        data = ("CASE WHEN (SELECT number FROM dup) IS NULL THEN CAST(:data AS json) ELSE "
                "CAST(CAST(:data AS jsonb) || jsonb_build_object('possible_duplicate_of', (SELECT number FROM dup)) "
                "AS json) END")
        sql = _STATEMENT.format(duplicate=_DUPLICATE.format(srid=SRID), location=location,
                                duplicate_id="(SELECT id FROM dup)", data=data,
                                duplicate_number="(SELECT number FROM dup)")
    else:
        sql = _STATEMENT.format(duplicate="", location=location, duplicate_id="NULL", data="CAST(:data AS json)",
                                duplicate_number="CAST(NULL AS varchar)")
    # the answer's columns declared positionally, in order: SQLAlchemy then matches them to the
    # cursor's by position (declared by keyword, it matched each by name on every report: a
    # twentieth of a report's CPU, bench/profile_verbs.py)
    return text(sql).columns(*(column(name, type_) for name, type_ in ANSWER_COLUMNS))


ANSWER_COLUMNS = (("id", Integer), ("number", String), ("reporter_name", String), ("reporter_phone", String),
                  ("duplicate_of_id", Integer), ("patrol_id", Integer), ("duplicate_number", String),
                  ("event_id", Integer), ("staff_name", String), ("staff_department_id", Integer),
                  ("staff_language", String), ("staff_timezone", String))


def ensure_sequence(session, area: str, year: int) -> int:
    """The oid of the (area, year) sequence, made if missing. Looked up once per process:
    later reports use it inside their INSERT without asking. By oid, not by name: a name
    missing earlier in this transaction stays missing to it even once made (the numbering
    module's note)."""
    name = sequence_name(area, year)
    engine = session.get_bind().engine
    key = (str(engine.url), name)
    oid = _known.get(key)
    if oid is None:
        oid = session.execute(text("SELECT CAST(to_regclass(:name) AS oid)"), {"name": name}).scalar()
        if oid is None:
            oid = create_sequence(engine, area, year)
        with _known_lock:
            _known[key] = oid
    return oid


def forget_sequences() -> None:
    """Forget which sequences exist (after a failed insert, or a test that drops them)."""
    with _known_lock:
        _known.clear()
