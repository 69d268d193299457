"""One set of rules for a valid report (dispatch/intake/rules.py), whatever the channel.

The same bad submissions go through every channel (staff API, public API, hotline CSV import,
Open311 POST): each is refused naming the same field (under the channel's own name for it)
and writes nothing; a valid one is accepted by all. Then unit tests of the rules module."""
from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from dispatch.cases.models import Case
from dispatch.intake import rules
from dispatch.intake.rules import Problem, Submission
from grid.accounts.service import issue_token
from tests.dispatch.conftest import POINT_G1
from tests.factories import StaffFactory
from wangge.i18n import catalog

CHANNELS = ("staff", "public", "hotline", "open311")
# A rule's field as each channel's client names it (None: the channel has no such field).
NAMES = {
    "description": {"staff": "description", "public": "description", "hotline": "content", "open311": "description"},
    "address": {"staff": "address", "public": "address", "hotline": "address", "open311": "address_string"},
    "reporter_name": {"staff": "reporter_name", "public": "name", "hotline": "caller_name",
                      "open311": "first_name"},
    "reporter_phone": {"staff": "reporter_phone", "public": "phone", "hotline": "phone", "open311": "phone"},
    "lon": {"staff": "lon", "public": "lon", "hotline": "lon", "open311": "long"},
    "lat": {"staff": "lat", "public": "lat", "hotline": "lat", "open311": "lat"},
    "crs": {"staff": "crs", "public": "crs", "hotline": "crs", "open311": "crs"},
    "category_code": {"staff": "category_code", "public": "category_code", "hotline": "category_code",
                      "open311": "service_code"},
    "external_id": {"staff": "external_id", "public": None, "hotline": "order_no", "open311": "account_id"},
    "reported_at": {"staff": "reported_at", "public": None, "hotline": "received_at", "open311": None},
}
VALID = {"description": "井盖破损", "category_code": "C0101", "lon": POINT_G1[0], "lat": POINT_G1[1], "crs": "wgs84",
         "address": "测试路 1 号", "reporter_name": "张三", "reporter_phone": "13700000000"}
FUTURE = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)

# (what is wrong, the submission's fields changed (None: left out), the field it names)
BAD = [
    ("blank description", {"description": "   "}, "description"),
    ("description too long", {"description": "长" * (rules.DESCRIPTION_MAX + 1)}, "description"),
    ("address too long", {"address": "路" * (rules.ADDRESS_MAX + 1)}, "address"),
    ("name too long", {"reporter_name": "名" * (rules.NAME_MAX + 1)}, "reporter_name"),
    ("phone not a phone", {"reporter_phone": "call me"}, "reporter_phone"),
    ("phone too long", {"reporter_phone": "1" * (rules.PHONE_MAX + 1)}, "reporter_phone"),
    ("lon without lat", {"lat": None}, "lat"),
    ("lat out of range", {"lat": 95.0}, "lat"),
    ("lon out of range", {"lon": -200.0}, "lon"),
    ("no place", {"lon": None, "lat": None, "address": None}, "address"),
    ("unknown crs", {"crs": "utm50"}, "crs"),
    ("unknown category", {"category_code": "Z9999"}, "category_code"),
    ("big class", {"category_code": "C01"}, "category_code"),
    ("external id too long", {"external_id": "E" * (rules.EXTERNAL_ID_MAX + 1)}, "external_id"),
    ("reported in the future", {"reported_at": FUTURE}, "reported_at"),
]

_serial = itertools.count(1)


@pytest.fixture
def api_key(db_session):
    account = StaffFactory(username="app311rules", roles=["intake_clerk"])
    secret, _ = issue_token(db_session, account, ttl_hours=24)
    db_session.commit()
    return secret


def _fields(changes: dict) -> dict:
    return {k: v for k, v in {**VALID, **changes}.items() if v is not None}


