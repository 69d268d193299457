"""Open311 read and write paths as an attacker, a careless client and a real 311 client see
them (issue 7): only public data, bounded reads, a constant number of queries, the spec's
XML, and 4xx (never 500) for bad input."""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import event, select

from dispatch.cases.models import Case
from dispatch.clocks.models import StageClock
from dispatch.intake import service as intake
from grid.accounts.service import issue_token
from tests.dispatch.conftest import POINT_G1, do
from tests.factories import StaffFactory
from wangge.present import local_iso


@pytest.fixture
def api_key(db_session):
    account = StaffFactory(username="app311t", roles=["intake_clerk"])
    secret, _ = issue_token(db_session, account, ttl_hours=24)
    db_session.commit()
    return secret


def post(client, api_key, fmt="json", headers=None, **fields):
    form = {"api_key": api_key, "service_code": "C0101", "lat": str(POINT_G1[1]), "long": str(POINT_G1[0]),
            "description": "井盖破损", "first_name": "Ann", "last_name": "Lee", "phone": "13700000000", **fields}
    return client.post(f"/open311/v2/requests.{fmt}", data=form, headers=headers or {})


def new_case(client, api_key, **fields) -> str:
    r = post(client, api_key, **fields)
    assert r.status_code == 201, r.json
    return r.json[0]["service_request_id"]


def submit(session, n=1, **fields) -> list[Case]:
    """Cases made straight through intake (quick bulk set-up for the read tests)."""
    made = []
    for _ in range(n):
        sub = intake.Submission(channel="open311", description=fields.get("description", "路灯不亮"),
                                category_code=fields.get("category_code", "C0101"),
                                lon=POINT_G1[0], lat=POINT_G1[1], reporter_name="Secret Name",
                                reporter_phone="13811112222", reported_at=fields.get("reported_at"))
        made.append(intake.submit(session, sub)[0])
    session.commit()
    return made


def get_one(client, number, fmt="json", **query):
    r = client.get(f"/open311/v2/requests/{number}.{fmt}", query_string=query)
    assert r.status_code == 200, r.data
    return r.json[0] if fmt == "json" else ET.fromstring(r.data).find("request")


def run(client, city, number, steps):
    for who, verb, extra in steps:
        do(client, city, who, number, verb, **extra)


TO_HANDLING = [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}), ("road", "sign", {})]


def assert_open311_error(r, status, fragment):
    assert r.status_code == status, (r.status_code, r.data[:300])
    body = r.json if r.is_json else None
    assert isinstance(body, list) and body[0]["code"] == status, r.data[:300]
    assert fragment in body[0]["description"], body


# --- 1. what the public may see ----------------------------------------------------------

def test_status_notes_is_the_public_answer_never_an_internal_note(client, city, api_key):
    number = new_case(client, api_key)
    run(client, city, number, [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}),
                               ("road", "return", {"note": "内部退单理由：不归我们管"}),
                               ("dispatcher", "rule_return", {"outcome": "refuse"}),
                               ("road", "sign", {}), ("leader", "urge", {"note": "领导内部催办"})])
    for view in (get_one(client, number),
                 client.get("/open311/v2/requests.json", query_string={"service_request_id": number}).json[0]):
        assert view["status_notes"] is None
    feed = client.get("/open311/v2/requests.json").data.decode() + client.get("/open311/v2/requests.xml").data.decode()
    for secret in ("内部退单理由", "领导内部催办", "13700000000", "Ann", "Lee"):
        assert secret not in feed

    run(client, city, number, [("road", "report_back", {"note": "已更换井盖"}),
                               ("leader", "supervise", {"note": "督办：内部意见"})])
    assert get_one(client, number)["status_notes"] == "已更换井盖"
    assert get_one(client, number, "xml").find("status_notes").text == "已更换井盖"


