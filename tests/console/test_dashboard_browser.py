"""The leaders' dashboard in Debian's chromium (Playwright) on the demo city, zh-CN and en:
cases closed and rated through the API, the table's figures equal to the API's answer, the
chart's canvas, the red list with an overdue case, the choropleth of the streets, an XLSX
export run to the end and opened with openpyxl (headers in the page's language), and, after
one more case is closed, the refresh button showing the new figures. A screenshot each."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl
import pytest
from playwright.sync_api import expect
from rq import Queue, SimpleWorker

from tests.console.conftest import screenshot

WORDS = {"zh-CN": {"title": "领导驾驶舱", "first": "分组", "rate": "按期处置率", "group": "部门"},
         "en": {"title": "Dashboard", "first": "Grouping", "rate": "On-time handling rate", "group": "Department"}}


class Desk:
    """The demo city's staff acting on cases through the JSON API (the live app's client)."""

    def __init__(self, app):
        from sqlalchemy import select

        from grid.accounts.service import issue_token
        from grid.models import Staff
        from wangge.extensions import db

        self.client = app.test_client()
        self.tokens = {}
        with app.app_context():
            for who in ("wgy001", "shouli", "zhiban", "paiqian", "lingdao"):
                staff = db.session.scalar(select(Staff).where(Staff.username == who))
                self.tokens[who] = issue_token(db.session, staff, ttl_hours=2)[0]
            self.handlers = {s.department_id: s.username for s in db.session.scalars(
                select(Staff).where(Staff.username.like("cz-%")))}
            for s in db.session.scalars(select(Staff).where(Staff.username.like("cz-%"))):
                self.tokens[s.username] = issue_token(db.session, s, ttl_hours=2)[0]
            db.session.commit()
            db.session.remove()

    def h(self, who):
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def do(self, who, number, verb, **body):
        r = self.client.post(f"/api/v1/cases/{number}/actions/{verb}", json=body, headers=self.h(who))
        assert r.status_code == 200, (verb, r.json)
        return r.json

    def get(self, path, who="lingdao"):
        r = self.client.get(path, headers=self.h(who))
        assert r.status_code == 200, (path, r.json)
        return r.json

    def report(self, point):
        r = self.client.post("/api/v1/cases", headers=self.h("wgy001"), json={
            "description": "井盖破损", "category_code": "C0101", "lon": point[0], "lat": point[1]})
        assert r.status_code in (200, 201), r.json
        return r.json["number"]

    def handled_and_checked(self, point):
        """A worker's report accepted, opened, dispatched, reported back and checked."""
        number = self.report(point)
        self.do("shouli", number, "accept")
        case = self.do("zhiban", number, "open")
        if case["state"] == "opened":
            case = self.do("paiqian", number, "dispatch")
        handler = next(u for u in self.tokens if u.startswith("cz-")
                       and u == f"cz-{case['department']['code'].lower()}")
        if case["state"] == "dispatched":
            self.do(handler, number, "sign")
        self.do(handler, number, "report_back", note="已修复")
        self.do("shouli", number, "request_check")
        self.do("wgy001", number, "check", outcome="pass")
        return number

    def close_and_rate(self, number):
        self.do("zhiban", number, "close")
        self.do("shouli", number, "rate", rating="satisfied")


@pytest.fixture(scope="module")
def dash(live):
    """Two cases closed and rated, one handled and checked (closed later by the test), one
    overdue (its clock's copy red) and one supervised."""
    from sqlalchemy import select

    from grid.models import Grid, GridAssignment, Staff
    from tests.factories import CaseFactory
    from wangge.extensions import db
    from wangge.timeutil import utcnow

    _, app = live
    desk = Desk(app)
    with app.app_context():
        worker = db.session.scalar(select(Staff.id).where(Staff.username == "wgy001"))
        codes = db.session.scalars(select(GridAssignment.grid_code).where(GridAssignment.staff_id == worker)).all()
        grid = db.session.scalar(select(Grid).where(Grid.code == sorted(codes)[0], Grid.valid_to.is_(None)))
        point = grid.geom.representative_point()
        other = db.session.scalars(select(Grid).where(Grid.level == "grid", Grid.valid_to.is_(None))
                                   .order_by(Grid.code.desc()).limit(1)).one()
        now = utcnow()
        red = CaseFactory(state="handling", grid=other, lon=other.geom.centroid.x, lat=other.geom.centroid.y,
                          title="红灯案件", clock_due_at=now - timedelta(hours=1), clock_warn_at=now - timedelta(hours=2))
        supervised = CaseFactory(state="handling", grid=other, supervised=True, title="督办案件")
        numbers = {"red": red.number, "supervised": supervised.number}
        db.session.commit()
        db.session.remove()
    for name in ("a", "b"):
        numbers[name] = desk.handled_and_checked((point.x, point.y))
        desk.close_and_rate(numbers[name])
    numbers["c"] = desk.handled_and_checked((point.x, point.y))
    return desk, numbers


def export_queue(app):
    from redis import Redis

    settings = app.config["WANGGE"]
    return Queue(settings.queue_name, connection=Redis.from_url(settings.redis_url))


def sign_in(page, base, lang):
    page.goto(f"{base}/console/login?next=/console/dashboard")
    page.get_by_label(re.compile("账号|Account")).fill("lingdao")
    page.get_by_label(re.compile("密码|Password")).fill("wangge-demo")
    page.get_by_label(re.compile("密码|Password")).press("Enter")
    page.wait_for_url(re.compile(r"/console/dashboard"))
    if lang == "en":
        page.goto(f"{base}/console/dashboard?lang=en")


