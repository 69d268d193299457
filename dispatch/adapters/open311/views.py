"""Open311 GeoReport v2 (docs/domain.md §7; docs/open311.md), so existing 311 apps can report here.

Endpoints under ``/open311/v2``, each as ``.json`` or ``.xml``: discovery, services,
services/{code} (definition), POST requests (``api_key`` of a service account holding the
intake_clerk role), GET requests (filters), requests/{id}. ``service_request_id`` is the
case number; ``service_code`` is a small-class category code. Errors are a list of
``{code, description}`` with HTTP 400/403/404/409, as the spec says.

The reads are anonymous, so a request shows only what the public tracking page shows: no
reporter data and, as ``status_notes``, only the public answer (never an internal note)."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree as ET

from flask import Response, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint
from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import lazyload
from werkzeug.exceptions import HTTPException

from dispatch.adapters.open311.schemas import (
    DiscoverySchema,
    ServiceDefinitionSchema,
    ServiceRequestReceiptSchema,
    ServiceRequestSchema,
    ServiceSchema,
)
from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.deadlines import handling_deadlines
from dispatch.intake import rules
from dispatch.intake import service as intake
from dispatch.workflow.presenters import PUBLIC_NOTES
from grid import roles as R
from grid.accounts.service import resolve_token
from grid.matrix.service import reason_text
from grid.models import Category
from wangge import pagination
from wangge.auth import public
from wangge.config import current_settings
from wangge.errors import ApiError
from wangge.extensions import db, limiter
from wangge.i18n import t
from wangge.input_guard import reads_own_query
from wangge.present import local_iso
from wangge.replica import reads_replica
from wangge.timeutil import utcnow

blp = Blueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2 (JSON and XML) for third-party 311 apps")


def _rate_limit() -> str:
    return current_settings().open311_rate_limit


# Every Open311 request counts against its address (reads are public, case numbers sequential).
limiter.limit(_rate_limit, key_func=get_remote_address)(blp)

CLOSED = {"closed", "rejected", "voided"}
# A rating comment is the reporter's own words, not the city's answer: the other public notes are.
ANSWER_VERBS = sorted(PUBLIC_NOTES - {"rate"})
# How list elements are named in XML, as in the spec's examples.
XML_ITEM = {"services": "service", "service_requests": "request", "errors": "error", "endpoints": "endpoint",
            "formats": "format", "attributes": "attribute", "values": "value"}
PAGE_SIZE_MAX = 200          # requests per page (the spec's default of 1000 is too much for one answer)
PAGE_MAX = 10_000
WINDOW = timedelta(days=90)  # the spec's default and widest date range
OLDEST, NEWEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
NUMBER_MAX = 32              # cases.number
# The text fields of a POST. What makes a valid report is dispatch.intake.rules (the same for
# every channel); the limits here are of the fields only Open311 has (or that are read before
# the report: the api_key, the service code looked up for the default description).
TEXT_FIELDS = ("description", "address_string", "address_id", "first_name", "last_name", "phone", "account_id",
               "media_url", "service_code", "crs", "email", "device_id", "request_key", "api_key", "jurisdiction_id")
FIELD_MAX = {"address_id": rules.ADDRESS_MAX, "first_name": rules.NAME_MAX, "last_name": rules.NAME_MAX,
             "media_url": 2048, "service_code": rules.CATEGORY_CODE_MAX, "email": 254, "device_id": 64,
             "request_key": 64, "api_key": 200, "jurisdiction_id": 64}
# A rule's field (dispatch.intake.rules) -> the Open311 name the client sent: only renamed here.
OPEN311_NAME = {"description": "description", "lon": "long", "lat": "lat", "address": "address_string",
                "reporter_name": "first_name/last_name", "reporter_phone": "phone", "external_id": "account_id",
                "category_code": "service_code", "crs": "crs", "idempotency_key": "Idempotency-Key"}
# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF).
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
DIGITS = re.compile(r"[0-9]{1,9}")


# Open311 answers errors as a list of {code, description} (JSON) or <errors> (XML); a method
# the path does not have (405) is answered by the application in its own error format.
_OPEN311_ERROR_LIST = {"type": "array", "items": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}
_ERRORS_DOC = {"description": "Open311 error list", "content": {
    "application/json": {"schema": {"anyOf": [_OPEN311_ERROR_LIST, {"$ref": "#/components/schemas/Error"}]}},
    "text/xml": {"schema": {"type": "string"}}}}
open311_errors = blp.doc(responses={"4XX": _ERRORS_DOC, "5XX": _ERRORS_DOC})


def answers(schema, status: int = 200, description: str | None = None, *, also: int | None = None):
    """Document a success answer: JSON by ``schema``, or the same elements as XML (``.xml``);
    ``also``: a second success status with the same body (200 for a replayed POST)."""
    def decorator(view):
        view = blp.alt_response(status, schema=_XML_DOC, content_type="text/xml", success=True)(view)
        if also is not None:
            view = blp.alt_response(also, schema=schema, description=f"{description} (sent before)", success=True)(view)
        return blp.response(status, schema, description=description)(view)
    return decorator


_XML_DOC = {"type": "string", "description": "The same answer as XML (path ending .xml)"}


class Open311Error(Exception):
    """One or more problems, answered as the spec's error list (one entry each)."""

    def __init__(self, status: int, description: str, code: int | None = None, *, more: tuple[str, ...] = ()):
        self.status, self.description, self.code = status, description, code or status
        self.descriptions = [description, *more]