@pytest.mark.parametrize("query,field", [
    ({"page_size": "1000"}, "page_size"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "-5"}, "page_size"),
    ({"page_size": "99999999999999999999999999"}, "page_size"),
    ({"page_size": "ten"}, "page_size"),
    ({"page": "-1"}, "page"),
    ({"page": "0"}, "page"),
    ({"page": "1000000000000000000000000000"}, "page"),
    ({"page": "1e3"}, "page"),
    ({"start_date": "0001-01-01T00:00:00Z"}, "start_date"),
    ({"start_date": "0001-01-01T00:00:00+08:00"}, "start_date"),
    ({"end_date": "9999-12-31T23:59:59Z"}, "end_date"),
    ({"end_date": "9999-12-31T23:59:59-12:00"}, "end_date"),
    ({"start_date": "2026-01-01T00:00:00"}, "start_date"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "start_date/end_date"),
    ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"}, "end_date"),
    ({"status": "pending"}, "status"),
    ({"service_code": "C0101\x00"}, "service_code"),
    ({"service_request_id": ",".join(str(i) for i in range(201))}, "service_request_id"),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bulk_read_bounds_are_400s(client, city, query, field, fmt):
    r = client.get(f"/open311/v2/requests.{fmt}", query_string=query)
    assert r.status_code == 400, (query, r.status_code, r.data[:200])
    if fmt == "json":
        assert_open311_error(r, 400, field)
    else:
        error = ET.fromstring(r.data).find("error")
        assert error.find("code").text == "400" and field in error.find("description").text


def test_default_window_is_the_last_90_days_and_page_size_is_capped(client, city, db_session):
    old = submit(db_session, reported_at=datetime.now(UTC) - timedelta(days=100))[0]
    recent = submit(db_session, 3)
    listed = [x["service_request_id"] for x in client.get("/open311/v2/requests.json").json]
    assert old.number not in listed and {c.number for c in recent} <= set(listed)
    since = (datetime.now(UTC) - timedelta(days=110)).isoformat()
    window = client.get("/open311/v2/requests.json", query_string={"start_date": since}).json
    assert old.number in [x["service_request_id"] for x in window]
    assert len(client.get("/open311/v2/requests.json?page_size=200").json) == 3
    pages = [client.get(f"/open311/v2/requests.json?page_size=2&page={n}").json for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 1, 0]
    assert {x["service_request_id"] for p in pages for x in p} == {c.number for c in recent}


def test_reading_a_request_that_does_not_exist(client, city):
    assert_open311_error(client.get("/open311/v2/requests/3101012026999999.json"), 404, "service_request_id")
    r = client.get("/open311/v2/requests/" + "9" * 10_000 + ".json")
    assert_open311_error(r, 404, "service_request_id")
    assert client.get("/open311/v2/requests/%00.json").status_code in (400, 404)
    assert client.get("/open311/v2/requests/12%0034.xml").status_code in (400, 404)
    assert_open311_error(client.get("/open311/v2/services/" + "C" * 5000 + ".json"), 404, "service_code")


# --- 2. a constant number of queries -----------------------------------------------------

def _statements(client, db_session, url) -> int:
    engine = db_session.connection().engine
    db_session.commit()
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        r = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.data[:300]
    return len(seen), r


def test_listing_is_a_constant_number_of_queries(client, city, api_key, db_session):
    master, child, plain = (new_case(client, api_key) for _ in range(3))
    run(client, city, child, [("clerk", "merge", {"into": master})])
    run(client, city, master, TO_HANDLING + [("road", "report_back", {"note": "已修复"})])
    run(client, city, plain, TO_HANDLING)
    submit(db_session, 2, category_code=None)
    few, r = _statements(client, db_session, "/open311/v2/requests.json?page_size=200")
    assert len(r.json) == 5
    submit(db_session, 45)
    many, r = _statements(client, db_session, "/open311/v2/requests.json?page_size=200")
    assert len(r.json) == 50
    assert many == few, (few, many)
    xml_many, r = _statements(client, db_session, "/open311/v2/requests.xml?page_size=200")
    assert xml_many == few and len(ET.fromstring(r.data).findall("request")) == 50


# --- 3. the spec's XML -------------------------------------------------------------------

def children(el):
    return [c.tag for c in el]


def test_xml_matches_the_spec_examples(client, city, api_key):
    d = ET.fromstring(client.get("/open311/v2/discovery.xml").data)
    assert d.tag == "discovery" and children(d) == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = d.find("endpoints/endpoint")
    assert children(d.find("endpoints")) == ["endpoint"]
    assert children(endpoint) == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in endpoint.findall("formats/format")] == ["application/json", "text/xml"]

    sd = ET.fromstring(client.get("/open311/v2/services/C0101.xml").data)
    assert sd.tag == "service_definition" and children(sd) == ["service_code", "attributes"]
    assert sd.find("service_code").text == "C0101" and list(sd.find("attributes")) == []

    services = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert services.tag == "services" and set(children(services)) == {"service"}
    assert children(services[0]) == ["service_code", "service_name", "description", "metadata", "type",
                                     "keywords", "group"]

    created = ET.fromstring(post(client, api_key, fmt="xml").data)
    assert created.tag == "service_requests" and children(created) == ["request"]
    assert children(created[0]) == ["service_request_id", "service_notice", "account_id"]
    number = created.find("request/service_request_id").text

    one = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").data)
    assert one.tag == "service_requests" and children(one) == ["request"]
    assert children(one[0]) == ["service_request_id", "status", "status_notes", "service_name", "service_code",
                                "description", "agency_responsible", "service_notice", "requested_datetime",
                                "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                                "lat", "long", "media_url"]
    error = ET.fromstring(client.get("/open311/v2/requests/NOPE.xml").data)
    assert error.tag == "errors" and children(error) == ["error"] and children(error[0]) == ["code", "description"]


def test_a_real_georeport_client_reads_json_and_xml(client, city, api_key, monkeypatch):
    georeport = pytest.importorskip("georeport")
    import requests

    module = __import__("georeport.georeport", fromlist=["requests"])

    class Via:
        """requests.get for the client, answered by the app (no network)."""

        @staticmethod
        def get(url, params=None):
            r = client.get(url.replace("http://wangge.test", ""), query_string=params)
            response = requests.Response()
            response.status_code, response._content = r.status_code, r.data
            response.headers.update(dict(r.headers))
            response.url = url
            return response

    monkeypatch.setattr(module, "requests", Via)
    number = new_case(client, api_key, media_url="https://img.example.org/a.jpg")
    for fmt in ("json", "xml"):
        c = georeport.GeoReport("http://wangge.test/open311/v2", output_format=fmt)
        services = c.get_service_list()
        assert any(s["service_code"] == "C0101" for s in services)
        definition = c.get_service_definition("C0101")
        assert definition["service_code"] == "C0101"
        one = c.get_service_request(number)
        assert one["service_request_id"] == number and one["status"] == "open"
        assert one["media_url"] == "https://img.example.org/a.jpg"
        many = c.get_service_requests(service_code="C0101", status="open")
        many = many if isinstance(many, list) else [many]
        assert number in [x["service_request_id"] for x in many]


# --- 4. control characters ---------------------------------------------------------------

def test_control_characters_do_not_break_the_xml_feed(client, city, api_key, db_session):
    number = new_case(client, api_key, description="井盖\x01破损\x0b了\x1f吧")
    listing = client.get("/open311/v2/requests.xml")
    root = ET.fromstring(listing.data)  # parses
    texts = {r.find("service_request_id").text: r.find("description").text for r in root.findall("request")}
    assert texts[number] == "井盖破损了吧"
    assert get_one(client, number)["description"] == "井盖\x01破损\x0b了\x1f吧"  # JSON escapes them
    run(client, city, number, TO_HANDLING + [("road", "report_back", {"note": "已\x02处理"})])
    assert get_one(client, number, "xml").find("status_notes").text == "已处理"


# --- 5. media_url, service_code, merged notes, expected_datetime --------------------------

def test_media_url_is_kept_and_returned(client, city, api_key, db_session):
    url = "https://img.example.org/p/123.jpg?size=large"
    number = new_case(client, api_key, media_url=url)
    case = db_session.scalar(select(Case).where(Case.number == number))
    assert case.media_url == url and case.description == "井盖破损"
    assert get_one(client, number)["media_url"] == url
    assert get_one(client, number, "xml").find("media_url").text == url
    other = new_case(client, api_key)
    assert get_one(client, other)["media_url"] is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.org/a.jpg", "not a url", "https://",
                                 "https://example.org/" + "a" * 2040, "http://exa mple.org/a.jpg"])
