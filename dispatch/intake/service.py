"""Intake from every channel into one model.

A submission is idempotent by key: the same key returns the case it created before, so a
phone that retries on a flaky network never makes a second case. Keys live in the sender's
namespace (``staff:<id>``, ``public``, ``hotline``, ``open311:<account id>``): no sender can
reach a case another sender made, and a key sent again with a different body is refused
(409 ``idempotency_key_reused``) rather than answered with the old case. The point is converted to
WGS-84 and located in the grid current at that moment; the responsibility matrix suggests
the department and says why; a report near an open case of the same category is flagged as
a possible duplicate."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.attachments.service import check_attachable, link
from dispatch.cases.lifecycle import CITIZEN, OPEN_STATES, SYSTEM
from dispatch.cases.models import Case, CaseEvent
from dispatch.intake import fast, rules
from dispatch.intake.numbering import is_tracking_code_collision, next_number, tracking_code
from dispatch.intake.rules import KEY_MAX, KEY_MIN, Submission
from geo.area import bounding_box, distance_m
from geo.crs import convert_point, parse_crs
from grid import roles as R
from grid.catalog import reference
from grid.grids import locator
from grid.matrix import service as matrix
from grid.models import Staff
from grid.patrol.service import open_patrol_id
from wangge.auth import use_preferences
from wangge.config import current_settings
from wangge.errors import ApiError
from wangge.geometry import SRID
from wangge.instances import filled
from wangge.timeutil import utcnow

__all__ = ["KEY_MAX", "KEY_MIN", "Reporter", "Submission", "check", "client_key", "replay", "submit"]



def stored_key(sub: Submission) -> str | None:
    """The key as stored: the sender's namespace, then the client's key."""
    if sub.idempotency_key is None:
        return None
    if sub.sender is None:
        raise ValueError("an idempotency key needs the sender's namespace")
    return f"{sub.sender}:{sub.idempotency_key}"


def fingerprint(sub: Submission) -> str:
    """What the client sent, hashed: a retry has the same, another report under the same key not."""
    # ``Submission`` holds no nested dataclasses: its fields as they are (``asdict`` deep-copies)
    fields_ = {f.name: getattr(sub, f.name) for f in dataclass_fields(sub)
               if f.name not in ("idempotency_key", "sender")}
    if isinstance(fields_.get("reported_at"), datetime):
        fields_["reported_at"] = fields_["reported_at"].isoformat()
    raw = json.dumps(fields_, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def client_key(header: str | None, body_key: str | None) -> str | None:
    """A client's ``Idempotency-Key`` (header first, then the body field), 8 to 128
    printable characters (``rules.check_client_key``)."""
    key = header if header is not None else body_key
    problems = rules.check_client_key(key)
    if problems:
        raise rules.refusal({"idempotency_key": problems})
    return key


def _check_key(sub: Submission, names=None) -> None:
    problems = rules.check_key(sub.idempotency_key)  # a channel's key (an order number) may be short
    if problems:
        raise rules.refusal({"idempotency_key": problems}, names)


def _replay(session, sub: Submission, key: str) -> Case | None:
    existing = session.scalar(select(Case).where(Case.idempotency_key == key))
    if existing is not None and existing.idempotency_fingerprint not in (None, fingerprint(sub)):
        raise ApiError("idempotency_key_reused", status=409, key=sub.idempotency_key)
    return existing


def replay(session, sub: Submission, names: dict[str, str] | None = None) -> Case | None:
    """The case this submission's key created before, if any (409 if the body differs)."""
    _check_key(sub, names)
    key = stored_key(sub)
    return _replay(session, sub, key) if key else None


def check(session, sub: Submission, *, require=()) -> rules.Problems:
    """The rules of a valid report (``dispatch.intake.rules``), with this database's catalog
    (the process's cached catalog: ``grid.catalog.reference``)."""
    return rules.check(sub, category=lambda code: reference.category(session, code), now=utcnow(), require=require)


class Reporter:
    """The signed-in staff member as a report needs them, from the request's token (no staff
    SELECT): id and roles; ``name`` and ``department_id`` are filled in by the
    write that reads them (``fast``). Duck-types ``Staff`` for ``choose_role`` and
    ``allowed_verbs``."""

    __slots__ = ("id", "roles", "name", "department_id")

    def __init__(self, staff_id: int, roles):
        self.id, self.roles = staff_id, sorted(roles)
        self.name = self.department_id = None

    def has_role(self, *roles: str) -> bool:
        return not set(self.roles).isdisjoint(roles)


def _staff(session, reporter) -> Staff | None:
    """The ORM row of a ``Reporter`` (the embedded path and verbs need it)."""
    if reporter is None or isinstance(reporter, Staff):
        return reporter
    return session.get(Staff, reporter.id)


