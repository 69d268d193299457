"""The case list's filters: every value is checked (a bad one is a 422 naming the parameter,
not an empty list), ``channel`` filters, and ``grid`` takes any level of the hierarchy."""
from __future__ import annotations

from shapely.geometry import box
from sqlalchemy import update

from grid.models import Grid
from tests.dispatch.conftest import POINT_G1, POINT_G2, report


def numbers(client, city, query, who="dispatcher"):
    r = client.get(f"/api/v1/cases?{query}", headers=city.h(who))
    assert r.status_code == 200, r.json
    return {c["number"] for c in r.json["cases"]}


def refused(client, city, query, field):
    r = client.get(f"/api/v1/cases?{query}&lang=en", headers=city.h("dispatcher"))
    assert r.status_code == 422 and list(r.json["fields"]) == [field], (query, r.json)
    return r.json["fields"][field][0]


def test_bad_filter_values_are_422_naming_the_parameter(client, city):
    report(client, city)
    assert "bogus" in refused(client, city, "state=reported,bogus", "state")
    refused(client, city, "state=", "state")
    refused(client, city, "channel=fax", "channel")
    refused(client, city, "light=blue", "light")
    assert refused(client, city, "department=NOPE", "department") == "No department found: NOPE"
    assert refused(client, city, "category=ZZ99", "category") == "No category found: ZZ99"
    assert refused(client, city, "grid=999", "grid") == "No grid found: 999"
    refused(client, city, "since=2026-01-01", "since")


def test_state_and_channel_filters(client, city):
    by_worker = report(client, city)["number"]
    by_clerk = report(client, city, who="clerk", channel="hotline", reporter_phone="13800000000")["number"]
    assert {by_worker, by_clerk} <= numbers(client, city, "state=reported,accepted,opened")
    assert numbers(client, city, "channel=hotline") == {by_clerk}
    assert numbers(client, city, "channel=grid_worker,hotline") == {by_worker, by_clerk}
    assert numbers(client, city, "state=closed") == set()
    assert by_worker in numbers(client, city, "category=E0102")
    assert by_worker not in numbers(client, city, "category=C0101")
    numbers(client, city, "department=ENV")  # a known code is a filter, never a 422


def test_grid_filter_takes_any_level(client, city, db_session):
    g1 = report(client, city, point=POINT_G1)["number"]
    g2 = report(client, city, point=POINT_G2)["number"]
    assert numbers(client, city, "grid=31010100100101") == {g1}
    assert numbers(client, city, "grid=310101001") == {g1, g2}  # the street: both of its grids
    # a district above the street reaches the grids two levels down
    db_session.execute(update(Grid).where(Grid.code == "310101001").values(parent_code="310101"))
    db_session.add(Grid(code="310101", name="测试区", level="district", geom=box(121.40, 31.20, 121.42, 31.21),
                        area_m2=1))
    db_session.commit()
    assert numbers(client, city, "grid=310101") == {g1, g2}