def test_bad_media_url_is_a_400(client, city, api_key, db_session, url):
    before = db_session.query(Case).count()
    assert_open311_error(post(client, api_key, media_url=url), 400, "media_url")
    assert db_session.query(Case).count() == before


def test_uncategorised_case_has_null_service_code(client, city, db_session):
    case = submit(db_session, category_code=None)[0]
    view = get_one(client, case.number)
    assert view["service_code"] is None and view["service_name"] is None
    element = get_one(client, case.number, "xml").find("service_code")
    assert element is not None and element.text is None


def test_merged_request_says_so_in_the_readers_language(client, city, api_key):
    master, child = new_case(client, api_key), new_case(client, api_key)
    run(client, city, child, [("clerk", "merge", {"into": master})])
    zh = get_one(client, child)["status_notes"]
    assert zh == f"本诉求已与案件 {master} 合并办理。"
    assert get_one(client, child, lang="en")["status_notes"] == f"This request was merged into case {master}."
    run(client, city, master, TO_HANDLING + [("road", "report_back", {"note": "已更换井盖"})])
    assert get_one(client, child)["status_notes"] == f"本诉求已与案件 {master} 合并办理。该案件的答复：已更换井盖"
    assert "That case's answer: 已更换井盖" in get_one(client, child, lang="en")["status_notes"]
    run(client, city, master, [("clerk", "request_check", {}), ("worker1", "check", {"outcome": "pass"}),
                               ("shift", "close", {})])
    closed = get_one(client, child)
    assert closed["status"] == "closed" and closed["status_notes"].startswith(f"本诉求已与案件 {master}")
    assert "closed with" not in closed["status_notes"]


