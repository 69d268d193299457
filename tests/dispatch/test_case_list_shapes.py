"""The queue's query shapes of migration 0021 and after, over HTTP on PostGIS (and the
embedded SQLite file for the shapes' SQL): each answers exactly the cases its filters name,
in the list's order, page after page.

* ``sort=newest`` with a light and states (``state || ''``, read on the clocked indexes);
* a day range (migration 0023): ``newest`` by the time reported, a backdated report in its
  place, ties by id across page boundaries; the cases without a running clock of ``deadline``
  by the time reported, oldest first; the running ones in deadline order, whether the days
  ended long ago (read and sorted, ``walks``) or reach today (walked);
* the list's answer is what ``CaseListView`` would write from it (the page's clocks are rows,
  not StageClock objects; and the dump changes nothing, so the view could send the rows as
  they are);
* the counts for a grid worker's branches; each count stops at the ``count_cap`` setting and
  the answer names the numbers that did."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.workflow.schemas import CaseListView
from tests.api.test_case_search import counted, listed
from tests.dispatch.conftest import city  # noqa: F401 - the fixture
from tests.embedded.test_embedded_smoke import embedded_env, wangge
from tests.factories import CaseFactory, StageClockFactory
from wangge.timeutil import utcnow

STREET, G1, G2 = "310101001", "31010100100101", "31010100100102"


def lit_cases(db_session, env):
    """Cases in both grids of the street and outside it, in two states, each light and none."""
    from grid.models import Grid

    grids = {code: db_session.query(Grid).filter_by(code=code).one() for code in (G1, G2)}
    now = utcnow()
    lights = {"red": (-2, -1), "yellow": (-1, 1), "green": (1, 2)}
    made = {}
    for i, (light, (warn, due)) in enumerate(list(lights.items()) * 3):
        for state in ("handling", "dispatched"):
            grid = [grids[G1], grids[G2], None][i % 3]
            case = CaseFactory(state=state, department=env, grid=grid)
            db_session.flush()
            StageClockFactory(case=case, warn_at=now + timedelta(hours=warn), due_at=now + timedelta(hours=due))
            made[case.number] = (state, light, grid.code if grid else None)
    paused = CaseFactory(state="handling", department=env, grid=grids[G1])
    db_session.flush()
    StageClockFactory(case=paused, segment_started_at=None, consumed=3.9)
    made[paused.number] = ("handling", None, G1)
    plain = CaseFactory(state="handling", department=env, grid=grids[G2])  # no clock
    made[plain.number] = ("handling", None, G2)
    db_session.flush()
    return made


def test_newest_with_states_and_a_light_lists_exactly_those(client, city, db_session):  # noqa: F811
    made = lit_cases(db_session, city.departments["env"])
    h = city.h("dispatcher")
    for query in ({"state": "handling", "light": "red", "grid": STREET},
                  {"state": "handling,dispatched", "light": "green"},
                  {"state": "dispatched", "light": "yellow", "grid": G2},
                  {"state": "handling", "light": "yellow", "department": "ENV"}):
        states, grid = query["state"].split(","), query.get("grid")
        want = {n for n, (state, light, g) in made.items() if state in states and light == query["light"]
                and (grid is None or (g is not None and g.startswith(grid)))}
        for sort in ("newest", "deadline"):
            got = listed(client, h, limit=1, sort=sort, **query)
            assert set(got) == want and len(got) == len(want), (query, sort)
        assert listed(client, h, limit=2, **query) == sorted(want, key=lambda n: -_id(db_session, n))
        assert counted(client, h, **query)["total"] == len(want)


def _id(db_session, number):
    from dispatch.cases.models import Case

    return db_session.query(Case.id).filter_by(number=number).scalar()


def test_a_day_range_pages_in_the_order_reported(client, city, db_session):  # noqa: F811
    env = city.departments["env"]
    day = datetime(2024, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    old = [CaseFactory(state="closed", department=env, reported_at=day + timedelta(minutes=i)).number
           for i in range(4)]
    running = CaseFactory(state="handling", department=env, reported_at=day)  # ties with old[0]
    before = CaseFactory(state="closed", department=env, reported_at=day - timedelta(days=1)).number
    today = [CaseFactory(state="handling", department=env).number for _ in range(3)]  # outside the range
    # a hotline call of that day entered afterwards: the newest id, reported between old[1] and old[2]
    late = CaseFactory(state="closed", department=env, channel="hotline",
                       reported_at=day + timedelta(minutes=1, seconds=30)).number
    db_session.flush()
    StageClockFactory(case=running)
    h = city.h("dispatcher")
    days = {"reported_from": "2024-03-01", "reported_to": "2024-03-01"}
    newest = [old[3], old[2], late, old[1], running.number, old[0]]
    for limit in (1, 2, 50):  # every page boundary, the tie of running and old[0] across one
        assert listed(client, h, limit=limit, **days) == newest, limit
        assert listed(client, h, limit=limit, sort="deadline", **days) == [running.number, old[0], old[1], late,
                                                                          old[2], old[3]], limit
    assert listed(client, h, limit=1, state="closed", **days) == [n for n in newest if n != running.number]
    assert listed(client, h, limit=1, channel="hotline", **days) == [late]
    assert counted(client, h, **days)["total"] == 6
    # a range that reaches today: its running case walked in deadline order, then the rest by
    # the time reported (today's three, reported in the order made, by id among equal times)
    since = {"reported_from": "2024-02-29"}
    assert listed(client, h, limit=2, sort="deadline", **since) == [running.number, before, old[0], old[1], late,
                                                                    old[2], old[3], *today]
    assert listed(client, h, limit=3, **since) == [*reversed(today), *newest, before]


def test_the_answer_is_what_the_schema_would_write(client, city, db_session):  # noqa: F811
    lit_cases(db_session, city.departments["env"])
    CaseFactory(title=None, address=None, rating="satisfied", supervised=True)  # no department, no clock
    db_session.flush()
    for sort in ("newest", "deadline"):
        r = client.get("/api/v1/cases", query_string={"sort": sort, "limit": 500}, headers=city.h("dispatcher"))
        assert r.status_code == 200 and len(r.json["cases"]) == 21
        assert CaseListView().dump(r.json) == r.json
        assert any(c["clock"] and c["clock"]["paused"] for c in r.json["cases"])


def test_counts_of_a_grid_workers_branches(client, city, db_session):  # noqa: F811
    lit_cases(db_session, city.departments["env"])
    h = city.h("worker1")
    for query in ({}, {"state": "handling"}, {"light": "red"}):
        counts = counted(client, h, **query)
        assert counts["total"] == len(listed(client, h, limit=500, **query)), query
        for light in ("red", "yellow", "green"):
            if "light" not in query or query["light"] == light:
                assert counts["lights"][light] == len(listed(client, h, light=light, limit=500, **{
                    k: v for k, v in query.items() if k != "light"})), (query, light)


def test_counts_stop_at_the_cap_and_say_so(app, client, city, db_session, monkeypatch):  # noqa: F811
    """lit_cases: 6 red, 6 yellow, 6 green (2 states x 3 grids each), a paused and a plain
    case: 20 in all, 2 without a light."""
    lit_cases(db_session, city.departments["env"])
    h = city.h("dispatcher")
    exact = counted(client, h)
    assert exact == {"lights": {"green": 6, "yellow": 6, "red": 6, "none": 2}, "total": 20, "cap": 10_000,
                     "capped": []}
    for cap, lights, capped in ((20, {"green": 6, "yellow": 6, "red": 6, "none": 2}, []),
                                (6, {"green": 6, "yellow": 6, "red": 6, "none": None}, ["total"]),  # none not counted
                                (5, {"green": 5, "yellow": 5, "red": 5, "none": None}, ["green", "yellow", "red", "total"]),
                                (1, {"green": 1, "yellow": 1, "red": 1, "none": None}, ["green", "yellow", "red", "total"])):
        monkeypatch.setitem(app.config, "WANGGE", dataclasses.replace(app.config["WANGGE"], count_cap=cap))
        assert counted(client, h) == {"lights": lights, "total": cap, "cap": cap, "capped": capped}, cap
    # with filters, a light and a grid worker's branches
    assert counted(client, h, state="dispatched")["capped"] == ["green", "yellow", "red", "total"]
    monkeypatch.setitem(app.config, "WANGGE", dataclasses.replace(app.config["WANGGE"], count_cap=3))
    assert counted(client, h, light="red", grid=G1) == {"lights": {"green": 0, "yellow": 0, "red": 3, "none": 0},
                                                         "total": 3, "cap": 3, "capped": ["red", "total"]}  # 6
    assert counted(client, h, light="red", grid=G1, state="handling") == {  # 3: exactly the cap, not more
        "lights": {"green": 0, "yellow": 0, "red": 3, "none": 0}, "total": 3, "cap": 3, "capped": []}
    worker = counted(client, city.h("worker1"))
    assert worker["cap"] == 3 and set(worker["capped"]) <= {"green", "yellow", "red", "none", "total"}
    assert all(n <= 3 for n in (*worker["lights"].values(), worker["total"]) if n is not None)
    assert (worker["lights"]["none"] is None) == ("total" in worker["capped"])


@pytest.mark.parametrize("cap", ["0", "-5", "10000001", "99999999999999999999"])
def test_a_count_cap_out_of_range_is_refused_at_start(cap):
    from wangge.config import Settings

    with pytest.raises(ValueError, match="WANGGE_COUNT_CAP"):
        Settings.from_env({"WANGGE_COUNT_CAP": cap})
    assert Settings.from_env({"WANGGE_COUNT_CAP": "1"}).count_cap == 1


def test_the_shapes_on_sqlite(tmp_path):
    from grid.accounts.service import issue_token
    from tests.factories import DepartmentFactory, StaffFactory
    from wangge import create_app
    from wangge.config import Settings
    from wangge.extensions import db

    wangge(embedded_env(tmp_path / "var"), "init")
    app = create_app(Settings(data_dir=str(tmp_path / "var"), index_check_seconds=0, load_demo=False))
    with app.app_context():
        env = DepartmentFactory(code="ENV", name="环卫所")
        dispatcher = StaffFactory(roles=["dispatcher"])
        now = utcnow()
        red = CaseFactory(state="handling", department=env)
        green = CaseFactory(state="handling", department=env)
        day = datetime(2024, 3, 1, 4, 0, tzinfo=UTC)
        old = [CaseFactory(state="closed", department=env, reported_at=day + timedelta(minutes=i)) for i in range(3)]
        db.session.flush()
        StageClockFactory(case=red, warn_at=now - timedelta(hours=2), due_at=now - timedelta(hours=1))
        StageClockFactory(case=green, warn_at=now + timedelta(hours=1), due_at=now + timedelta(hours=2))
        h = {"Authorization": f"Bearer {issue_token(db.session, dispatcher, ttl_hours=1)[0]}"}
        numbers = {"red": red.number, "old": [c.number for c in old]}
        db.session.commit()
        client = app.test_client()
        assert listed(client, h, state="handling", light="red") == [numbers["red"]]
        days = {"reported_from": "2024-03-01", "reported_to": "2024-03-01"}
        assert listed(client, h, limit=2, **days) == list(reversed(numbers["old"]))
        assert listed(client, h, limit=2, sort="deadline", **days) == numbers["old"]
        assert counted(client, h)["lights"] == {"green": 1, "yellow": 0, "red": 1, "none": 3}
        assert counted(client, h, **days)["total"] == 3
        app.config["WANGGE"] = dataclasses.replace(app.config["WANGGE"], count_cap=2)
        assert counted(client, h) == {"lights": {"green": 1, "yellow": 0, "red": 1, "none": None}, "total": 2,
                                      "cap": 2, "capped": ["total"]}
        db.session.remove()
        db.engine.dispose()