def bad(field: str, message_key: str, status: int = 400, **params) -> Open311Error:
    return Open311Error(status, t(message_key, field=field, **params))


# --- formats -----------------------------------------------------------------------------

def xml_text(value) -> str:
    return NOT_XML.sub("", str(value).lower() if isinstance(value, bool) else str(value))


def _fill(el, value) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _fill(ET.SubElement(el, key), sub)
    elif isinstance(value, list):
        item = XML_ITEM.get(el.tag, "item")
        for entry in value:
            _fill(ET.SubElement(el, item), entry)
    elif value is not None:
        el.text = xml_text(value)


def to_xml(tag: str, data) -> bytes:
    """``data`` as the spec's XML: a list becomes ``<tag><item-tag>…``, an object fills ``<tag>``."""
    root = ET.Element(tag)
    _fill(root, data)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="utf-8")


def answer(fmt: str, tag: str, data, status: int = 200):
    if fmt == "xml":
        return Response(to_xml(tag, data), status=status, mimetype="text/xml")
    return jsonify(data), status


def _format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise bad("format", "open311_unknown_format", 404, value=fmt[:20])
    return fmt


@blp.errorhandler(Open311Error)
def _open311_error(err: Open311Error):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return answer(fmt, "errors", [{"code": err.code, "description": d} for d in err.descriptions], err.status)


@blp.errorhandler(ApiError)
def _api_error(err: ApiError):
    detail = err.message
    if err.fields:
        detail += " " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in err.fields.items())
    status = err.status if err.status in (403, 404, 409, 413, 429, 503) else 400
    return _open311_error(Open311Error(status, detail))


@blp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    status = err.code if err.code in (403, 404, 405, 409, 413, 429) else 400
    return _open311_error(Open311Error(status, err.description or err.name))


@blp.before_request
def _no_nul_in_query():
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise bad(name.replace("\x00", ""), "open311_nul")


# --- services ----------------------------------------------------------------------------

def service_view(c: Category, groups: dict) -> dict:
    return {"service_code": c.code, "service_name": c.name_zh, "description": c.name_en,
            "metadata": False, "type": "realtime", "keywords": c.name_en,
            "group": groups.get(c.parent_code)}


@blp.route("/discovery.<fmt>")
@public
@reads_own_query
@open311_errors
@answers(DiscoverySchema, description="Where this endpoint lives and what it speaks")
def discovery(fmt):
    """Where this endpoint lives and what it speaks."""
    fmt = _format(fmt)
    base = request.host_url.rstrip("/") + "/open311/v2/"
    data = {"changeset": "2026-11-22T00:00:00+08:00", "contact": current_app.config["API_TITLE"],
            "key_service": "ask the dispatch center for an api_key",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                           "changeset": "2026-11-22T00:00:00+08:00", "type": "production",
                           "formats": ["application/json", "text/xml"]}]}
    return answer(fmt, "discovery", data)


@blp.route("/services.<fmt>")
@public
@reads_replica
@reads_own_query
@open311_errors
@answers(ServiceSchema(many=True), description="Service types")
def services(fmt):
    """Service types: the small classes of the category catalog."""
    fmt = _format(fmt)
    cats = db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    groups = {c.code: c.name_zh for c in cats if c.parent_code is None}
    return answer(fmt, "services", [service_view(c, groups) for c in cats if c.parent_code is not None])


