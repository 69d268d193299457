"""Open311 GeoReport v2: a 311 app reports into the same case model; answers validate
against the published JSON Schemas (../shared/data/open311-schemas)."""
import json
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from referencing import Registry, Resource

from dispatch.cases.models import Case
from grid.accounts.service import issue_token
from tests.conftest import shared_file
from tests.dispatch.conftest import POINT_G1, do
from tests.factories import StaffFactory


def validator(name):
    folder = shared_file("data", "open311-schemas", "request.json").parent
    from referencing.jsonschema import DRAFT7

    resources = {p.name: Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT7)
                 for p in folder.glob("*.json")}
    registry = Registry().with_resources(resources.items())
    return jsonschema.Draft7Validator(resources[name].contents, registry=registry,
                                      format_checker=jsonschema.FormatChecker())


@pytest.fixture
def api_key(db_session):
    account = StaffFactory(username="app311", roles=["intake_clerk"])
    secret, _ = issue_token(db_session, account, ttl_hours=24)
    db_session.commit()
    return secret


def post(client, api_key, fmt="json", **fields):
    form = {"api_key": api_key, "service_code": "C0101", "lat": str(POINT_G1[1]), "long": str(POINT_G1[0]),
            "description": "井盖破损", "first_name": "Ann", "phone": "13700000000", **fields}
    return client.post(f"/open311/v2/requests.{fmt}", data=form)


@pytest.mark.shared  # the Open311 JSON Schemas in ../shared
def test_services_and_definition_validate(client, city):
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 200
    validator("services.json").validate(r.json)
    assert {"service_code": "C0101", "group": "公用设施"}.items() <= r.json[0].items() or \
        any(s["service_code"] == "C0101" for s in r.json)
    d = client.get("/open311/v2/services/C0101.json")
    validator("service-definition.json").validate(d.json)
    assert client.get("/open311/v2/services/C01.json").status_code == 404  # a big class is not a service


@pytest.mark.shared  # the Open311 JSON Schemas in ../shared
def test_post_request_creates_a_case_and_reads_back(client, city, api_key, db_session):
    r = post(client, api_key)
    assert r.status_code == 201, r.json
    number = r.json[0]["service_request_id"]
    case = db_session.query(Case).filter_by(number=number).one()
    assert case.channel == "open311" and case.grid_code == "31010100100101" and case.reporter_name == "Ann"
    got = client.get(f"/open311/v2/requests/{number}.json")
    validator("requests.json").validate(got.json)
    assert got.json[0]["status"] == "open" and got.json[0]["service_code"] == "C0101"
    assert got.json[0]["requested_datetime"].endswith("+08:00")

    # the case runs through our lifecycle; Open311 sees it closed at the end
    for who, verb, extra in [("clerk", "accept", {}), ("shift", "open", {}), ("dispatcher", "dispatch", {}),
                             ("road", "sign", {}), ("road", "report_back", {"note": "已更换"}),
                             ("clerk", "request_check", {}), ("worker1", "check", {"outcome": "pass"}),
                             ("shift", "close", {})]:
        do(client, city, who, number, verb, **extra)
    closed = client.get("/open311/v2/requests.json?status=closed&service_code=C0101").json
    validator("requests.json").validate(closed)
    assert [x["service_request_id"] for x in closed] == [number]
    assert closed[0]["agency_responsible"] == "路政" and closed[0]["status_notes"] == "已更换"


def test_idempotent_with_key_and_xml(client, city, api_key, db_session):
    headers = {"Idempotency-Key": "device-42-req-0001"}
    a = client.post("/open311/v2/requests.json", data={"api_key": api_key, "service_code": "E0102",
                                                      "address_string": "南京东路1号"}, headers=headers)
    b = client.post("/open311/v2/requests.json", data={"api_key": api_key, "service_code": "E0102",
                                                      "address_string": "南京东路1号"}, headers=headers)
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json[0]["service_request_id"] == b.json[0]["service_request_id"]
    x = client.get(f"/open311/v2/requests/{a.json[0]['service_request_id']}.xml")
    assert x.status_code == 200 and x.mimetype == "text/xml"
    root = ET.fromstring(x.data)
    assert root.tag == "service_requests" and root.find("request/status").text == "open"


@pytest.mark.parametrize("fields,status,fragment", [
    ({"api_key": ""}, 403, "api_key"),
    ({"api_key": "not-a-key"}, 403, "api_key"),
    ({"service_code": "NOPE"}, 400, "service_code"),
    ({"lat": "", "long": ""}, 400, "lat"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": "95"}, 400, "lat"),
])
def test_errors_are_open311_lists_and_write_nothing(client, city, api_key, db_session, fields, status, fragment):
    before = db_session.query(Case).count()
    fields = {"api_key": api_key, **fields}
    r = post(client, fields.pop("api_key"), **fields)
    assert r.status_code == status
    assert isinstance(r.json, list) and r.json[0]["code"] == status and fragment in r.json[0]["description"]
    assert db_session.query(Case).count() == before


def test_staff_without_intake_role_cannot_submit(client, city, db_session):
    secret, _ = issue_token(db_session, city.staff["leader"], ttl_hours=1)
    db_session.commit()
    r = post(client, secret)
    assert r.status_code == 403


def test_unknown_request_and_format(client, city):
    assert client.get("/open311/v2/requests/NOPE.json").status_code == 404
    r = client.get("/open311/v2/services.yaml")
    assert r.status_code == 404 and r.json[0]["code"] == 404
