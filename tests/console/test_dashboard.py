"""The leaders' dashboard over HTTP: the page for leaders, admins and shift leaders (refused
to the roles next door, anonymous callers sent to sign in), and what it added to the
indicators' API: ``level`` with ``by=grid`` (the grids of a level, each summing the grids
under it), ``header=labels`` (a file's header row in the reader's language, also in the
background exports), bad input, and a statement count that does not grow with the rows."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest

from dispatch.indicators import kpi
from tests.api.test_statement_counts import counting
from tests.dispatch.conftest import city  # noqa: F401 - the fixture
from tests.factories import CaseFactory, GridFactory, StaffFactory
from wangge.timeutil import utcnow

ROLES_IN = [("leader",), ("admin",), ("shift_leader",)]
ROLES_OUT = [("intake_clerk",), ("grid_worker",)]


@pytest.mark.parametrize("roles", ROLES_IN)
def test_the_page_for_leaders_admins_and_shift_leaders(client, login, roles):
    headers = login(*roles)
    r = client.get("/console/dashboard", headers=headers)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert "<h1>领导驾驶舱</h1>" in html and 'data-timezone="Asia/Shanghai"' in html
    for control in ("d-period", "d-from", "d-to", "d-by", "d-level", "d-map-level", "d-map-measure"):
        assert f'<label for="{control}">' in html, control  # every control labelled
    assert 'id="d-chart" class="dash-chart" role="img" aria-label=' in html
    assert '"kpi_column_on_time_handling_rate": "按期处置率"' in html  # the script's words
    assert "<script>" not in html  # no inline script (CSP script-src 'self')
    en = client.get("/console/dashboard?lang=en", headers=headers).get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in en and ">Last 30 days</option>" in en and ">Export XLSX</button>" in en
    assert '"kpi_column_on_time_handling_rate": "On-time handling rate"' in en


@pytest.mark.parametrize("roles", ROLES_OUT)
def test_the_roles_next_door_are_refused_and_anonymous_callers_sent_to_sign_in(client, login, roles):
    r = client.get("/console/dashboard", headers=login(*roles))
    assert r.status_code == 403 and "领导驾驶舱" not in r.get_data(as_text=True).split("<main")[0]
    r = client.get("/console/dashboard")
    assert r.status_code == 302 and r.headers["Location"] == "/console/login?next=/console/dashboard"


def test_the_menu_entry_follows_the_roles(client, db_session):
    from tests.console.test_session import sign_in

    StaffFactory(username="boss", roles=["leader"])
    sign_in(client, "boss")
    assert 'href="/console/dashboard"' in client.get("/console/queue").get_data(as_text=True)


# --- the indicators by grid at a level ------------------------------------------------------------

@pytest.fixture
def tree(db_session):
    """A district, two streets, a community in each, unit grids under them, and cases
    reported today: 2 in g1, 1 in g2 (community c1), 3 in g3 (c2), 1 reported in c1 itself
    (coarser than a unit grid), 1 outside every grid. Returns the grids by name."""
    g = {"d": GridFactory(code="900001", level="district", name="示范区")}
    g["s1"] = GridFactory(code="900001001", level="street", parent_code="900001", name="一街道")
    g["s2"] = GridFactory(code="900001002", level="street", parent_code="900001", name="二街道", x=2)
    g["c1"] = GridFactory(code="900001001001", level="community", parent_code="900001001", name="一社区")
    g["c2"] = GridFactory(code="900001002001", level="community", parent_code="900001002", name="二社区", x=2)
    g["g1"] = GridFactory(code="90000100100101", parent_code="900001001001", name="网格一")
    g["g2"] = GridFactory(code="90000100100102", parent_code="900001001001", name="网格二", x=1)
    g["g3"] = GridFactory(code="90000100200101", parent_code="900001002001", name="网格三", x=2)
    for name, n in (("g1", 2), ("g2", 1), ("g3", 3), ("c1", 1)):
        for _ in range(n):
            CaseFactory(grid=g[name])
    CaseFactory()  # no grid
    db_session.flush()
    return g


def today() -> str:
    from zoneinfo import ZoneInfo

    return utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def by_grid(client, headers, **params):
    query = {"from": today(), "to": today(), "by": "grid", **params}
    r = client.get("/api/v1/kpi", query_string=query, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


@pytest.mark.parametrize(("level", "want"), [
    (None, {"90000100100101": 2, "90000100100102": 1, "90000100200101": 3, "900001001001": 1, None: 1}),
    ("grid", {"90000100100101": 2, "90000100100102": 1, "90000100200101": 3, "900001001001": 1, None: 1}),
    ("community", {"900001001001": 4, "900001002001": 3, None: 1}),
    ("street", {"900001001": 4, "900001002": 3, None: 1}),
    ("district", {"900001": 7, None: 1}),
])
def test_rows_of_the_grids_of_a_level_sum_the_grids_under_them(client, login, tree, level, want):
    body = by_grid(client, login("leader"), **({"level": level} if level else {}))
    assert body["level"] == level and body["by"] == "grid"
    assert {row["key"]: row["reports"] for row in body["rows"]} == want
    names = {row["key"]: row["name"] for row in body["rows"]}
    assert names.get("900001001") in (None, "一街道") and names.get("900001") in (None, "示范区")
    for row in body["rows"]:  # ratios recomputed from the summed counts
        assert row["valid_report_rate"] == (row["valid_reports"] / row["reports"] if row["reports"] else None)


def test_a_redrawn_grid_keeps_its_cases_under_its_parent(client, login, tree, db_session):
    # g2 redrawn: its old version ends, the current one moves under the other community
    old = tree["g2"]
    old.valid_to = utcnow() - timedelta(days=1)
    GridFactory(code=old.code, parent_code="900001002001", name="网格二（新）", x=3)
    db_session.flush()
    rows = {row["key"]: row for row in by_grid(client, login("leader"), level="community")["rows"]}
    assert rows["900001002001"]["reports"] == 4 and rows["900001001001"]["reports"] == 3  # the current version counts


def test_level_needs_grid_grouping_and_a_known_level(client, login, tree):
    headers = login("leader")
    base = {"from": today(), "to": today()}
    for params, field in [({"by": "department", "level": "street"}, "level"),
                          ({"by": "grid", "level": "planet"}, "level"),
                          ({"by": "grid", "header": "fancy", "format": "csv"}, "header"),
                          ({"from": "0001-01-01"}, "from"), ({"to": "9999-12-31"}, "to"),
                          ({"by": "grid", "level": 5}, "level")]:
        r = client.get("/api/v1/kpi", query_string={**base, **params}, headers=headers)
        assert r.status_code == 422 and field in r.json["fields"], (params, r.json)
        r = client.post("/api/v1/kpi/exports", query_string={**base, "format": "xlsx", **params}, headers=headers)
        assert r.status_code == 422 and field in r.json["fields"], (params, r.json)
    r = client.get("/api/v1/kpi", query_string={**base, "by": "grid", "level": "street\x00"}, headers=headers)
    assert r.status_code == 422 and r.json["code"] == "invalid_characters" and "level" in r.json["fields"]
    r = client.get("/api/v1/kpi", query_string={**base, "by": "grid", "level": "street"}, headers=login("grid_worker"))
    assert r.status_code == 403
    assert client.get("/api/v1/kpi", query_string={**base, "by": "grid", "level": "street"}).status_code == 401
    # a department handler: their department's facts grouped by street (none here)
    from tests.factories import DepartmentFactory

    dept = DepartmentFactory()
    r = client.get("/api/v1/kpi", query_string={**base, "by": "grid", "level": "street"},
                   headers=login("department_handler", department_id=dept.id))
    assert r.status_code == 200 and sum(row["reports"] for row in r.json["rows"]) == 0


def test_statements_do_not_grow_with_the_grids_found(client, login, tree, db_session):
    headers = login("leader")
    query = {"from": today(), "to": today(), "by": "grid", "level": "street"}

    def statements():
        client.get("/api/v1/kpi", query_string=query, headers=headers)  # warm
        with counting() as seen:
            r = client.get("/api/v1/kpi", query_string=query, headers=headers)
        assert r.status_code == 200
        return len(seen), r.json

    few, _ = statements()
    for i in range(20):  # twenty more unit grids under new communities of street s2, a case each
        c = GridFactory(code=f"900001002{i + 10:03d}", level="community", parent_code="900001002", x=5 + i)
        CaseFactory(grid=GridFactory(code=f"{c.code}01", parent_code=c.code, x=5 + i))
    db_session.commit()
    many, body = statements()
    assert {row["key"]: row["reports"] for row in body["rows"]}["900001002"] == 23
    assert many == few, (few, many)


def test_header_labels_in_the_readers_language(client, login, tree, app, monkeypatch):
    headers = login("leader")
    query = {"from": today(), "to": today(), "by": "grid", "level": "street"}
    r = client.get("/api/v1/kpi", query_string={**query, "format": "xlsx", "header": "labels"}, headers=headers)
    ws = openpyxl.load_workbook(io.BytesIO(r.data))["KPI"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["分组", "键", "编码", "名称"] and "按期处置率" in header and "上报数" in header
    assert header == [kpi.column_labels("zh")[c] for c in kpi.columns()]
    rows = {row[1]: row for row in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["900001001"][header.index("上报数")] == 4
    r = client.get("/api/v1/kpi", query_string={**query, "format": "xlsx", "header": "labels", "lang": "en"},
                   headers=headers)
    header = [c.value for c in openpyxl.load_workbook(io.BytesIO(r.data))["KPI"][1]]
    assert header[:4] == ["Grouping", "Key", "Code", "Name"] and "On-time handling rate" in header
    assert r.headers["Content-Disposition"].endswith(f"kpi-grid-street-{today()}-{today()}.xlsx")
    r = client.get("/api/v1/kpi", query_string={**query, "format": "csv", "header": "labels"}, headers=headers)
    assert next(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))[:2] == ["分组", "键"]
    r = client.get("/api/v1/kpi", query_string={**query, "format": "csv"}, headers=headers)  # default: names
    assert next(csv.reader(io.StringIO(r.data.decode("utf-8-sig")))) == kpi.columns()
    # every column has a label in both languages, and the labels differ between columns
    for lang in ("zh", "en"):
        labels = kpi.column_labels(lang)
        assert all(labels[c] != f"kpi_column_{c}" for c in kpi.columns()) and len(set(labels.values())) == len(labels)

    # the background export keeps level, header and language (made at once: Redis down)
    monkeypatch.setattr(app.config["WANGGE"], "redis_url", "redis://127.0.0.1:1/0")
    for lang, first in (("zh", "分组"), ("en", "Grouping")):
        r = client.post("/api/v1/kpi/exports", query_string={**query, "format": "xlsx", "header": "labels", "lang": lang},
                        headers=headers)
        assert r.status_code == 202 and r.json["state"] == "done", r.json
        assert r.json["filename"] == f"kpi-grid-street-{today()}-{today()}.xlsx"
        f = client.get(r.json["file_url"], headers=headers)
        ws = openpyxl.load_workbook(io.BytesIO(f.data))["KPI"]
        assert ws["A1"].value == first
        assert {row[1]: row[4] for row in ws.iter_rows(min_row=2, values_only=True)}["900001002"] == 3


def test_patrols_false_leaves_out_the_patrol_figures_and_their_statements(client, city):  # noqa: F811
    """The choropleth asks ``patrols=false``: the same counts of cases, no patrol figures, and
    none of the statements per worker and day that computing them takes."""
    from tests.dispatch.conftest import report
    from tests.mobile.fixtures_patrol import begin, line, local_day, start, upload

    patrol = start(client, city)
    t0 = begin()
    upload(client, city, patrol["id"], line(121.402, 121.404, 31.205, 9, t0))
    report(client, city)
    day = local_day(t0)
    query = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat(), "by": "grid", "level": "grid"}
    headers = city.h("leader")
    with counting() as seen:
        full = client.get("/api/v1/kpi", query_string=query, headers=headers).json["rows"]
    with_patrols = len(seen)
    with counting() as seen:
        lean = client.get("/api/v1/kpi", query_string={**query, "patrols": "false"}, headers=headers).json["rows"]
    assert len(seen) < with_patrols and any(row["reports"] for row in lean)
    assert any(row["patrol_area_m2"] for row in full) and not any(row["patrol_area_m2"] for row in lean)
    strip = ("patrol_seconds", "patrol_distance_m", "patrol_covered_m2", "patrol_area_m2", "patrol_coverage_rate",
             "score", "score_max")
    assert [{k: v for k, v in row.items() if k not in strip} for row in lean if row["reports"]] == \
        [{k: v for k, v in row.items() if k not in strip} for row in full if row["reports"]]
    r = client.get("/api/v1/kpi", query_string={**query, "patrols": "maybe"}, headers=headers)
    assert r.status_code == 422 and "patrols" in r.json["fields"]