def ready(page):
    page.wait_for_selector('#d-table[data-ready="1"]')
    page.wait_for_selector('#d-map[data-ready="1"]')


def percent(value):
    return "—" if value is None else f"{value * 100:.1f}%"


def assert_table_is_the_api(page, desk):
    table = page.locator("#d-table")
    query = {k: table.get_attribute(f"data-{k}") for k in ("from", "to", "by")}
    answer = desk.get(f"/api/v1/kpi?from={query['from']}&to={query['to']}&by={query['by']}")
    assert len(answer["rows"]) >= 1
    assert page.locator("#d-table tbody tr").count() == len(answer["rows"])
    for row in answer["rows"]:
        key = "" if row["key"] is None else str(row["key"])
        tr = page.locator(f'#d-table tbody tr[data-key="{key}"]')
        for col in ("on_time_handling_rate", "closing_rate", "satisfaction_rate", "valid_report_rate", "rework_rate"):
            assert tr.locator(f'td[data-col="{col}"] .v').inner_text() == percent(row[col]), (key, col)
        score = "—" if row["score"] is None else f"{row['score']:.1f}"
        assert tr.locator('td[data-col="score"] .v').inner_text() == score
    return answer


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_dashboard_shows_the_apis_figures_and_exports_them(live, new_page, dash, locale):
    base, app = live
    desk, numbers = dash
    words = WORDS[locale]
    page = new_page(locale, viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    sign_in(page, base, "en" if locale == "en" else "zh")
    ready(page)
    assert page.locator("h1").inner_text() == words["title"]
    answer = assert_table_is_the_api(page, desk)
    closed = {row["code"]: row["closed"] for row in answer["rows"] if row["closed"]}
    assert sum(closed.values()) >= 2  # the two closed cases are in this month's figures
    # the chart: a canvas, labelled
    assert page.locator("#d-chart canvas").count() >= 1
    assert words["rate"] in page.get_attribute("#d-chart", "aria-label")
    # the red list: the overdue case, linking to its page; the supervised one
    page.wait_for_selector('#d-red[data-ready="1"]')
    link = page.locator(f'#d-red li[data-number="{numbers["red"]}"] a')
    expect(link).to_have_attribute("href", f"/console/cases/{numbers['red']}")
    expect(page.locator(f'#d-supervised li[data-number="{numbers["supervised"]}"]')).to_be_visible()
    # the choropleth: the demo city's four streets, the one with the cases coloured, a legend
    assert page.get_attribute("#d-map", "data-grids") == "4" and int(page.get_attribute("#d-map", "data-coloured")) >= 1
    assert page.locator("#d-map .leaflet-overlay-pane canvas").count() == 1
    assert page.locator("#d-map-legend li").count() >= 2
    page.get_by_label(re.compile("着色指标|Coloured by"), exact=False).select_option("closed")
    page.wait_for_selector('#d-map[data-ready="1"]')
    # the table in another grouping, by grid at the level of communities
    page.get_by_label(re.compile("^(分组方式|Group by)$")).select_option("grid")
    page.get_by_label(re.compile("^(网格层级|Grid level)$")).first.select_option("community")
    page.wait_for_selector('#d-table[data-ready="1"][data-level="community"]')
    assert page.locator("#d-table tbody tr").count() >= 1
    screenshot(page, f"dashboard-{locale}")

    # the export: queued on the real Redis, run by an rq worker, progress polled until the file
    queue = export_queue(app)
    queue.empty()
    page.get_by_role("button", name=re.compile("导出 XLSX|Export XLSX")).click()
    page.wait_for_selector("#d-export-progress:not([hidden])")
    expect(page.locator("#d-export-status")).not_to_be_empty()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    link = page.locator("#d-export-link")
    expect(link).to_be_visible()
    assert page.get_attribute("#d-export-progress", "value") == "100"
    with page.expect_download() as info:
        link.click()
    ws = openpyxl.load_workbook(io.BytesIO(open(info.value.path(), "rb").read()))["KPI"]
    header = [c.value for c in ws[1]]
    assert header[0] == words["first"] and words["rate"] in header
    assert ws.max_row >= 2

    if locale != "zh-CN":
        return
    # a case closed and rated now: the refresh button shows it (nothing kept from before)
    page.get_by_label(re.compile("^(分组方式|Group by)$")).select_option("department")
    page.wait_for_selector('#d-table[data-ready="1"][data-by="department"]')
    before = assert_table_is_the_api(page, desk)
    desk.close_and_rate(numbers["c"])
    page.get_by_role("button", name="刷新").focus()  # by keyboard
    page.keyboard.press("Enter")
    ready(page)
    after = assert_table_is_the_api(page, desk)
    assert sum(r["closed"] for r in after["rows"]) == sum(r["closed"] for r in before["rows"]) + 1
    assert sum(r["rated"] for r in after["rows"]) == sum(r["rated"] for r in before["rows"]) + 1
    page.locator("#d-counts").focus()
    page.keyboard.press("Space")
    expect(page.locator("#d-counts")).to_be_checked()
    code_row = next(r for r in after["rows"] if r["closed"])
    key = str(code_row["key"])
    assert page.locator(f'#d-table tbody tr[data-key="{key}"] td[data-col="closed"] .v').inner_text() == str(code_row["closed"])