def submit(session, sub: Submission, *, reporter=None, role: str | None = None,
           names: dict[str, str] | None = None) -> tuple[Case, bool]:
    """Create the case, or return the one this idempotency key created before. A submission
    the rules refuse is a 422 ``validation_error`` under the channel's field ``names``
    (``rules`` field -> the name the channel's client sent). ``reporter``: a ``Staff`` or a
    ``Reporter`` (None: a citizen or a channel).

    PostgreSQL: one INSERT statement (``dispatch.intake.fast``). SQLite (the embedded
    default, one writer at a time): the ORM, in a savepoint."""
    if session.get_bind().dialect.name == "postgresql":
        return _submit_fast(session, sub, reporter, role, names)
    reporter = _staff(session, reporter)
    existing = replay(session, sub, names)
    if existing is not None:
        return existing, False
    problems = check(session, sub)
    if problems:
        raise rules.refusal(problems, names)

    check_attachable(session, reporter, sub.attachments)
    for _ in range(3):  # a taken tracking code: again with a new one
        try:
            with session.begin_nested():
                case = _create(session, sub, reporter, role)
        except IntegrityError as exc:
            # the same key committed by a concurrent retry: return that case
            existing = replay(session, sub, names)
            if existing is not None:
                return existing, False
            if not is_tracking_code_collision(exc):
                raise
            continue  # a random code already taken (numbering's docstring): again with a new one
        return case, True
    # three taken codes in a row: never seen at 50 bits, but a conflict to retry, not a 500
    raise ApiError("conflict", status=409, detail="tracking code")


class Placed(NamedTuple):
    """Where a report is and what follows from it, worked out from memory before the write."""

    lon: float | None
    lat: float | None
    crs: str | None
    grid: object | None           # locator.GridInfo
    area: str
    year: int
    reported_at: datetime
    explanation: object | None    # matrix.Explanation


def _place(session, sub: Submission, now: datetime) -> Placed:
    lon = lat = crs = None
    grid = None
    if sub.lon is not None:
        crs = parse_crs(sub.crs)
        lon, lat = convert_point(sub.lon, sub.lat, crs, "wgs84")
        grid = locator.locate_info(session, lon, lat)
    area = current_settings().area_code
    levels = locator.chain_info(session, grid) if grid is not None else []
    if levels:
        top = levels[0].code
        if len(top) >= 6 and top[:6].isdigit():
            area = top[:6]
    reported_at = sub.reported_at or now
    year = reported_at.astimezone(ZoneInfo(current_settings().timezone)).year  # the year where the case is
    explanation = matrix.explain(session, sub.category_code, grid, levels) if sub.category_code else None
    return Placed(lon, lat, crs, grid, area, year, reported_at, explanation)