def send(channel: str, changes: dict, client, city, api_key):
    """The submission through one channel, each in its own words; the answer's named fields."""
    sub = _fields(changes)
    n = next(_serial)
    address = {"REMOTE_ADDR": f"10.77.{n // 250}.{n % 250 + 1}"}
    if channel in ("staff", "public"):
        body = dict(sub)
        if "reported_at" in body:
            body["reported_at"] = body["reported_at"].isoformat()
        if channel == "public":
            body = {{"reporter_name": "name", "reporter_phone": "phone"}.get(k, k): v for k, v in body.items()}
            r = client.post("/api/v1/public/reports", json=body, environ_base=address)
        else:
            r = client.post("/api/v1/cases", json=body, headers=city.h("clerk"), environ_base=address)
        named = set((r.json or {}).get("fields") or {}) if r.status_code == 422 else set()
        return r, named
    if channel == "hotline":
        row = {"order_no": sub.get("external_id", f"R-{n}"),
               "received_at": sub["reported_at"].isoformat() if "reported_at" in sub else "2025-03-01 08:30",
               "caller_name": sub.get("reporter_name", ""), "phone": sub.get("reporter_phone", ""),
               "content": sub.get("description", ""), "address": sub.get("address", ""),
               "lon": sub.get("lon", ""), "lat": sub.get("lat", ""), "crs": sub.get("crs", ""),
               "category_code": sub.get("category_code", "")}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(list(row))
        writer.writerow([str(v) for v in row.values()])
        r = client.post("/api/v1/hotline/import", headers=city.h("clerk"), environ_base=address,
                        data={"file": (io.BytesIO(out.getvalue().encode()), "orders.csv")},
                        content_type="multipart/form-data")
        named = {d["column"] for d in r.json["details"]} if r.status_code == 422 else set()
        return r, named
    form = {"api_key": api_key, "service_code": sub.get("category_code"), "lat": sub.get("lat"),
            "long": sub.get("lon"), "description": sub.get("description"), "first_name": sub.get("reporter_name"),
            "phone": sub.get("reporter_phone"), "address_string": sub.get("address"), "crs": sub.get("crs"),
            "account_id": sub.get("external_id")}
    form = {k: str(v) for k, v in form.items() if v is not None}
    r = client.post("/open311/v2/requests.json", data=form, environ_base=address)
    named = set()
    if r.status_code == 400:
        descriptions = [e["description"] for e in r.json]
        named = {name for names in NAMES.values() for name in [names["open311"]]
                 if name and any(d.startswith(name) for d in descriptions)}
    return r, named


@pytest.mark.parametrize("what, changes, field", BAD, ids=[b[0] for b in BAD])
def test_every_channel_refuses_the_same_submission_naming_the_same_field(client, city, db_session, api_key,
                                                                           what, changes, field):
    before = db_session.query(Case).count()
    tried = []
    for channel in CHANNELS:
        name = NAMES[field][channel]
        if name is None:
            continue  # this channel cannot carry the field
        r, named = send(channel, changes, client, city, api_key)
        assert r.status_code in (400, 422), (channel, r.status_code, r.json)
        assert name in named, (channel, name, r.json)
        tried.append(channel)
    assert len(tried) >= 2
    assert db_session.query(Case).count() == before


def test_a_valid_submission_is_accepted_by_every_channel(client, city, db_session, api_key):
    for channel in CHANNELS:
        r, _ = send(channel, {}, client, city, api_key)
        assert r.status_code in (200, 201), (channel, r.json)
        if channel == "hotline":
            assert r.json["created"] == 1, r.json
    assert db_session.query(Case).filter(Case.description.like("%井盖破损")).count() == len(CHANNELS)


def test_hotline_problems_are_in_the_users_language(client, city, api_key):
    r, _ = send("hotline", {"category_code": "Z9999"}, client, city, api_key)
    assert [d["message"] for d in r.json["details"]] == ["没有这个问题类别：Z9999"]
    r = client.post("/api/v1/hotline/import?lang=en", headers=city.h("clerk"), content_type="multipart/form-data",
                    data={"file": (io.BytesIO("order_no,received_at,content,address\nL-1,2025-03-01 08:30,漏水,\n".encode()),
                                   "orders.csv")})
    assert r.status_code == 422 and r.json["details"][0]["message"] == "give a location (lon/lat) or an address"


def test_one_refusal_names_every_bad_field(client, city, api_key):
    changes = {"description": " ", "reporter_phone": "call me", "category_code": "Z9999"}
    for channel in CHANNELS:
        _, named = send(channel, changes, client, city, api_key)
        assert {NAMES[f][channel] for f in ("description", "reporter_phone", "category_code")} <= named, channel


# --- the OpenAPI document shows the same numbers -----------------------------------------

