"""Open311 GeoReport v2 (DOMAIN.md section 7), so existing 311 apps can report here.

Endpoints under ``/open311/v2``, each as ``.json`` or ``.xml``: discovery, services,
services/{code} (definition), POST requests (``api_key`` of a service account holding the
intake_clerk role), GET requests (filters), requests/{id}. ``service_request_id`` is the
case number; ``service_code`` is a small-class category code. Errors are a list of
``{code, description}`` with HTTP 400/403/404, as the spec says."""
from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from grid import roles as R
from grid.accounts import resolve_token
from grid.models import Category
from wangge.auth import public
from wangge.errors import ApiError
from wangge.extensions import db

from .. import deadlines, intake
from ..models import Case, CaseEvent

blp = Blueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2 (JSON and XML) for third-party 311 apps")

CLOSED = {"closed", "rejected", "voided"}
ROOT_TAGS = {"services": "service", "requests": "request", "service_requests": "request", "errors": "error"}


class Open311Error(Exception):
    def __init__(self, status: int, description: str, code: int | None = None):
        self.status, self.description, self.code = status, description, code or status


def _xml(tag: str, items) -> bytes:
    root = ET.Element(tag)
    item_tag = ROOT_TAGS.get(tag, "item")
    for item in items if isinstance(items, list) else [items]:
        _fill(ET.SubElement(root, item_tag), item)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="utf-8")


def _fill(el, value):
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, list):
                wrapper = ET.SubElement(el, k)
                for entry in v:
                    _fill(ET.SubElement(wrapper, k.rstrip("s") or "item"), entry)
            else:
                _fill(ET.SubElement(el, k), v)
    elif value is not None:
        el.text = str(value).lower() if isinstance(value, bool) else str(value)


def answer(fmt: str, tag: str, data, status: int = 200):
    if fmt == "xml":
        return Response(_xml(tag, data), status=status, mimetype="text/xml")
    return jsonify(data), status


def _format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"unknown format .{fmt}; use .json or .xml")
    return fmt


@blp.errorhandler(Open311Error)
def _open311_error(err: Open311Error):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return answer(fmt, "errors", [{"code": err.code, "description": err.description}], err.status)


@blp.errorhandler(ApiError)
def _api_error(err: ApiError):
    detail = err.message
    if err.fields:
        detail += " " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in err.fields.items())
    status = err.status if err.status in (403, 404) else 400
    return _open311_error(Open311Error(status, detail))


@blp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    return _open311_error(Open311Error(err.code if err.code in (403, 404) else 400, err.description or err.name))


def service_view(c: Category, groups: dict) -> dict:
    return {"service_code": c.code, "service_name": c.name_zh, "description": c.name_en,
            "metadata": False, "type": "realtime", "keywords": c.name_en,
            "group": groups.get(c.parent_code)}


def _iso(value: datetime | None) -> str | None:
    from wangge.present import local_iso

    return local_iso(value)


def request_view(case: Case) -> dict:
    state = case.state
    if case.merged_into_id:
        state = db.session.get(Case, case.merged_into_id).state
    last_note = db.session.scalar(select(CaseEvent.note).where(CaseEvent.case_id == case.id,
                                                               CaseEvent.note.is_not(None))
                                  .order_by(CaseEvent.id.desc()).limit(1))
    clock = deadlines.current_clock(db.session, case)
    category = db.session.get(Category, case.category_code) if case.category_code else None
    return {
        "service_request_id": case.number, "status": "closed" if state in CLOSED else "open",
        "status_notes": last_note, "service_name": category.name_zh if category else None,
        "service_code": case.category_code or "", "description": case.description,
        "agency_responsible": case.department.name if case.department else None, "service_notice": None,
        "requested_datetime": _iso(case.reported_at), "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(clock.due_at) if clock and clock.due_at else None,
        "address": case.address, "address_id": None, "zipcode": None,
        "lat": case.lat, "long": case.lon, "media_url": None,
    }


@blp.route("/discovery.<fmt>")
@public
def discovery(fmt):
    """Where this endpoint lives and what it speaks."""
    base = request.host_url.rstrip("/") + "/open311/v2/"
    data = {"changeset": "2026-11-22T00:00:00+08:00", "contact": current_app.config["API_TITLE"],
            "key_service": "ask the dispatch center for an api_key",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                           "changeset": "2026-11-22T00:00:00+08:00", "type": "production",
                           "formats": ["application/json", "text/xml"]}]}
    return answer(_format(fmt), "discovery", data)


@blp.route("/services.<fmt>")
@public
def services(fmt):
    """Service types: the small classes of the category catalog."""
    fmt = _format(fmt)
    cats = db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    groups = {c.code: c.name_zh for c in cats if c.parent_code is None}
    return answer(fmt, "services", [service_view(c, groups) for c in cats if c.parent_code is not None])


