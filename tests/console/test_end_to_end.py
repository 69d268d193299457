"""One case from a citizen's phone to the leader's dashboard, every step through the pages a
person would use, in Debian's chromium (issue 9, "Must show"):

a citizen reports with a photo and "I don't know" as the category; the intake clerk finds it
in the queue by its words, reclassifies and relocates it and accepts it; the shift leader opens
it; the dispatcher finds its pin on the map and dispatches it from the case page the pin links
to; the department's handler signs and reports back; the clerk asks for the check and the grid
worker's check passes (the phone's call); the shift leader closes it; the citizen sees the
answer on the tracking page and rates it; the leader's dashboard shows one more closed and one
more rated case for the department than before. Once in zh-CN and once in en."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from grid.demo import DEMO_PASSWORD
from tests.console.conftest import screenshot
from tests.console.test_browser import case_of
from tests.console.test_browser import report as citizen_reports
from wangge.i18n import t

CATEGORY = "E0103"   # opened without auto-dispatch: the dispatcher sends it (the demo matrix: LH)
DEPARTMENT = "LH"
DESK = {"width": 1400, "height": 1000}
WORDS = {"zh-CN": {"lang": "zh"}, "en": {"lang": "en"}}


def sign_in(new_page, base, username, path, locale):
    page = new_page(locale, viewport=DESK)
    lang = WORDS[locale]["lang"]
    page.goto(f"{base}/console/login?next={path}")
    page.get_by_label(re.compile("账号|Account")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill(DEMO_PASSWORD)
    page.get_by_label(re.compile("密码|Password")).press("Enter")
    page.wait_for_url(re.compile(re.escape(path.split("?")[0])))
    if lang == "en":  # demo accounts prefer Chinese: the header's switch, remembered in a cookie
        page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang=en")
    return page


def case_ready(page):
    page.wait_for_selector('#case[data-ready="1"]')


def act(page, verb, **fields):
    """Open the verb's form on the case page, fill its fields, send it, wait for the new state."""
    case_ready(page)
    details = page.locator(f'details.verb[data-verb="{verb}"]')
    expect(details).to_have_count(1)
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = details.locator("form")
    for name, value in fields.items():
        control = form.locator(f"[name={name}]")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    before = page.get_attribute("#case", "data-version")
    form.locator("button[type=submit]").click()
    expect(page.locator("#c-actions-status")).not_to_be_empty()
    expect(form.locator(".form-error")).to_be_hidden()
    if before is not None:
        expect(page.locator("#case")).not_to_have_attribute("data-version", before)
    case_ready(page)


class Api:
    """The JSON API as a demo account (bearer token): the test's eyes, and the grid worker's phone."""

    def __init__(self, app, username):
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.json
        self.headers = {"Authorization": f"Bearer {r.json['token']}"}

    def get(self, path, **query):
        r = self.client.get(path, headers=self.headers, query_string=query)
        assert r.status_code == 200, (path, r.json)
        return r.json

    def post(self, path, body):
        r = self.client.post(path, headers=self.headers, json=body)
        assert r.status_code == 200, (path, r.json)
        return r.json