def _submit_fast(session, sub: Submission, reporter, role: str | None, names) -> tuple[Case, bool]:
    _check_key(sub, names)
    key = stored_key(sub)
    problems = check(session, sub)
    if problems:
        existing = _replay(session, sub, key) if key else None  # a retry of what was accepted before
        if existing is not None:
            return existing, False
        raise rules.refusal(problems, names)
    if sub.attachments:
        try:
            check_attachable(session, reporter, sub.attachments)
        except ApiError:
            # a retry of an accepted report lists photos that report has used up: its case
            existing = _replay(session, sub, key) if key else None
            if existing is not None:
                return existing, False
            raise
    now = utcnow()
    placed = _place(session, sub, now)
    s = current_settings()
    patroller = reporter is not None and reporter.has_role(R.GRID_WORKER)  # only grid workers patrol
    data = {"grid_code": placed.grid.code if placed.grid else None, "crs": placed.crs}
    if placed.grid is None and placed.lon is not None:
        data["outside_all_grids"] = True
    explanation = placed.explanation
    department = explanation.department if explanation is not None else None
    params = {
        "prefix": f"{placed.area}{placed.year}", "pad_below": 10 ** NUMBER_WIDTH, "width": NUMBER_WIDTH,
        "channel": sub.channel, "external_id": sub.external_id, "idempotency_key": key,
        "fingerprint": fingerprint(sub) if key else None, "reporter_id": reporter.id if reporter else None,
        "reporter_name": sub.reporter_name, "reporter_phone": sub.reporter_phone, "title": sub.title,
        "description": sub.description.strip(), "address": sub.address, "lon": placed.lon, "lat": placed.lat,
        "original_lon": sub.lon, "original_lat": sub.lat, "original_crs": placed.crs,
        "grid_id": placed.grid.id if placed.grid else None, "grid_code": placed.grid.code if placed.grid else None,
        "category_code": sub.category_code, "suggested_department_id": department.id if department else None,
        "suggestion_reason": explanation.stored_reason() if explanation is not None else None,
        "patroller_id": reporter.id if patroller else None, "reported_at": placed.reported_at, "now": now,
        "actor_role": role or (CITIZEN if reporter is None else SYSTEM),
        "data": json.dumps(data, ensure_ascii=False), "attachment_ids": json.dumps(list(sub.attachments)),
    }
    duplicates = placed.lon is not None and bool(sub.category_code)
    if duplicates:
        min_lon, min_lat, max_lon, max_lat = bounding_box(placed.lon, placed.lat, s.duplicate_distance_m)
        params.update(dup_since=placed.reported_at - timedelta(hours=s.duplicate_hours), open_states=list(OPEN_STATES),
                      min_lon=min_lon, min_lat=min_lat, max_lon=max_lon, max_lat=max_lat,
                      radius=s.duplicate_distance_m)
    query = fast.statement(placed.lon is not None, duplicates)
    for _ in range(3):  # a taken tracking code: again with a new one (and a new number: a gap)
        params["sequence"] = fast.ensure_sequence(session, placed.area, placed.year)
        params["tracking_code"] = tracking_code()
        try:
            row = session.execute(query, params).first()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                fast.forget_sequences()  # a sequence dropped behind our back is looked up again next time
            raise
        if row is not None:
            break
        existing = _replay(session, sub, key) if key else None
        if existing is not None:  # the key's case, committed before or by a request we waited for
            return existing, False
    else:
        raise ApiError("conflict", status=409, detail="tracking code")
    if reporter is not None and not isinstance(reporter, Staff):
        reporter.name, reporter.department_id = row.staff_name, row.staff_department_id
        use_preferences(row.staff_language, row.staff_timezone)
    if row.duplicate_number is not None:
        data["possible_duplicate_of"] = row.duplicate_number
    case = filled(Case, id=row.id, number=row.number, tracking_code=params["tracking_code"], channel=sub.channel,
                external_id=sub.external_id, idempotency_key=key, idempotency_fingerprint=params["fingerprint"],
                reporter_staff_id=params["reporter_id"], reporter_name=row.reporter_name,
                reporter_phone=row.reporter_phone, title=sub.title, description=params["description"],
                address=sub.address, media_url=None, lon=placed.lon, lat=placed.lat, original_lon=sub.lon, original_lat=sub.lat,
                original_crs=placed.crs, grid_id=params["grid_id"], grid_code=params["grid_code"],
                category_code=sub.category_code, department_id=None,
                suggested_department_id=params["suggested_department_id"],
                suggestion_reason=params["suggestion_reason"], state="reported", resume_state=None,
                assignee_id=None, merged_into_id=None, duplicate_of_id=row.duplicate_of_id, rating=None,
                patrol_id=row.patrol_id, supervised=False, review_date=None, reported_at=placed.reported_at,
                updated_at=now, closed_at=None, version=1, clock_due_at=None, clock_warn_at=None,
                clock_paused_light=None)
    event = filled(CaseEvent, id=row.event_id, case_id=row.id, verb="submit", actor_id=params["reporter_id"],
                      actor_role=params["actor_role"], at=now, from_state=None, to_state="reported",
                      department_id=None, note=None, data=data, attachment_ids=list(sub.attachments))
    _as_loaded(session, case, event)
    case.intake = Created(event, row.duplicate_number, department, row.staff_name)
    if sub.attachments:
        link(session, case, event, sub.attachments)  # case, event, kind and photo flags
    return case, True


NUMBER_WIDTH = 6  # numbering.format_number's default


class Created(NamedTuple):
    """What the write of a new case knows beyond its columns, for an answer built from memory
    (``dispatch.intake.answer``): the event, the duplicate's number, the suggested department
    (a cached record) and the reporting staff member's name."""

    event: CaseEvent
    duplicate_number: str | None
    suggested_department: object | None
    staff_name: str | None


def _as_loaded(session, case: Case, event: CaseEvent) -> None:
    """Put the just-written case into the session as if read from the database: persistent,
    nothing pending; its relationships load on first use, as after a query (``events`` too:
    a verb later in the request, self-handling, adds to them). The event stays detached: only
    its values are used (the answer, photo links)."""
    make_transient_to_detached(event)
    make_transient_to_detached(case)
    set_committed_value(case, "department", None)
    session.add(case)


