"""A small city for dispatch tests: one street with two grids, a grid worker on each, the
dispatch center roles, two departments with handlers, and matrix rules for E0102."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from shapely.geometry import box

from grid.accounts.service import issue_token
from tests.factories import (
    AssignmentFactory,
    DepartmentFactory,
    GridFactory,
    ResponsibilityFactory,
    StaffFactory,
)
from tests.markers import mark_by_fixtures


def pytest_collection_modifyitems(items):
    mark_by_fixtures(__file__, items)  # markers from the fixtures used (tests/markers.py)


@dataclass
class City:
    headers: dict
    staff: dict
    departments: dict

    def h(self, who: str) -> dict:
        return self.headers[who]


POINT_G1 = (121.405, 31.205)
POINT_G2 = (121.415, 31.205)


@pytest.fixture
def city(db_session):
    s = db_session
    GridFactory(code="310101001", name="测试街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21), area_m2=1)
    GridFactory(code="31010100100101", name="一号网格", parent_code="310101001",
                geom=box(121.40, 31.20, 121.41, 31.21), area_m2=1)
    GridFactory(code="31010100100102", name="二号网格", parent_code="310101001",
                geom=box(121.41, 31.20, 121.42, 31.21), area_m2=1)
    depts = {"env": DepartmentFactory(code="ENV", name="环卫所"), "road": DepartmentFactory(code="ROAD", name="路政"),
             "dc": DepartmentFactory(code="DC", name="指挥中心", kind="dispatch_center"),
             "zf": DepartmentFactory(code="ZF", name="综合执法大队", kind="enforcement_team")}
    people = {
        "worker1": StaffFactory(roles=["grid_worker"], phone="13900000001"),
        "worker2": StaffFactory(roles=["grid_worker"], phone="13900000002"),
        "clerk": StaffFactory(roles=["intake_clerk"], department_id=depts["dc"].id),
        "shift": StaffFactory(roles=["shift_leader"], department_id=depts["dc"].id),
        "dispatcher": StaffFactory(roles=["dispatcher"], department_id=depts["dc"].id),
        "env": StaffFactory(roles=["department_handler"], department_id=depts["env"].id),
        "road": StaffFactory(roles=["department_handler"], department_id=depts["road"].id),
        "leader": StaffFactory(roles=["leader"]),
        "zfleader": StaffFactory(roles=["enforcement_leader"], department_id=depts["zf"].id),
        "officer": StaffFactory(roles=["enforcement_officer"], department_id=depts["zf"].id),
    }
    since = datetime(2020, 1, 1, tzinfo=UTC)  # tests travel in time; the workers were there all along
    AssignmentFactory(staff=people["worker1"], grid_code="31010100100101", valid_from=since)
    AssignmentFactory(staff=people["worker2"], grid_code="31010100100102", valid_from=since)
    ResponsibilityFactory(category_code="E0102", department=depts["env"])
    ResponsibilityFactory(category_code="C0101", department=depts["road"])
    ResponsibilityFactory(category_code="E0304", department=depts["road"])
    headers = {}
    for name, person in people.items():
        secret, _ = issue_token(s, person, ttl_hours=1)
        headers[name] = {"Authorization": f"Bearer {secret}"}
    s.commit()
    return City(headers, people, depts)


def report(client, city, who="worker1", point=POINT_G1, category="E0102", **extra):
    body = {"description": "路边有暴露垃圾", "category_code": category, "lon": point[0], "lat": point[1], **extra}
    r = client.post("/api/v1/cases", json=body, headers=city.h(who))
    assert r.status_code in (200, 201), r.json
    return r.json


def do(client, city, who, number, verb, expect=200, **body):
    r = client.post(f"/api/v1/cases/{number}/actions/{verb}", json=body, headers=city.h(who))
    assert r.status_code == expect, (verb, r.json)
    return r.json