def relocate_by_a_tap(page):
    """The relocate form's other way: a tap on its small map of grid outlines sends lon, lat."""
    case_ready(page)
    details = page.locator('details.verb[data-verb="relocate"]')
    details.locator("summary").click()
    form = details.locator("form")
    page.wait_for_selector('.pick-map[data-grids-ready="1"]')
    form.locator(".pick-map").scroll_into_view_if_needed()
    box = form.locator(".pick-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2)
    expect(form.locator(".pick-map")).to_have_attribute("data-lon", re.compile(r"^1\d\d\."))
    before = page.get_attribute("#case", "data-version")
    form.locator("button[type=submit]").click()
    expect(page.locator("#case")).not_to_have_attribute("data-version", before)
    case_ready(page)


def worker_of(app, grid_code) -> str:
    """The username of a grid worker of the case's (new) grid, who checks on the phone."""
    from sqlalchemy import select

    from grid.models import GridAssignment, Staff
    from wangge.extensions import db

    with app.app_context():
        username = db.session.scalar(select(Staff.username).join(GridAssignment, GridAssignment.staff_id == Staff.id)
                                     .where(GridAssignment.grid_code == grid_code).limit(1))
        db.session.remove()
    assert username, grid_code
    return username


def department_id(app) -> str:
    from sqlalchemy import select

    from grid.models import Department
    from wangge.extensions import db

    with app.app_context():
        found = db.session.scalar(select(Department.id).where(Department.code == DEPARTMENT))
        db.session.remove()
    return str(found)


def department_row(page, key):
    row = page.locator(f'#d-table tbody tr[data-key="{key}"]')
    if row.count() == 0:
        return {"closed": 0, "rated": 0}
    return {col: int(row.locator(f'td[data-col="{col}"] .v').inner_text() or 0) for col in ("closed", "rated")}


def dashboard(new_page, base, locale):
    page = sign_in(new_page, base, "lingdao", "/console/dashboard", locale)
    page.wait_for_selector('#d-table[data-ready="1"]')
    page.locator("#d-by").select_option("department")
    page.wait_for_selector('#d-table[data-ready="1"][data-by="department"]')
    if not page.locator("#d-counts").is_checked():
        page.locator("#d-counts").check()
    return page


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_report_from_the_citizen_to_the_dashboard(live, new_page, tmp_path, locale):
    base, app = live
    eyes = Api(app, "lingdao")
    key = department_id(app)  # the KPI rows of departments are keyed by id
    leader = dashboard(new_page, base, locale)
    before = department_row(leader, key)

    # --- a citizen reports from a phone, with a photo, not knowing the category
    code, description = citizen_reports(new_page, base, locale, tmp_path, phone=True)
    number = case_of(app, code)[0]
    reported = eyes.get(f"/api/v1/cases/{number}")
    assert reported["category_code"] is None and reported["description"] == description

    # --- the intake clerk finds it by its words, reclassifies, relocates and accepts it
    clerk = sign_in(new_page, base, "shouli", "/console/queue", locale)
    clerk.get_by_label(re.compile("^(搜索|Search)")).fill(description)
    clerk.get_by_label(re.compile("^(搜索|Search)")).press("Enter")
    row = clerk.locator(f'#queue tbody tr[data-number="{number}"]')
    expect(row).to_be_visible()
    row.focus()
    clerk.keyboard.press("Enter")
    clerk.wait_for_url(re.compile(f"/console/cases/{number}"))
    act(clerk, "reclassify", category_code=CATEGORY)
    relocate_by_a_tap(clerk)
    case = eyes.get(f"/api/v1/cases/{number}")
    assert case["category_code"] == CATEGORY and case["grid_code"] and case["lon"] != reported["lon"]
    kinds = clerk.locator("#c-events li").evaluate_all("els => els.map(e => e.dataset.verb)")
    assert {"reclassify", "relocate"} <= set(kinds)
    act(clerk, "accept")
    screenshot(clerk, f"e2e-case-{locale}")

    # --- the shift leader opens it
    shift = sign_in(new_page, base, "zhiban", f"/console/cases/{number}", locale)
    act(shift, "open")
    assert eyes.get(f"/api/v1/cases/{number}")["state"] == "opened"

    # --- the dispatcher finds its pin on the map and dispatches it from the case page
    dispatcher = sign_in(new_page, base, "paiqian", "/console/map", locale)
    dispatcher.wait_for_selector('#map[data-grids-ready="1"][data-pins-ready="1"]')
    pin = dispatcher.locator(f'.map-pin[data-number="{number}"]')
    expect(pin).to_have_count(1)  # the demo city's few open cases come as pins, not clusters
    pin.click()
    dispatcher.locator(".map-case-link", has_text=number).click()
    dispatcher.wait_for_url(re.compile(f"/console/cases/{number}"))
    case_ready(dispatcher)
    assert dispatcher.locator('details.verb[data-verb="dispatch"] select[name=department_code]').input_value() \
        == DEPARTMENT  # the matrix's choice for the corrected category and place
    act(dispatcher, "dispatch")
    assert eyes.get(f"/api/v1/cases/{number}")["department"]["code"] == DEPARTMENT

    # --- the department's handler signs and reports back
    handler = sign_in(new_page, base, f"cz-{DEPARTMENT.lower()}", f"/console/cases/{number}", locale)
    act(handler, "sign")
    act(handler, "report_back", note="垃圾已清运 / rubbish removed")

    # --- the clerk asks for the check; the grid worker's phone says it passes
    clerk.reload()
    act(clerk, "request_check")
    Api(app, worker_of(app, case["grid_code"])).post(f"/api/v1/cases/{number}/actions/check", {"outcome": "pass"})

    # --- the shift leader closes it
    shift.reload()
    act(shift, "close")
    assert eyes.get(f"/api/v1/cases/{number}")["state"] == "closed"

    # --- the citizen sees the answer and rates it, once
    citizen = new_page(locale, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    citizen.goto(f"{base}/citizen/track?code={code}")
    citizen.wait_for_selector("#progress:not([hidden])")
    expect(citizen.locator("#p-state")).to_have_text(t("public_state_closed", lang=WORDS[locale]["lang"]))
    expect(citizen.locator("#p-answers")).to_contain_text("rubbish removed")
    citizen.locator("#rate [name=rating][value=satisfied]").check()
    citizen.locator("#rate-send").click()
    expect(citizen.locator("#p-rating")).to_be_visible()
    expect(citizen.locator("#rate")).to_be_hidden()
    assert eyes.get(f"/api/v1/cases/{number}")["rating"] == "satisfied"
    screenshot(citizen, f"e2e-citizen-rated-{locale}")

    # --- the leader's dashboard: one more closed and rated case for the department
    leader.locator("#d-refresh").click()
    leader.wait_for_selector('#d-table[data-ready="1"][data-by="department"]')
    expect(leader.locator(f'#d-table tbody tr[data-key="{key}"]')).to_have_count(1)
    after = department_row(leader, key)
    assert after == {"closed": before["closed"] + 1, "rated": before["rated"] + 1}, (before, after)
    screenshot(leader, f"e2e-dashboard-{locale}")
