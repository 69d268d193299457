"""GET /api/m/v1/sync/pull through HTTP on PostGIS: first pull, changes since the cursor,
removals when an item leaves my view (redispatch, merge, another grid), never an item I
could never see, paging without gaps, bad cursors, scope changes, grids in any crs."""
from __future__ import annotations

import pytest

from geo.crs import convert_point
from mobile_api.inbox.cursor import decode, encode
from tests.dispatch.conftest import POINT_G1, do, report
from tests.factories import AssignmentFactory, CaseFactory
from tests.mobile.fixtures_inbox import PULL, dispatched, get


def pull(client, city, who, cursor=None, expect=200, **params):
    if cursor:
        params["cursor"] = cursor
    return get(client, city.h(who), PULL, expect, **params)


def updated(answer, table="cases"):
    return sorted(i["number"] for i in answer["changes"][table]["updated"])


def removed(answer, table="cases"):
    return answer["changes"][table]["removed"]


def settle(client, city, who, cursor=None):
    """Pull until has_more is false; the last answer's cursor."""
    while True:
        answer = pull(client, city, who, cursor)
        cursor = answer["cursor"]
        if not answer["has_more"]:
            return cursor


def test_anonymous_401(client, city):
    assert client.get(PULL).status_code == 401


def test_first_pull_is_what_i_see_then_nothing_until_something_changes(client, city):
    env_case = dispatched(client, city, "E0102", "ENV")
    road_case = dispatched(client, city, "C0101", "ROAD")
    first = pull(client, city, "env")
    assert updated(first) == [env_case] and not first["has_more"] and first["reset"] == []
    assert first["changes"]["grids"] == {"updated": [], "removed": []}  # a handler has no grids
    assert updated(pull(client, city, "road")) == [road_case]
    again = pull(client, city, "env", first["cursor"])
    assert updated(again) == [] and removed(again) == []
    do(client, city, "env", env_case, "sign")
    changed = pull(client, city, "env", again["cursor"])
    assert updated(changed) == [env_case] and changed["changes"]["cases"]["updated"][0]["state"] == "handling"
    assert updated(pull(client, city, "env", changed["cursor"])) == []
    # ROAD's handler was never told about ENV's case
    assert updated(pull(client, city, "road", settle(client, city, "road"))) == []


def test_redispatch_is_a_removal_for_the_old_department_and_news_for_the_new(client, city):
    n = dispatched(client, city, "E0102", "ENV")
    env_cursor = settle(client, city, "env")
    road_cursor = settle(client, city, "road")
    do(client, city, "dispatcher", n, "redispatch", department_code="ROAD")
    env = pull(client, city, "env", env_cursor)
    assert removed(env) == [n] and updated(env) == []
    road = pull(client, city, "road", road_cursor)
    assert updated(road) == [n] and removed(road) == []
    # worker2 (the other grid) could never see it: no removal naming it, no update
    w2 = pull(client, city, "worker2", settle(client, city, "worker2"))
    assert n not in updated(w2) + removed(w2)


def test_merge_is_a_removal(client, city):
    master = report(client, city, who="worker1", point=POINT_G1)["number"]
    child = report(client, city, who="worker1", point=POINT_G1, description="同一处垃圾")["number"]
    cursor = settle(client, city, "worker1")
    do(client, city, "clerk", child, "merge", into=master)
    answer = pull(client, city, "worker1", cursor)
    assert removed(answer) == [child]
    assert master not in removed(answer)
    w2 = pull(client, city, "worker2", settle(client, city, "worker2"))
    assert child not in removed(w2)


def test_case_moved_out_of_my_grid_is_removed(client, city, db_session):
    c = CaseFactory(grid=None, lon=POINT_G1[0], lat=POINT_G1[1], grid_code="31010100100101", state="reported")
    db_session.commit()
    w1, w2 = settle(client, city, "worker1"), settle(client, city, "worker2")
    c.grid_code = "31010100100102"  # corrected location: the other grid
    db_session.commit()
    assert removed(pull(client, city, "worker1", w1)) == [c.number]
    assert updated(pull(client, city, "worker2", w2)) == [c.number]