def test_expected_datetime_is_the_handling_deadline(client, city, api_key, db_session):
    number = new_case(client, api_key)
    assert get_one(client, number)["expected_datetime"] is None  # reported: no handling deadline yet
    run(client, city, number, TO_HANDLING[:3])
    assert get_one(client, number)["expected_datetime"] is None  # dispatched: the sign clock is not it
    run(client, city, number, TO_HANDLING[3:])
    case = db_session.scalar(select(Case).where(Case.number == number))
    clock = db_session.scalar(select(StageClock).where(StageClock.case_id == case.id, StageClock.stage == "handle"))
    sign = db_session.scalar(select(StageClock).where(StageClock.case_id == case.id, StageClock.stage == "sign"))
    assert clock.due_at != sign.due_at
    assert get_one(client, number)["expected_datetime"] == local_iso(clock.due_at)
    run(client, city, number, [("road", "report_back", {"note": "好了"})])
    assert get_one(client, number)["expected_datetime"] is None  # handled: nothing more is expected


# --- 6. POST bounds and idempotency ------------------------------------------------------

@pytest.mark.parametrize("fields,fragment", [
    ({"description": "长" * 5001}, "description"),
    ({"address_string": "路" * 256, "lat": "", "long": ""}, "address_string"),
    ({"address_id": "x" * 256, "lat": "", "long": ""}, "address_id"),
    ({"first_name": "A" * 101}, "first_name"),
    ({"last_name": "B" * 101}, "last_name"),
    ({"first_name": "A" * 60, "last_name": "B" * 60}, "first_name/last_name"),
    ({"phone": "1" * 33}, "phone"),
    ({"account_id": "u" * 65}, "account_id"),
    ({"description": "bad\x00byte"}, "description"),
    ({"first_name": "A\x00"}, "first_name"),
    ({"service_code": "C01\x0001"}, "service_code"),
    ({"lat": "1e400"}, "lat"),
    ({"lat": "nan"}, "lat"),
    ({"long": "-1e308"}, "long"),
    ({"long": "east"}, "long"),
    ({"device_id": "d" * 100, "request_key": "r" * 40}, "device_id"),
    ({"service_code": "C" * 500}, "service_code"),
])
def test_bad_post_fields_are_400s_and_save_nothing(client, city, api_key, db_session, fields, fragment):
    before = db_session.query(Case).count()
    assert_open311_error(post(client, api_key, **fields), 400, fragment)
    assert db_session.query(Case).count() == before