def _create(session, sub: Submission, reporter: Staff | None, role: str | None) -> Case:
    """The embedded path (SQLite): the ORM's unit of work, in the caller's savepoint."""
    now = utcnow()
    placed = _place(session, sub, now)
    lon, lat, grid = placed.lon, placed.lat, placed.grid
    case = Case(number=next_number(session, placed.area, placed.year), tracking_code=tracking_code(),
                channel=sub.channel, external_id=sub.external_id, idempotency_key=stored_key(sub),
                idempotency_fingerprint=fingerprint(sub) if sub.idempotency_key else None,
                reporter_staff_id=reporter.id if reporter else None,
                reporter_name=sub.reporter_name or (reporter.name if reporter else None),
                reporter_phone=sub.reporter_phone or (reporter.phone if reporter else None),
                title=sub.title, description=sub.description.strip(), address=sub.address,
                location=Point(lon, lat) if lon is not None else None, lon=lon, lat=lat,
                original_lon=sub.lon, original_lat=sub.lat, original_crs=placed.crs,
                grid_id=grid.id if grid else None, grid_code=grid.code if grid else None,
                category_code=sub.category_code, state="reported", reported_at=placed.reported_at)
    patroller = reporter is not None and reporter.has_role(R.GRID_WORKER)  # only grid workers patrol
    case.patrol_id = open_patrol_id(session, reporter.id if patroller else None)  # made during a patrol
    if placed.explanation is not None:
        if placed.explanation.department is not None:
            case.suggested_department_id = placed.explanation.department.id
        case.suggestion_reason = placed.explanation.stored_reason()  # data: put into words per reader
    duplicate = find_duplicate(session, case)
    if duplicate is not None:
        case.duplicate_of_id = duplicate.id
    session.add(case)
    session.flush()
    data = {"grid_code": case.grid_code, "crs": case.original_crs}
    if duplicate is not None:
        data["possible_duplicate_of"] = duplicate.number
    if grid is None and lon is not None:
        data["outside_all_grids"] = True
    event = CaseEvent(case_id=case.id, verb="submit", actor_id=reporter.id if reporter else None,
                      actor_role=role or (CITIZEN if reporter is None else SYSTEM), at=now, from_state=None,
                      to_state="reported", note=None, data=data, attachment_ids=list(sub.attachments))
    session.add(event)
    link(session, case, event, sub.attachments)  # case, event, kind and photo flags
    session.flush()
    return case


class Duplicate(NamedTuple):
    """The earlier case a report is flagged against: its id (``duplicate_of_id``) and number."""

    id: int
    number: str


SQLITE_CANDIDATES = 64  # the nearest few in the box by a flat approximation, then exactly


def find_duplicate(session, case: Case) -> Duplicate | None:
    """The nearest open case of the same category within the configured geodesic distance,
    reported within the configured hours (ties: the lower id). One query of two columns.

    PostgreSQL: the GiST index on ``cases.location`` (``ix_cases_location``, migration 0002)
    finds the cases in the bounding box (``&&``, geo.area.bounding_box: never too small),
    ``ST_DWithin`` on geography (WGS-84 spheroid) keeps those within the distance, nearest
    first, ``LIMIT 1``. SQLite: the same box on ``lon``/``lat``, the ``SQLITE_CANDIDATES``
    nearest by a flat approximation, then the geodesic distance (geo.area.distance_m) here."""
    if case.lon is None or case.lat is None or not case.category_code:
        return None
    s = current_settings()
    radius, since = s.duplicate_distance_m, case.reported_at - timedelta(hours=s.duplicate_hours)
    min_lon, min_lat, max_lon, max_lat = bounding_box(case.lon, case.lat, radius)
    where = [Case.category_code == case.category_code, Case.reported_at >= since,
             Case.state.in_(OPEN_STATES)]
    if case.id is not None:
        where.append(Case.id != case.id)
    if session.get_bind().dialect.name == "postgresql":
        point = func.ST_SetSRID(func.ST_MakePoint(case.lon, case.lat), SRID)
        here, there = func.geography(point), func.geography(Case.location)
        row = session.execute(
            select(Case.id, Case.number)
            .where(*where, Case.location.op("&&")(func.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, SRID)),
                   func.ST_DWithin(there, here, radius))
            .order_by(func.ST_Distance(there, here), Case.id).limit(1)).first()
        return Duplicate(row.id, row.number) if row is not None else None
    k = math.cos(math.radians(case.lat)) ** 2  # flat metric: east-west degrees are shorter
    flat = (Case.lon - case.lon) * (Case.lon - case.lon) * k + (Case.lat - case.lat) * (Case.lat - case.lat)
    rows = session.execute(
        select(Case.id, Case.number, Case.lon, Case.lat)
        .where(*where, Case.lon.between(min_lon, max_lon), Case.lat.between(min_lat, max_lat))
        .order_by(flat, Case.id).limit(SQLITE_CANDIDATES)).all()
    near = [(d, r.id, r.number) for r in rows if (d := distance_m(case.lon, case.lat, r.lon, r.lat)) <= radius]
    if not near:
        return None
    _d, id_, number = min(near)
    return Duplicate(id_, number)