@blp.route("/services/<code>.<fmt>")
@public
@reads_replica
@reads_own_query
@open311_errors
@answers(ServiceDefinitionSchema, description="Service definition")
def service_definition(code, fmt):
    """Service definition; this catalog has no extra attributes."""
    fmt = _format(fmt)
    category = db.session.get(Category, code) if len(code) <= FIELD_MAX["service_code"] else None
    if category is None or category.parent_code is None:
        raise bad("service_code", "open311_no_service", 404, value=code[:40])
    return answer(fmt, "service_definition", {"service_code": code, "attributes": []})


# --- requests as the public sees them ----------------------------------------------------

def _root_masters(cases: list[Case]) -> dict[int, Case]:
    """Every case these cases were merged into, nested merges followed: one query per level."""
    known: dict[int, Case] = {c.id: c for c in cases}
    wanted = {c.merged_into_id for c in cases if c.merged_into_id} - known.keys()
    while wanted:
        found = db.session.scalars(select(Case).where(Case.id.in_(wanted))).all()
        known.update({c.id: c for c in found})
        wanted = {c.merged_into_id for c in found if c.merged_into_id} - known.keys()
    return known


def _master_of(case: Case, known: dict[int, Case]) -> Case | None:
    master, seen = None, {case.id}
    while case.merged_into_id and case.merged_into_id in known and case.merged_into_id not in seen:
        master = case = known[case.merged_into_id]
        seen.add(case.id)
    return master


def _public_answers(case_ids: set[int]) -> dict[int, str]:
    """The latest public answer of each case (one query)."""
    if not case_ids:
        return {}
    latest = (select(func.max(CaseEvent.id))
              .where(CaseEvent.case_id.in_(case_ids), CaseEvent.verb.in_(ANSWER_VERBS), CaseEvent.note.is_not(None))
              .group_by(CaseEvent.case_id))
    rows = db.session.execute(select(CaseEvent.case_id, CaseEvent.note).where(CaseEvent.id.in_(latest)))
    return {case_id: note for case_id, note in rows}


def _status_notes(case: Case, master: Case | None, answers: dict[int, str]) -> str | None:
    if master is None:
        return answers.get(case.id)
    answer_ = answers.get(master.id)
    if answer_:
        return t("open311_merged_answer", number=master.number, answer=answer_)
    return t("open311_merged", number=master.number)


def request_views(cases: list[Case]) -> list[dict]:
    """The public view of these cases in a fixed number of queries, however many cases."""
    known = _root_masters(cases)
    masters = {c.id: _master_of(c, known) for c in cases}
    ids = {c.id for c in cases} | {m.id for m in masters.values() if m}
    answers, expected = _public_answers(ids), handling_deadlines(db.session, ids)
    codes = {c.category_code for c in cases if c.category_code}
    names = {code: name for code, name in db.session.execute(
        select(Category.code, Category.name_zh).where(Category.code.in_(codes)))} if codes else {}
    views = []
    for case in cases:
        master = masters[case.id]
        lead = master or case  # a merged request follows its master
        views.append({
            "service_request_id": case.number, "status": "closed" if lead.state in CLOSED else "open",
            "status_notes": _status_notes(case, master, answers),
            "service_name": names.get(case.category_code), "service_code": case.category_code or None,
            "description": case.description,
            "agency_responsible": lead.department.name if lead.department else None, "service_notice": None,
            "requested_datetime": local_iso(case.reported_at), "updated_datetime": local_iso(case.updated_at),
            "expected_datetime": local_iso(expected.get(lead.id)),
            "address": case.address, "address_id": None, "zipcode": None,
            "lat": case.lat, "long": case.lon, "media_url": case.media_url,
        })
    return views


# --- POST requests -----------------------------------------------------------------------

def _form() -> dict:
    data = request.form.to_dict()
    if not data and request.is_json:
        body = request.get_json(silent=True)
        data = body if isinstance(body, dict) else {}
    return data


def _text(data: dict, name: str) -> str | None:
    """A text field, checked against its column: a string, no NUL, not longer than it fits."""
    raw = data.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise bad(name, "open311_not_text")
    value = str(raw)
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise bad(name, "open311_nul")
    limit = FIELD_MAX.get(name)
    if limit is not None and len(value) > limit:
        raise bad(name, "open311_too_long", max=limit)
    return value or None


