"""The two reads the enforcement page needed that the API lacked (dispatch/enforcement/views.py):
``GET /api/v1/enforcement/counts`` (referrals per stage, seen as the list sees them) and
``GET /api/v1/enforcement/officers`` (whom the team leader may name). Through HTTP on PostGIS,
as an attacker too: the role next door, another team, unknown parameters."""
from __future__ import annotations

import pytest

from tests.dispatch.conftest import city  # noqa: F401 - the small city of the dispatch tests
from tests.dispatch.test_enforcement import (
    advance,
    enf_number,
    post,
    refer_by_department,
    refer_by_dispatcher,
)
from tests.factories import DepartmentFactory, StaffFactory

API = "/api/v1/enforcement"
ALL = ["accept", "investigate", "decide", "execute", "close", "closed"]


def counts(client, headers, expect=200):
    r = client.get(f"{API}/counts", headers=headers)
    assert r.status_code == expect, r.json
    return r.json


def test_counts_per_stage_follow_the_referrals(client, city):  # noqa: F811
    zero = dict.fromkeys(ALL, 0)
    assert counts(client, city.h("zfleader")) == {"counts": zero}
    _, first = refer_by_dispatcher(client, city)
    _, second = refer_by_department(client, city, point=(121.409, 31.205), address="测试路 99 号")
    a, b = enf_number(first), enf_number(second)
    assert counts(client, city.h("zfleader"))["counts"] == {**zero, "accept": 2}
    post(client, city.h("zfleader"), f"{API}/{a}/officers", staff_ids=[city.staff["officer"].id])
    advance(client, city, "zfleader", a, "investigate")
    seen = counts(client, city.h("dispatcher"))["counts"]
    assert seen == {**zero, "accept": 1, "investigate": 1}
    # the same referrals as the list: the department sees those of its own cases only
    assert counts(client, city.h("road"))["counts"] == {**zero, "accept": 1}
    listed = client.get(f"{API}?stage=accept", headers=city.h("road")).json["enforcement_cases"]
    assert [e["number"] for e in listed] == [b]
    assert counts(client, city.h("env"))["counts"] == zero


def test_another_team_counts_nothing_of_ours(client, city, login):  # noqa: F811
    refer_by_dispatcher(client, city)
    other = DepartmentFactory(code="ZF2", name="二队", kind="enforcement_team")
    assert counts(client, login("enforcement_leader", department_id=other.id))["counts"]["accept"] == 0
    assert counts(client, city.h("leader"))["counts"]["accept"] == 1


@pytest.mark.parametrize("who", ["worker1"])
def test_counts_are_refused_to_grid_workers_and_take_no_parameters(client, city, who):  # noqa: F811
    assert counts(client, city.h(who), 403)["code"] == "forbidden_role"
    r = client.get(f"{API}/counts?stage=accept", headers=city.h("zfleader"))
    assert r.status_code == 422 and "stage" in r.json["fields"]
    assert client.get(f"{API}/counts").status_code == 401


def test_officers_lists_the_active_officers_of_my_team_only(client, city, db_session):  # noqa: F811
    team = city.departments["zf"]
    second = StaffFactory(roles=["enforcement_officer"], department_id=team.id, name="甲队员")
    StaffFactory(roles=["enforcement_officer"], department_id=team.id, active=False, name="停用队员")
    StaffFactory(roles=["department_handler"], department_id=team.id, name="不是队员")
    other = DepartmentFactory(code="ZF3", name="三队", kind="enforcement_team")
    StaffFactory(roles=["enforcement_officer"], department_id=other.id, name="别队队员")
    r = client.get(f"{API}/officers", headers=city.h("zfleader"))
    assert r.status_code == 200
    names = {o["name"]: o["id"] for o in r.json["officers"]}
    assert names == {city.staff["officer"].name: city.staff["officer"].id, "甲队员": second.id}
    # exactly those the leader may name: each is accepted by POST /officers
    _, case = refer_by_dispatcher(client, city)
    number = enf_number(case)
    done = post(client, city.h("zfleader"), f"{API}/{number}/officers", staff_ids=list(names.values()))
    assert sorted(o["id"] for o in done["officers"]) == sorted(names.values())


@pytest.mark.parametrize("who", ["officer", "leader", "dispatcher", "road", "worker1"])
def test_officers_is_for_the_team_leader(client, city, who):  # noqa: F811
    r = client.get(f"{API}/officers", headers=city.h(who))
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"


def test_a_team_leader_without_a_team_gets_an_empty_list(client, city, login):  # noqa: F811
    r = client.get(f"{API}/officers", headers=login("enforcement_leader"))
    assert r.status_code == 200 and r.json == {"officers": []}
    r = client.get(f"{API}/officers?team=ZF", headers=city.h("zfleader"))
    assert r.status_code == 422 and "team" in r.json["fields"]