def test_schema_limits_are_the_rules_numbers(client):
    doc = client.get("/api/openapi.json").json
    schemas = doc["components"]["schemas"]
    for name, names in (("CaseCreate", {"reporter_name": "reporter_name", "reporter_phone": "reporter_phone"}),
                        ("PublicReport", {"reporter_name": "name", "reporter_phone": "phone"})):
        props = schemas[name]["properties"]
        assert props["description"]["maxLength"] == rules.DESCRIPTION_MAX
        assert props["address"]["maxLength"] == rules.ADDRESS_MAX
        assert props[names["reporter_name"]]["maxLength"] == rules.NAME_MAX
        assert props[names["reporter_phone"]]["maxLength"] == rules.PHONE_MAX
        assert props[names["reporter_phone"]]["pattern"] == rules.PHONE_PATTERN
        assert props["idempotency_key"]["minLength"] == rules.KEY_MIN
        assert props["lat"]["maximum"] == rules.LAT_MAX and props["lon"]["minimum"] == rules.LON_MIN
        assert props["crs"]["enum"] == list(rules.CRS_CHOICES)


def _success(op: dict) -> list[dict]:
    return [r for code, r in op["responses"].items() if code.startswith("2")]


@pytest.mark.parametrize("path, method", [
    ("/api/v1/public/reports", "post"), ("/api/v1/public/reports/{code}", "get"),
    ("/api/v1/public/reports/{code}/rating", "post"), ("/api/v1/hotline/import", "post"),
    ("/open311/v2/discovery.{fmt}", "get"), ("/open311/v2/services.{fmt}", "get"),
    ("/open311/v2/services/{code}.{fmt}", "get"), ("/open311/v2/requests.{fmt}", "post"),
    ("/open311/v2/requests.{fmt}", "get"), ("/open311/v2/requests/{number}.{fmt}", "get"),
])
def test_public_and_adapter_operations_document_their_success_answer(client, path, method):
    op = client.get("/api/openapi.json").json["paths"][path][method]
    found = _success(op)
    assert found and all("application/json" in r["content"] for r in found), op["responses"]
    if path.startswith("/open311"):
        json_schema = found[0]["content"]["application/json"]["schema"]
        if "services" in path and "{code}" not in path or "requests" in path:
            assert json_schema["type"] == "array", json_schema  # Open311 answers are lists
        assert "text/xml" in found[0]["content"]


# --- the rules module --------------------------------------------------------------------

CATALOG = {"C0101": SimpleNamespace(active=True, parent_code="C01"),
           "C01": SimpleNamespace(active=True, parent_code=None),
           "OLD01": SimpleNamespace(active=False, parent_code="C01")}
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def keys(**changes) -> dict[str, list[str]]:
    sub = Submission(**{"channel": "staff", "description": "x", "address": "y", **changes})
    return {name: [p.key for p in found]
            for name, found in rules.check(sub, category=CATALOG.get, now=NOW).items()}