def _number(data: dict, name: str) -> float | None:
    """A number as sent (its range is a rule of the report)."""
    raw = _text(data, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise bad(name, "open311_not_number") from None


def _media_url(data: dict) -> str | None:
    url = _text(data, "media_url")
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc or \
            any(ch.isspace() for ch in url):
        raise bad("media_url", "open311_bad_url")
    return url


def _service_account(api_key: str | None):
    if not api_key:
        raise bad("api_key", "open311_api_key_required", 403)
    try:
        token = resolve_token(db.session, api_key)
    except ApiError:
        raise bad("api_key", "open311_api_key_invalid", 403) from None
    if not token.staff.has_role(R.INTAKE_CLERK):
        raise bad("api_key", "open311_api_key_forbidden", 403)
    return token.staff


def _device_key(fields: dict) -> str | None:
    """The key of a client that sends ``device_id`` + ``request_key`` instead of a header; each
    may be 64 characters, so a long pair is hashed to fit the key's 128."""
    device, request_key = fields["device_id"], fields["request_key"]
    if not (device and request_key):
        return None
    key = f"{device}:{request_key}"
    return key if len(key) <= intake.KEY_MAX else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def refusal(problems: rules.Problems) -> Open311Error:
    """The rules' field problems as the spec's error list, under the Open311 names."""
    found = [t("open311_field_problem", field=OPEN311_NAME.get(name, name), message=problem.message())
             for name, field_problems in problems.items() for problem in field_problems]
    return Open311Error(400, found[0], more=tuple(found[1:]))


def _submission(data: dict, account) -> tuple[intake.Submission, str | None]:
    fields = {name: _text(data, name) for name in TEXT_FIELDS}
    code = fields["service_code"]
    category = db.session.get(Category, code) if code else None
    lat, lon = _number(data, "lat"), _number(data, "long")
    address = fields["address_string"] or fields["address_id"]
    name = " ".join(x for x in (fields["first_name"], fields["last_name"]) if x) or None
    media_url = _media_url(data)
    key = intake.client_key(request.headers.get("Idempotency-Key"), None) or _device_key(fields)
    # the spec's description is optional: the service's name stands in for it
    description = fields["description"] or (category.name_zh if category is not None else "")
    sub = intake.Submission(channel="open311", description=description,
                            category_code=code, lon=lon, lat=lat, crs=fields["crs"] or "wgs84", address=address,
                            reporter_name=name, reporter_phone=fields["phone"], idempotency_key=key,
                            sender=f"open311:{account.id}", external_id=fields["account_id"])
    problems = intake.check(db.session, sub, require=rules.CHANNEL_REQUIRES["open311"])
    if not fields["description"] and category is None:
        problems.pop("description", None)  # no service, so no stand-in: the service code is the problem
    if problems:
        raise refusal(problems)
    return sub, media_url


@blp.route("/requests.<fmt>", methods=["POST"])
@public
@reads_own_query
@open311_errors
@answers(ServiceRequestReceiptSchema(many=True), 201, "The new request", also=200)
def create_request(fmt):
    """Submit a service request; the answer carries the service_request_id (our case number)."""
    fmt = _format(fmt)
    data = _form()
    account = _service_account(_text(data, "api_key"))
    sub, media_url = _submission(data, account)
    case, created = intake.submit(db.session, sub, reporter=None, role=R.INTAKE_CLERK)
    if created:
        case.media_url = media_url
    elif case.media_url != media_url:
        # the intake fingerprint does not know media_url: the same key with another link is another body
        raise ApiError("idempotency_key_reused", status=409, key=sub.idempotency_key)
    body = [{"service_request_id": case.number, "service_notice": reason_text(case.suggestion_reason),
             "account_id": sub.external_id}]
    return answer(fmt, "service_requests", body, 201 if created else 200)


# --- GET requests ------------------------------------------------------------------------

def _count(args, name: str, default: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not DIGITS.fullmatch(raw) or not 1 <= int(raw) <= high:
        raise bad(name, "open311_bad_count", low=1, high=high)
    return int(raw)


def _when(args, name: str) -> datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise bad(name, "open311_bad_date") from None
    if when.tzinfo is None:
        raise bad(name, "open311_bad_date")
    try:
        when = when.astimezone(UTC)
    except OverflowError:
        raise bad(name, "open311_date_range", low=OLDEST.year, high=NEWEST.year - 1) from None
    if not OLDEST <= when < NEWEST:
        raise bad(name, "open311_date_range", low=OLDEST.year, high=NEWEST.year - 1)
    return when


def _window(args) -> tuple[datetime, datetime]:
    """The spec's date range: at most 90 days, the last 90 days when none is given."""
    start, end = _when(args, "start_date"), _when(args, "end_date")
    if start is None and end is None:
        end = utcnow()
    if start is None:
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise bad("end_date", "open311_window_order")
    if end - start > WINDOW:
        raise bad("start_date/end_date", "open311_window_too_wide", days=WINDOW.days)
    return start, end


def _list(args, name: str) -> list[str]:
    return [x.strip() for x in args.get(name, "").split(",") if x.strip()]


def _filters(args):
    query = select(Case)
    numbers = _list(args, "service_request_id")
    if numbers:  # the spec: ids override every other filter
        if len(numbers) > PAGE_SIZE_MAX:
            raise bad("service_request_id", "open311_too_many", max=PAGE_SIZE_MAX)
        return query.where(Case.number.in_([n for n in numbers if len(n) <= NUMBER_MAX]))
    codes = _list(args, "service_code")
    if codes:
        if len(codes) > PAGE_SIZE_MAX:
            raise bad("service_code", "open311_too_many", max=PAGE_SIZE_MAX)
        query = query.where(Case.category_code.in_(codes))
    start, end = _window(args)
    query = query.where(Case.reported_at >= start, Case.reported_at <= end)
    statuses = set(_list(args, "status"))
    if statuses - {"open", "closed"}:
        raise bad("status", "open311_bad_status")
    if statuses == {"closed"}:
        query = query.where(Case.state.in_(CLOSED))
    elif statuses == {"open"}:
        query = query.where(Case.state.not_in(CLOSED))
    return query


REQUESTS_CURSOR = "open311"


def _after(args):
    """The position a ``cursor`` names: (reported_at, id) of the last request of a page."""
    raw = args.get("cursor")
    if raw is None:
        return None
    if args.get("page") is not None:
        raise bad("cursor", "open311_cursor_with_page")
    when, ident = pagination.decode(raw, REQUESTS_CURSOR, 2)
    return pagination.cursor_time(when), pagination.cursor_id(ident)


def _next_link(last: Case) -> tuple[str, str]:
    cursor = pagination.encode(REQUESTS_CURSOR, pagination.time_value(last.reported_at), last.id)
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "page")]
    url = f"{request.base_url}?{urlencode([*query, ('cursor', cursor)])}"
    return cursor, url


