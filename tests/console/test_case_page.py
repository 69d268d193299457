"""The case page in Debian's chromium (Playwright), on the demo city: each desk role acts on a
case through the page (the intake clerk accepts, the shift leader opens, the dispatcher
dispatches choosing a department) and the API confirms the state; a form error shows the
API's message next to the form and changes nothing; a person with no verb sees no form; a
handler of another department cannot see the case; a stale page gets the conflict message.
zh-CN and en, a screenshot each (``case-<locale>.png``)."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from dispatch.cases.lifecycle import VERBS
from grid.demo import DEMO_PASSWORD
from tests.console.conftest import screenshot

CATEGORY = "E0103"  # not dispatched automatically when opened; the demo matrix sends it to LH


class Api:
    """The JSON API of the live app, as a signed-in demo account (bearer token)."""

    def __init__(self, app, username):
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.json
        self.headers = {"Authorization": f"Bearer {r.json['token']}"}

    def get(self, path):
        return self.client.get(path, headers=self.headers)

    def post(self, path, **kwargs):
        return self.client.post(path, headers=self.headers, **kwargs)

    def case(self, number) -> dict:
        r = self.get(f"/api/v1/cases/{number}")
        assert r.status_code == 200, r.json
        return r.json


def report(clerk: Api, lon: float, lat: float, description: str, photo: bool = False) -> str:
    attachments = []
    if photo:
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (120, 90, 60)).save(buf, "PNG")  # no EXIF: flagged
        r = clerk.post("/api/v1/attachments", data={"file": (io.BytesIO(buf.getvalue()), "scene.png")},
                       content_type="multipart/form-data")
        assert r.status_code == 201, r.json
        attachments = [r.json["id"]]
    r = clerk.post("/api/v1/cases", json={"description": description, "category_code": CATEGORY, "lon": lon,
                                          "lat": lat, "address": "南京东路 100 号", "reporter_name": "张先生",
                                          "reporter_phone": "13800001234", "attachments": attachments})
    assert r.status_code == 201, r.json
    return r.json["number"]


@pytest.fixture(scope="module")
def cases(live):
    """Three reports by the intake clerk's desk entry in one unit grid of the demo city: an
    earlier one, a later one 20 m away with a photo (flagged as its possible duplicate), and
    one for the English test. Returns (numbers, the clerk's Api)."""
    from sqlalchemy import select

    from grid.models import Grid
    from wangge.extensions import db

    _, app = live
    with app.app_context():
        grid = db.session.scalars(select(Grid).where(Grid.level == "grid", Grid.valid_to.is_(None))
                                  .order_by(Grid.code).offset(12).limit(1)).one()
        point, code = grid.geom.representative_point(), grid.code
        db.session.remove()
    clerk = Api(app, "shouli")
    earlier = report(clerk, point.x, point.y, "人行道上有一堆暴露垃圾")
    main = report(clerk, point.x + 0.0002, point.y, "人行道上垃圾堆积，气味很大", photo=True)
    english = report(clerk, point.x - 0.0003, point.y + 0.0003, "Rubbish left by the bus stop")
    return {"earlier": earlier, "main": main, "english": english, "grid": code}, clerk


def sign_in(page, base, username, number, lang=""):
    page.goto(f"{base}/console/login?next=/console/cases/{number}{'?lang=' + lang if lang else ''}")
    page.get_by_label(re.compile("账号|Account")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill(DEMO_PASSWORD)
    page.get_by_label(re.compile("密码|Password")).press("Enter")
    page.wait_for_url(re.compile(rf"/console/cases/{number}"))


def ready(page):
    page.wait_for_selector('#case[data-ready="1"]')


def verb_form(page, verb):
    """The verb's disclosure, opened; returns its form."""
    details = page.locator(f'details.verb[data-verb="{verb}"]')
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details.locator("form")


def test_the_desk_moves_a_case_through_the_page(live, new_page, cases):
    base, app = live
    numbers, clerk = cases
    number = numbers["main"]

    # --- the intake clerk: everything about the case, then reject without a note, then accept
    page = new_page("zh-CN", viewport={"width": 1400, "height": 1000})
    sign_in(page, base, "shouli", number)
    ready(page)
    assert page.locator("h1").inner_text() == f"案件 {number}"
    expect(page.locator("#c-state")).to_have_text("待受理")
    expect(page.locator("#c-category")).to_contain_text(CATEGORY)
    expect(page.locator("#c-grid")).to_contain_text(numbers["grid"])  # and its chain up to the district
    assert page.locator("#c-grid .chain").inner_text().count("›") >= 2
    expect(page.locator("#c-reporter")).to_contain_text("13800001234")
    expect(page.locator("#c-address")).to_have_text("南京东路 100 号")
    photo = page.locator("#c-photos li.photo")
    expect(photo).to_have_count(1)
    assert set(photo.locator(".flag").evaluate_all("els => els.map(e => e.dataset.flag)")) >= {"no_capture_time"}
    expect(photo.locator('.flag[data-flag="no_capture_time"]')).to_have_text("无拍摄时间（EXIF）")
    expect(page.locator('#c-events li[data-verb="submit"]')).to_have_count(1)
    expect(page.locator("#c-dup-of a")).to_have_text(numbers["earlier"])  # flagged at intake
    expect(page.locator("#c-nearby a", has_text=numbers["earlier"])).to_have_attribute(
        "href", f"/console/cases/{numbers['earlier']}")
    expect(page.locator("#c-routing li.chosen")).to_have_count(1)  # the matrix rule that decides
    expect(page.locator("#c-clock")).to_contain_text("此状态不计时")  # reported: no clock yet
    verbs = page.get_attribute("#c-actions", "data-verbs").split(",")
    assert {"accept", "reject", "request_verify"} <= set(verbs)

    unlabelled = page.evaluate("""[...document.querySelectorAll('#case input, #case select, #case textarea')]
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.name)""")
    assert unlabelled == []  # every control of every form has a label
    reject = verb_form(page, "reject")
    reject.get_by_role("button", name="不予受理").click()
    error = reject.locator(".form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("note")  # the API's message names the field
    expect(reject.locator("textarea[name=note]")).to_have_attribute("aria-invalid", "true")
    expect(reject.locator(".field-error").first).to_contain_text("此操作必填")
    assert clerk.case(number)["state"] == "reported"  # nothing changed

    accept = verb_form(page, "accept")
    accept.get_by_label(re.compile("说明")).fill("属实，受理")
    accept.get_by_role("button", name="受理").click()
    expect(page.locator("#c-actions-status")).to_contain_text("已受理")
    ready(page)
    expect(page.locator("#c-state")).to_have_text("待立案")
    assert clerk.case(number)["state"] == "accepted"
    expect(page.locator('#c-events li[data-verb="accept"] .answer')).to_have_text("属实，受理")
    expect(page.locator('#c-clock [data-clock="stage"]')).to_have_text("立案")  # the opening clock runs

    # --- the shift leader opens it, and then has nothing more to do on it
    leader = new_page("zh-CN", viewport={"width": 1400, "height": 1000})
    sign_in(leader, base, "zhiban", number)
    ready(leader)
    assert leader.get_attribute("#c-actions", "data-verbs") == "open,reclassify,relocate"
    verb_form(leader, "open").get_by_label(re.compile("说明")).focus()  # by keyboard: Tab to the button, Enter
    leader.keyboard.press("Tab")
    leader.keyboard.press("Enter")
    expect(leader.locator("#c-state")).to_have_text("待派遣")
    expect(leader.locator("#h-actions")).to_be_focused()  # focus stays on the actions, which say what happened
    expect(leader.locator("#c-actions-status")).to_contain_text("已立案")
    assert clerk.case(number)["state"] == "opened"
    expect(leader.locator("#c-actions")).to_have_attribute("data-verbs", "reclassify,relocate")  # corrections, until dispatched

    # --- the dispatcher sends it to another department than the suggested one
    dispatcher = new_page("zh-CN", viewport={"width": 1400, "height": 1100})
    sign_in(dispatcher, base, "paiqian", number)
    ready(dispatcher)
    form = verb_form(dispatcher, "dispatch")
    department = form.get_by_label(re.compile("处置部门"))
    assert department.input_value() == "LH"  # the matrix's suggestion, preselected
    department.select_option("SW")
    form.get_by_role("button", name="派遣").click()
    expect(dispatcher.locator("#c-state")).to_have_text("待签收")
    answer = clerk.case(number)
    assert answer["state"] == "dispatched" and answer["department"]["code"] == "SW"
    expect(dispatcher.locator('#c-events li[data-verb="dispatch"]')).to_contain_text("SW")
    expect(dispatcher.locator('#c-clock [data-clock="stage"]')).to_have_text("签收")
    screenshot(dispatcher, "case-zh-CN")
    # the shift leader has nothing to do on a dispatched case: no form at all
    leader.reload()
    ready(leader)
    expect(leader.locator("#c-no-actions")).to_be_visible()
    expect(leader.locator("#c-actions form")).to_have_count(0)

    # --- a handler of another department: the case is not theirs to see, nor to act on
    other = new_page("zh-CN")
    sign_in(other, base, "cz-jt", number)
    assert other.locator("#case").count() == 0
    assert other.request.get(f"{base}/api/v1/cases/{number}").status == 404
    refused = other.request.post(f"{base}/api/v1/cases/{number}/actions/sign", data={},
                                 headers={"X-CSRF-Token": other.locator('meta[name="csrf-token"]').get_attribute("content")})
    assert refused.status == 404
    assert clerk.case(number)["state"] == "dispatched"


def test_a_stale_page_gets_the_conflict_in_english(live, new_page, cases):
    base, _ = live
    numbers, clerk = cases
    number = numbers["english"]
    page = new_page("en", viewport={"width": 1400, "height": 1000})
    sign_in(page, base, "shouli", number, lang="en")
    ready(page)
    assert page.locator("h1").inner_text() == f"Case {number}"
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.locator("#c-state")).to_have_text("Reported")
    expect(page.locator("#c-events li").first).to_contain_text("Reported")
    reject = verb_form(page, "reject")
    reject.get_by_label(re.compile("^Note")).fill("Not a public space")
    # meanwhile someone else accepts it
    assert clerk.post(f"/api/v1/cases/{number}/actions/accept", json={}).status_code == 200
    reject.get_by_role("button", name="Reject").click()
    expect(page.locator("#c-actions-status")).to_contain_text("changed by someone else")
    ready(page)
    expect(page.locator("#c-state")).to_have_text("Accepted")  # the page shows the case as it is now
    assert clerk.case(number)["state"] == "accepted"
    screenshot(page, "case-en")


DESK = {"intake_clerk": "shouli", "dispatcher": "paiqian", "shift_leader": "zhiban"}


def test_reclassify_and_relocate_through_the_page(live, new_page, cases):
    base, app = live
    numbers, clerk = cases
    number = report(clerk, *_point_of(app, numbers["grid"], 0.0004), "占道堆物")
    for verb in ("reclassify", "relocate"):
        role = next(r for r in VERBS[verb].roles if r in DESK)
        assert "reported" in VERBS[verb].sources, "the test acts on a reported case"
        page = new_page("zh-CN", viewport={"width": 1400, "height": 1000})
        sign_in(page, base, DESK[role], number)
        ready(page)
        form = verb_form(page, verb)
        if verb == "reclassify":
            form.get_by_label(re.compile("类别")).select_option("E0104")
            form.locator("button[type=submit]").click()
            ready(page)
            assert clerk.case(number)["category_code"] == "E0104"
        else:
            form.get_by_label("选择网格并填写地址").check()
            other_grid = form.locator("select[name=grid_code] option").nth(3).get_attribute("value")
            form.locator("select[name=grid_code]").select_option(other_grid)
            form.get_by_label(re.compile("^地址")).fill("新地址 8 号")
            form.locator("button[type=submit]").click()
            ready(page)
            answer = clerk.case(number)
            assert answer["grid_code"] == other_grid and answer["address"] == "新地址 8 号"
            # and by a tap on the grid map: the point goes as lon, lat (WGS-84)
            form = verb_form(page, "relocate")
            page.wait_for_selector('.pick-map[data-grids-ready="1"]')
            box = form.locator(".pick-map").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2)
            lon = float(form.locator(".pick-map").get_attribute("data-lon"))
            form.locator("button[type=submit]").click()
            ready(page)
            assert abs(clerk.case(number)["lon"] - lon) < 1e-6


def _point_of(app, grid_code, shift):
    from sqlalchemy import select

    from grid.models import Grid
    from wangge.extensions import db

    with app.app_context():
        geom = db.session.scalars(select(Grid.geom).where(Grid.code == grid_code, Grid.valid_to.is_(None))).one()
        point = geom.representative_point()
        db.session.remove()
    return point.x + shift, point.y