def test_json_body_with_odd_types_is_a_400(client, city, api_key, db_session):
    body = {"api_key": api_key, "service_code": "C0101", "lat": POINT_G1[1], "long": POINT_G1[0],
            "description": ["not", "text"]}
    assert_open311_error(client.post("/open311/v2/requests.json", json=body), 400, "description")
    body.update(description="\ud800 lone surrogate")  # sent as the \ud800 escape: it has no UTF-8 form
    assert_open311_error(client.post("/open311/v2/requests.json", data=json.dumps(body),
                                     content_type="application/json"), 400, "description")
    body.update(description="好", lat=str(POINT_G1[1]), long=str(POINT_G1[0]))
    assert client.post("/open311/v2/requests.json", json=body).status_code == 201


def test_same_key_with_another_body_is_a_409(client, city, api_key, db_session):
    headers = {"Idempotency-Key": "device-7-request-0001"}
    assert post(client, api_key, headers=headers).status_code == 201
    assert post(client, api_key, headers=headers).status_code == 200
    before = db_session.query(Case).count()
    assert_open311_error(post(client, api_key, headers=headers, description="另一件事"), 409, "device-7-request-0001")
    assert_open311_error(post(client, api_key, headers=headers, media_url="https://example.org/x.jpg"), 409,
                         "device-7-request-0001")
    again = post(client, api_key, fmt="xml", headers=headers, description="另一件事")
    assert again.status_code == 409 and ET.fromstring(again.data).find("error/code").text == "409"
    first = post(client, api_key, device_id="phone-1", request_key="r-1")
    assert first.status_code == 201
    assert_open311_error(post(client, api_key, device_id="phone-1", request_key="r-1", description="改了"), 409,
                         "phone-1:r-1")
    assert db_session.query(Case).count() == before + 1


def test_a_key_of_another_sender_is_another_case(client, city, api_key, db_session):
    key = f"shared-key-{random.randrange(10**9)}"
    public = client.post("/api/v1/public/reports", json={"description": "路灯坏了", "lon": POINT_G1[0],
                                                         "lat": POINT_G1[1]},
                         headers={"Idempotency-Key": key},
                         environ_base={"REMOTE_ADDR": f"127.0.{random.randrange(1, 250)}.{random.randrange(1, 250)}"})
    assert public.status_code == 201, public.json
    mine = post(client, api_key, headers={"Idempotency-Key": key}, description="路灯坏了")
    assert mine.status_code == 201, mine.json
    assert mine.json[0]["service_request_id"] != public.json["number"]
    other_secret, _ = issue_token(db_session, StaffFactory(username="app311other", roles=["intake_clerk"]),
                                  ttl_hours=1)
    theirs = post(client, other_secret, headers={"Idempotency-Key": key}, description="路灯坏了")
    assert theirs.status_code == 201
    assert len({public.json["number"], mine.json[0]["service_request_id"], theirs.json[0]["service_request_id"]}) == 3