@blp.route("/services/<code>.<fmt>")
@public
def service_definition(code, fmt):
    """Service definition; this catalog has no extra attributes."""
    fmt = _format(fmt)
    category = db.session.get(Category, code)
    if category is None or category.parent_code is None:
        raise Open311Error(404, f"no service {code}")
    return answer(fmt, "service_definition", {"service_code": code, "attributes": []})


def _form() -> dict:
    data = dict(request.form)
    if not data and request.is_json:
        data = dict(request.get_json(silent=True) or {})
    return data


def _service_account(api_key: str | None):
    if not api_key:
        raise Open311Error(403, "api_key is required")
    try:
        token = resolve_token(db.session, api_key)
    except ApiError:
        raise Open311Error(403, "api_key is not valid") from None
    if not token.staff.has_role(R.INTAKE_CLERK):
        raise Open311Error(403, "this api_key may not submit requests")
    return token.staff


def _float(data: dict, name: str):
    raw = data.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None


@blp.route("/requests.<fmt>", methods=["POST"])
@public
def create_request(fmt):
    """Submit a service request; the answer carries the service_request_id (our case number)."""
    fmt = _format(fmt)
    data = _form()
    account = _service_account(data.get("api_key"))
    code = data.get("service_code")
    category = db.session.get(Category, code) if code else None
    if category is None or category.parent_code is None:
        raise Open311Error(400, f"service_code {code!r} is not a service", 400)
    lat, lon = _float(data, "lat"), _float(data, "long")
    address = data.get("address_string") or data.get("address_id")
    if (lat is None or lon is None) and not address:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    name = " ".join(x for x in (data.get("first_name"), data.get("last_name")) if x) or None
    description = data.get("description") or category.name_zh
    if data.get("media_url"):
        description += f"\n{data['media_url']}"
    key = request.headers.get("Idempotency-Key") or (
        f"{data['device_id']}:{data['request_key']}" if data.get("device_id") and data.get("request_key") else None)
    sub = intake.Submission(channel="open311", description=description[:5000], category_code=code,
                            lon=lon, lat=lat, crs=data.get("crs", "wgs84"), address=address,
                            reporter_name=name, reporter_phone=data.get("phone"), idempotency_key=key,
                            sender=f"open311:{account.id}",
                            external_id=data.get("account_id"))
    case, created = intake.submit(db.session, sub, reporter=None, role=R.INTAKE_CLERK)
    body = [{"service_request_id": case.number, "service_notice": case.suggestion_reason,
             "account_id": data.get("account_id")}]
    return answer(fmt, "service_requests", body, 201 if created else 200)


@blp.route("/requests.<fmt>", methods=["GET"])
@public
def list_requests(fmt):
    """Requests, filtered by service_request_id (comma list), service_code, start_date,
    end_date (ISO-8601 with zone) and status (open|closed); page and page_size extensions."""
    fmt = _format(fmt)
    args = request.args
    query = select(Case)
    if args.get("service_request_id"):
        query = query.where(Case.number.in_([x.strip() for x in args["service_request_id"].split(",")]))
    else:
        if args.get("service_code"):
            query = query.where(Case.category_code.in_(args["service_code"].split(",")))
        for name, op in (("start_date", "__ge__"), ("end_date", "__le__")):
            if args.get(name):
                try:
                    when = datetime.fromisoformat(args[name].replace("Z", "+00:00"))
                except ValueError:
                    raise Open311Error(400, f"{name} must be ISO-8601") from None
                if when.tzinfo is None:
                    raise Open311Error(400, f"{name} must include a time zone")
                query = query.where(getattr(Case.reported_at, op)(when))
        status = args.get("status")
        if status == "closed":
            query = query.where(Case.state.in_(CLOSED))
        elif status == "open":
            query = query.where(Case.state.not_in(CLOSED))
        elif status:
            raise Open311Error(400, "status must be open or closed")
    try:
        page = max(int(args.get("page", 1)), 1)
        size = min(max(int(args.get("page_size", 50)), 1), 1000)
    except ValueError:
        raise Open311Error(400, "page and page_size must be integers") from None
    cases = db.session.scalars(query.order_by(Case.reported_at.desc()).limit(size).offset((page - 1) * size))
    return answer(fmt, "service_requests", [request_view(c) for c in cases])


@blp.route("/requests/<number>.<fmt>")
@public
def get_request(number, fmt):
    """One request (a list of one, as the spec says)."""
    fmt = _format(fmt)
    case = db.session.scalar(select(Case).where(Case.number == number))
    if case is None:
        raise Open311Error(404, f"no service request {number}")
    return answer(fmt, "service_requests", [request_view(case)])