@pytest.mark.parametrize("changes, expected", [
    ({}, {}),
    ({"description": ""}, {"description": ["submission_required"]}),
    ({"description": "x" * rules.DESCRIPTION_MAX}, {}),
    ({"description": "x" * (rules.DESCRIPTION_MAX + 1)}, {"description": ["submission_too_long"]}),
    ({"title": "t" * (rules.TITLE_MAX + 1)}, {"title": ["submission_too_long"]}),
    ({"address": "a" * (rules.ADDRESS_MAX + 1)}, {"address": ["submission_too_long"]}),
    ({"address": None}, {"address": ["submission_no_place"]}),
    ({"address": " "}, {"address": ["submission_no_place"]}),
    ({"reporter_name": "n" * (rules.NAME_MAX + 1)}, {"reporter_name": ["submission_too_long"]}),
    ({"reporter_phone": "021-1234 (8)"}, {}),
    ({"reporter_phone": "1234"}, {"reporter_phone": ["submission_bad_phone"]}),
    ({"reporter_phone": "1" * 33}, {"reporter_phone": ["submission_too_long"]}),
    ({"lon": 121.4}, {"lat": ["submission_pair"]}),
    ({"lat": 31.2}, {"lon": ["submission_pair"]}),
    ({"lat": 31.2, "address": None}, {"lon": ["submission_pair"], "address": ["submission_no_place"]}),
    ({"lon": 180.0, "lat": -90.0, "address": None}, {}),
    ({"lon": 180.5, "lat": 0.0}, {"lon": ["submission_out_of_range"]}),
    ({"lon": float("nan"), "lat": 0.0}, {"lon": ["submission_not_finite"]}),
    ({"lon": 0.0, "lat": float("inf")}, {"lat": ["submission_not_finite"]}),
    ({"crs": "gcj02"}, {}), ({"crs": "BD09"}, {}),
    ({"crs": "utm50"}, {"crs": ["submission_bad_crs"]}),
    ({"category_code": "C0101"}, {}),
    ({"category_code": "C01"}, {"category_code": ["submission_big_class"]}),
    ({"category_code": "OLD01"}, {"category_code": ["submission_unknown_category"]}),
    ({"category_code": "Z9999"}, {"category_code": ["submission_unknown_category"]}),
    ({"category_code": "C" * 33}, {"category_code": ["submission_too_long"]}),
    ({"external_id": "e" * rules.EXTERNAL_ID_MAX}, {}),
    ({"external_id": "e" * (rules.EXTERNAL_ID_MAX + 1)}, {"external_id": ["submission_too_long"]}),
    ({"reported_at": NOW + rules.FUTURE_TOLERANCE}, {}),
    ({"reported_at": NOW + rules.FUTURE_TOLERANCE + timedelta(seconds=1)}, {"reported_at": ["submission_in_the_future"]}),
    ({"reported_at": datetime(1970, 1, 1, 0, 30, tzinfo=UTC)}, {}),
    ({"reported_at": datetime.fromisoformat("1970-01-01T00:30:00+08:00")}, {"reported_at": ["submission_year_range"]}),
    ({"reported_at": datetime(2026, 1, 1)}, {"reported_at": ["submission_needs_offset"]}),
    ({"idempotency_key": "H-1"}, {}),  # a channel's key (an order number) may be short
    ({"idempotency_key": "k" * 129}, {"idempotency_key": ["submission_key_length"]}),
    ({"idempotency_key": "abc\tdefgh"}, {"idempotency_key": ["submission_not_printable"]}),
    ({"description": "a\x00b"}, {"description": ["submission_bad_characters"]}),
    ({"address": "\ud800"}, {"address": ["submission_bad_characters"]}),
    ({"channel": "pigeon"}, {"channel": ["submission_one_of"]}),
])
def test_each_rule(changes, expected):
    assert keys(**changes) == expected


def test_client_keys_are_8_to_128_printable_characters():
    assert rules.check_client_key(None) == [] and rules.check_client_key("k" * 8) == []
    assert rules.check_client_key("k" * 128) == []
    for bad in ("k" * 7, "k" * 129, "abc\x01defgh"):
        assert rules.check_client_key(bad), bad


def test_required_by_the_channel_and_skipped_fields():
    sub = Submission(channel="hotline", description="漏水", address="y")
    found = rules.check(sub, require=rules.CHANNEL_REQUIRES["hotline"])
    assert set(found) == {"external_id", "reported_at"}
    assert rules.check(sub) == {}  # intake itself does not ask for them
    # a field the channel could not read: its rules (and the place rules that combine it) are not asked
    sub = Submission(channel="hotline", description="", lat=31.2)
    assert set(rules.check(sub, skip={"lon", "description"})) == set()


def test_the_catalog_rules_need_a_catalog():
    assert rules.check(Submission(channel="staff", description="x", address="y", category_code="Z9999")) == {}


def test_messages_in_both_languages_under_the_channels_names(app):
    problems = {"reporter_phone": [Problem("submission_bad_phone", {"min": 5, "max": 32})],
                "category_code": [Problem("submission_unknown_category", {"code": "Z9"})]}
    with app.test_request_context("/?lang=en"):
        assert rules.messages(problems, {"reporter_phone": "phone"}) == {
            "phone": ["not a phone number (5 to 32 characters: digits, spaces and + - ( ))"],
            "category_code": ["unknown category Z9"]}
    with app.test_request_context("/?lang=zh"):
        assert rules.messages(problems)["category_code"] == ["没有这个问题类别：Z9"]


def test_every_rule_message_exists_in_both_languages():
    import inspect
    source = inspect.getsource(rules)
    used = set(__import__("re").findall(r'"(submission_[a-z_]+)"', source))
    zh, en = ({m.id: m.string for m in catalog(lang) if m.id} for lang in ("zh", "en"))
    assert used and used <= set(zh) and used <= set(en)
    for key in [k for k in zh if k.startswith(("submission_", "hotline_"))] + ["open311_field_problem"]:
        assert zh[key] and en[key], key