@blp.route("/requests.<fmt>", methods=["GET"])
@public
@reads_replica
@reads_own_query
@open311_errors
@answers(ServiceRequestSchema(many=True), description="Requests, newest first")
def list_requests(fmt):
    """Requests, filtered by service_request_id (comma list), service_code, start_date,
    end_date (ISO-8601 with zone, at most 90 days apart, the last 90 days by default) and
    status (open|closed), newest first; page_size (at most 200). Paging extension: the answer
    of a page that is not the last carries the next page's ``cursor`` in the ``Open311-Next-Cursor``
    header and a ``Link: <…>; rel="next"`` header; ``page`` (by offset) still works."""
    fmt = _format(fmt)
    query = _filters(request.args)
    after = _after(request.args)
    page = _count(request.args, "page", 1, PAGE_MAX)
    size = _count(request.args, "page_size", PAGE_SIZE_MAX, PAGE_SIZE_MAX)
    if after is not None:
        at = bindparam(None, after[0], type_=Case.reported_at.type, unique=True)
        query = query.where(tuple_(Case.reported_at, Case.id) < tuple_(at, after[1]))
    # the list never shows the grid: neither its row nor its polygon is loaded
    query = query.options(lazyload(Case.grid)).order_by(Case.reported_at.desc(), Case.id.desc()).limit(size + 1)
    cases = db.session.scalars(query.offset((page - 1) * size) if page > 1 else query).all()
    out = answer(fmt, "service_requests", request_views(cases[:size]))
    response = out if isinstance(out, Response) else out[0]
    if len(cases) > size:
        cursor, url = _next_link(cases[size - 1])
        response.headers.update({"Open311-Next-Cursor": cursor, "Link": f'<{url}>; rel="next"'})
    return response


@blp.route("/requests/<number>.<fmt>")
@public
@reads_replica
@reads_own_query
@open311_errors
@answers(ServiceRequestSchema(many=True), description="A list of one request")
def get_request(number, fmt):
    """One request (a list of one, as the spec says)."""
    fmt = _format(fmt)
    if "\x00" in number:
        raise bad("service_request_id", "open311_nul")
    case = db.session.scalar(select(Case).options(lazyload(Case.grid)).where(Case.number == number)) \
        if len(number) <= NUMBER_MAX else None
    if case is None:
        raise bad("service_request_id", "open311_no_request", 404, value=number[:40])
    return answer(fmt, "service_requests", request_views([case]))