def test_pages_without_gaps_or_duplicates(client, city, db_session):
    made = [CaseFactory(state="dispatched", department_id=city.departments["env"].id).number for _ in range(7)]
    db_session.commit()
    seen, cursor, pages = [], None, 0
    while True:
        answer = pull(client, city, "env", cursor, limit=3)
        seen += updated(answer)
        cursor, pages = answer["cursor"], pages + 1
        if not answer["has_more"]:
            break
    assert pages == 3 and sorted(seen) == sorted(made)
    # seven changes (two feed rows each: the case and its new handle clock), paged through the feed
    for number in made:
        do(client, city, "env", number, "sign")
    seen, pages = [], 0
    while True:
        answer = pull(client, city, "env", cursor, limit=3)
        seen += updated(answer)
        cursor, pages = answer["cursor"], pages + 1
        if not answer["has_more"]:
            break
    assert sorted(set(seen)) == sorted(made) and pages >= 5
    assert updated(pull(client, city, "env", cursor)) == []


def test_a_new_grid_assignment_starts_again_with_reset(client, city, db_session):
    cursor = settle(client, city, "worker1")
    AssignmentFactory(staff=city.staff["worker1"], grid_code="31010100100102")
    other = CaseFactory(grid_code="31010100100102", state="reported")
    db_session.commit()
    answer = pull(client, city, "worker1", cursor)
    assert answer["reset"] == ["cases", "enforcement"]
    assert other.number in updated(answer)
    codes = [g["code"] for g in answer["changes"]["grids"]["updated"]]
    assert codes == ["31010100100101", "31010100100102"]


def test_my_grids_in_the_asked_system_and_only_when_changed(client, city):
    first = pull(client, city, "worker1", crs="bd09")
    [grid] = first["changes"]["grids"]["updated"]
    assert grid["code"] == "31010100100101" and grid["geometry"]["type"] == "Polygon"
    lon, lat = grid["geometry"]["coordinates"][0][0]
    expected = convert_point(121.41, 31.20, "wgs84", "bd09")
    assert {(round(x, 6), round(y, 6)) for x, y in grid["geometry"]["coordinates"][0]} >= {
        (round(expected[0], 6), round(expected[1], 6))}
    assert pull(client, city, "worker1", first["cursor"])["changes"]["grids"]["updated"] == []


def test_an_enforcement_referral_reaches_the_team(client, city):
    n = report(client, city, category="E0304", description="违章搭建")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    cursor = settle(client, city, "officer")
    c = do(client, city, "dispatcher", n, "refer_enforcement", note="移交执法")
    enf = c["events"][-1]["data"]["enforcement_number"]
    answer = pull(client, city, "officer", cursor)
    assert updated(answer, "enforcement") == [enf]
    assert updated(answer) == [n]  # the parent case: referred to my team
    assert updated(pull(client, city, "env", settle(client, city, "env")), "enforcement") == []


def _cursor_with(**parts):
    return encode({"v": 1, "s": parts})


@pytest.mark.parametrize("cursor", [
    "garbage!", "a\x00b", "x" * 5000, encode([1, 2]), encode({"v": 2, "s": {}}),
    _cursor_with(patrol={}), _cursor_with(cases={"m": "d", "h": "x", "s": [-1, [], None]}),
    _cursor_with(cases={"m": "d", "h": "x", "s": [10, [11], None]}),
    _cursor_with(cases={"m": "d", "h": "x", "s": [2**64, [], None]}),
    _cursor_with(cases={"m": "i", "h": "x", "n": [1, [], None], "c": "0", "e": 0}),
    _cursor_with(cases={"m": "d", "h": "x", "s": [1, [], None], "p": [1]}),
    _cursor_with(grids=[["a", "b"]]),
])
def test_bad_cursors_are_422_naming_the_cursor(client, city, cursor):
    r = client.get(PULL, query_string={"cursor": cursor}, headers=city.h("env"))
    assert r.status_code == 422, r.json
    assert "cursor" in r.json["fields"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"crs": "x"}, {"since": "2025-01-01"}])
def test_bad_parameters_are_422(client, city, params):
    assert client.get(PULL, query_string=params, headers=city.h("env")).status_code == 422


def test_the_cursor_is_the_servers_not_a_clock(client, city):
    cursor = decode(pull(client, city, "env")["cursor"])
    assert set(cursor["s"]) == {"cases", "grids", "notifications"}
    assert cursor["s"]["cases"]["m"] == "d" and isinstance(cursor["s"]["cases"]["s"][0], int)
