"""The enforcement pages over HTTP (who gets them, what the shell carries: the lifecycle table
as data, the words, no inline script) and in Debian's chromium: a referral made through the
API waits for the team leader, who names two officers, accepts it with a note, records a
finding, and the API shows each change; two referrals at one shop form a joint-visit group
whose open referrals get the same officers at once. zh-CN and en, a screenshot each."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from console.enforcement_page import ENFORCEMENT_WORDS
from dispatch.enforcement import lifecycle
from tests.console.conftest import screenshot
from tests.console.test_session import sign_in
from tests.factories import StaffFactory

PAGE = "/console/enforcement"


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="enf-data">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


# --- HTTP -----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["enforcement_leader", "leader", "admin"])
def test_the_pages_render_for_the_roles_that_run_or_watch_enforcement(client, db_session, role):
    StaffFactory(username=f"p-{role}", roles=[role])
    assert sign_in(client, f"p-{role}").status_code == 303
    r = client.get(PAGE)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<h1>综合执法：移交案件</h1>" in html and 'id="enf-list"' in html and 'id="group-list"' in html
    assert '<script type="module" src="/console/assets/enforcement.js' in html
    assert "<script>" not in html  # no inline script: the words and the table are JSON data
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    # every control of the filters has a label
    for control in ("f-stage", "f-light", "f-group"):
        assert f'<label for="{control}">' in html
    data = page_data(html)
    assert data["team_leader"] is (role == "enforcement_leader")
    detail = client.get(f"{PAGE}/20260101000001-ZF1?lang=en")
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    assert 'data-number="20260101000001-ZF1"' in text and "Enforcement case" in text
    assert page_data(text)["lifecycle"]["stages"][0]["name"] == "Accept"


def test_the_page_carries_the_lifecycle_table_not_a_copy_of_it(client, db_session):
    StaffFactory(username="p-table", roles=["enforcement_leader"])
    sign_in(client, "p-table")
    data = page_data(client.get(PAGE).get_data(as_text=True))
    life = data["lifecycle"]
    assert [s["code"] for s in life["stages"]] == list(lifecycle.STATES)
    assert set(life["steps"]) == set(lifecycle.STAGES)
    for stage, step in life["steps"].items():
        verb = lifecycle.advancing(stage)[0]
        assert (step["verb"], step["to"]) == (verb.name, verb.target)
        assert step["officers_first"] is ("officers" in verb.requires)
        fields = {f["name"]: f for f in step["fields"]}
        assert fields["note"]["required"] is ("note" in verb.requires)
        assert set(fields) == {"note", *lifecycle.MAY_CARRY.get(verb.name, ())}
        assert all(f["label"] and not f["label"].startswith("console_") for f in step["fields"])
    assert life["steps"]["decide"]["fields"][-1]["name"] == "penalty_amount"
    assert {r["kind"]: r["stages"] for r in life["records"]} == {
        k: list(lifecycle.VERBS[k].sources) for k in lifecycle.RECORD_KINDS}


def test_every_word_the_script_asks_for_is_in_both_catalogs(client, db_session):
    from wangge.i18n import t

    for lang in ("zh", "en"):
        missing = [k for k in ENFORCEMENT_WORDS if t(k, lang=lang) == k]
        assert missing == [], lang


@pytest.mark.parametrize("role", ["dispatcher", "enforcement_officer", "department_handler", "grid_worker"])
def test_other_roles_get_the_refused_page(client, db_session, role):
    StaffFactory(username=f"r-{role}", roles=[role])
    sign_in(client, f"r-{role}")
    for path in (PAGE, f"{PAGE}/20260101000001-ZF1"):
        r = client.get(path)
        assert r.status_code == 403, path
        html = r.get_data(as_text=True)
        assert 'id="refused-message"' in html and 'id="enf-data"' not in html
    # and the menu does not offer it
    assert f'href="{PAGE}"' not in client.get("/console/queue").get_data(as_text=True)


def test_anonymous_callers_are_sent_to_sign_in(client, db_session):
    for path in (PAGE, f"{PAGE}?stage=accept", f"{PAGE}/20260101000001-ZF1"):
        r = client.get(path)
        assert r.status_code == 302
        assert r.headers["Location"].startswith("/console/login?next=/console/enforcement")


@pytest.mark.parametrize("number", ["x" * 33, "a b", "<script>", "1;drop", "ZF1%00"])
def test_a_number_that_cannot_be_one_is_the_not_found_page(client, db_session, number):
    StaffFactory(username="p-bad", roles=["enforcement_leader"])
    sign_in(client, "p-bad")
    r = client.get(f"{PAGE}/{number}")
    assert r.status_code in (404, 422), number
    assert "<script>" not in r.get_data(as_text=True).replace('<script type="', "")


# --- the browser ----------------------------------------------------------------------------

WORDS = {"zh-CN": {"title": "综合执法：移交案件", "accept": "受理", "investigate": "调查取证",
                   "accept_button": "受理（进入调查取证）", "note": "受理意见（选填）", "officers": "执法队员甲",
                   "officers2": "执法队员乙", "save": "保存承办人", "record": "记录内容", "add": "添加记录",
                   "kind": "记录类型", "finding": "调查发现", "group_assign": "为组内 2 件在办案件指派承办人"},
         "en": {"title": "Enforcement: referrals", "accept": "Accept", "investigate": "Investigate",
                "accept_button": "Accept (start the investigation)", "note": "Note on accepting (optional)",
                "officers": "执法队员甲", "officers2": "执法队员乙", "save": "Save officers", "record": "Text of the record",
                "add": "Add record", "kind": "Kind of record", "finding": "Finding",
                "group_assign": "Assign officers to the 2 open referrals of the group"}}


def api_as(app, username):
    """A Flask test client signed in through the API as a demo account: the test's own caller."""
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": "wangge-demo"})
    assert r.status_code == 200, r.json
    headers = {"Authorization": f"Bearer {r.json['token']}"}

    def call(method, path, expect=200, **body):
        r = client.open(path, method=method, json=body if method != "GET" else None, headers=headers)
        assert r.status_code == expect, (path, r.status_code, r.json)
        return r.json

    return call


def referral(app, lon, lat, address):
    """A case reported, accepted, opened, dispatched (to JS, the demo matrix's department for
    illegal construction), signed and referred to the enforcement team through the API, as
    people do it. Returns the enforcement number."""
    body = {"description": "店铺后院正在搭建违章建筑", "category_code": "E0304", "lon": lon, "lat": lat,
            "address": address}
    number = api_as(app, "shouli")("POST", "/api/v1/cases", 201, **body)["number"]
    actions = f"/api/v1/cases/{number}/actions"
    api_as(app, "shouli")("POST", f"{actions}/accept")
    api_as(app, "zhiban")("POST", f"{actions}/open")
    api_as(app, "paiqian")("POST", f"{actions}/dispatch", department_code="JS")
    handler = api_as(app, "cz-js")
    handler("POST", f"{actions}/sign")
    case = handler("POST", f"{actions}/refer_enforcement", note="属违法建设，移交综合执法")
    assert case["state"] == "enforcement"
    return case["events"][-1]["data"]["enforcement_number"]


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.id || e.name)"""


def browser_sign_in(page, base, username, locale):
    page.goto(f"{base}/console/login?next={PAGE}" + ("?lang=en" if locale == "en" else ""))
    page.get_by_label(re.compile("账号|Account")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill("wangge-demo")
    page.get_by_label(re.compile("密码|Password")).press("Enter")
    page.wait_for_url(re.compile(PAGE))


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_leader_takes_a_referral_through_its_first_stage(live, new_page, locale):
    base, app = live
    w = WORDS[locale]
    shift = {"zh-CN": 0.0, "en": 0.01}[locale]  # each run its own shop (about 950 m apart)
    lon, lat = 121.475 + shift, 31.215
    number = referral(app, lon, lat, f"测试路 {int(shift * 100) + 8} 号 小吃店")
    neighbour = referral(app, lon + 0.0002, lat, f"测试路 {int(shift * 100) + 10} 号")  # about 19 m away: one group
    leader = api_as(app, "zfdz")
    enf = leader("GET", f"/api/v1/enforcement/{number}")
    assert enf["stage"] == "accept" and enf["group"]["members"][0]["number"] == neighbour
    group_id = enf["group_id"]

    page = new_page(locale, viewport={"width": 1400, "height": 1000}, timezone_id="Asia/Shanghai")
    browser_sign_in(page, base, "zfdz", locale)
    page.wait_for_selector('#enf-list[data-ready="1"]')
    assert page.locator("h1").inner_text() == w["title"]
    # the referral waits in accept, listed first, with its source case, category and place
    row = page.locator(f'#enf-list tr[data-number="{number}"]')
    expect(row).to_contain_text(w["accept"])
    expect(row).to_contain_text("E0304")
    assert page.locator("#enf-list tbody tr").first.get_attribute("data-stage") == "accept"
    assert int(page.locator('#stage-counts [data-count="accept"]').inner_text()) >= 2
    # a count filters by its stage
    page.locator('#stage-counts button[data-stage="investigate"]').click()
    expect(page.locator('#stage-counts button[data-stage="investigate"]')).to_have_attribute("aria-pressed", "true")
    page.wait_for_selector('#enf-list[data-ready="1"]')
    page.locator('#stage-counts button[data-stage="investigate"]').click()
    page.wait_for_selector(f'#enf-list tr[data-number="{number}"]')
    # the group of the two referrals at one shop
    page.wait_for_selector('#group-list[data-ready="1"]')
    card = page.locator(f'.enf-group[data-group="{group_id}"]')
    expect(card).to_contain_text(number)
    expect(card).to_contain_text(neighbour)
    assert page.evaluate(UNLABELLED) == []  # every control has a label (or its own text)
    screenshot(page, f"enforcement-{locale}")

    # keyboard: the number is a link in the tab order
    page.locator(f'#enf-list tr[data-number="{number}"] a').first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"{PAGE}/{number}"))
    page.wait_for_selector('#enf-case[data-ready="1"]')
    expect(page.locator('#enf-stepper li[aria-current="step"]')).to_contain_text(w["accept"])
    expect(page.get_by_role("link", name=enf["parent"]["number"]).first).to_have_attribute(
        "href", f"/console/cases/{enf['parent']['number']}")
    # accepting before naming officers: the API's 409 beside the form, nothing changed
    page.get_by_role("button", name=w["accept_button"]).click()
    expect(page.locator("#advance-error")).not_to_be_empty()
    assert leader("GET", f"/api/v1/enforcement/{number}")["stage"] == "accept"
    # name two officers
    page.get_by_label(w["officers"]).check()
    page.get_by_label(w["officers2"]).check()
    page.get_by_role("button", name=w["save"]).click()
    expect(page.locator("#enf-officers li")).to_have_count(2)
    assert sorted(o["name"] for o in leader("GET", f"/api/v1/enforcement/{number}")["officers"]) == \
        ["执法队员乙", "执法队员甲"]
    # accept with a note: investigate is the current stage
    page.get_by_label(w["note"]).fill("已责令停工，进入调查")
    page.get_by_role("button", name=w["accept_button"]).click()
    expect(page.locator('#enf-stepper li[aria-current="step"]')).to_contain_text(w["investigate"])
    expect(page.locator("#enf-status")).not_to_be_empty()
    # a finding recorded during the investigation
    page.get_by_label(w["kind"]).select_option("finding")
    page.get_by_label(w["record"]).fill("现场测量违建面积约 12 平方米")
    page.get_by_role("button", name=w["add"]).click()
    expect(page.locator('#enf-records li[data-kind="finding"]')).to_contain_text("12 平方米")
    role = {"zh-CN": "专业部门处置人员", "en": "Department handler"}[locale]
    expect(page.locator('#enf-records li[data-kind="referral"]')).to_contain_text(role)
    assert page.evaluate(UNLABELLED) == []
    screenshot(page, f"enforcement-case-{locale}")
    after = leader("GET", f"/api/v1/enforcement/{number}")
    assert after["stage"] == "investigate"
    kinds = [r["kind"] for r in after["records"]]
    assert kinds == ["referral", "assignment", "stage", "finding"]
    assert after["records"][2]["note"] == "已责令停工，进入调查"
    assert after["records"][3]["note"] == "现场测量违建面积约 12 平方米"
    # an empty record is refused beside its form, naming the field
    page.get_by_role("button", name=w["add"]).click()
    expect(page.locator("#record-error")).to_contain_text("note")
    expect(page.get_by_label(w["record"])).to_have_attribute("aria-invalid", "true")

    # back on the list: the group's open referrals get the same officers at once
    page.goto(f"{base}{PAGE}" + ("?lang=en" if locale == "en" else ""))
    page.wait_for_selector('#group-list[data-ready="1"]')
    card = page.locator(f'.enf-group[data-group="{group_id}"]')
    card.get_by_role("button", name=w["group_assign"]).click()
    expect(page.locator("#groups-status")).to_contain_text(str(group_id))
    assert sorted(o["name"] for o in leader("GET", f"/api/v1/enforcement/{neighbour}")["officers"]) == \
        ["执法队员乙", "执法队员甲"]


def test_the_leader_closes_a_referral_and_the_district_leader_only_reads(live, new_page):
    """The officers' stages go through the API (they work from the phone); the team leader
    closes on the page (the outcome is required: refused empty, beside the form), the source
    case goes back for checking; the district leader sees the same page without forms."""
    base, app = live
    number = referral(app, 121.495, 31.235, "测试路 200 号")
    leader, officer = api_as(app, "zfdz"), api_as(app, "zfdy1")
    me = next(o for o in leader("GET", "/api/v1/enforcement/officers")["officers"] if o["name"] == "执法队员甲")
    leader("POST", f"/api/v1/enforcement/{number}/officers", staff_ids=[me["id"]])
    leader("POST", f"/api/v1/enforcement/{number}/advance", to_stage="investigate")
    officer("POST", f"/api/v1/enforcement/{number}/advance", to_stage="decide", note="违建属实")
    officer("POST", f"/api/v1/enforcement/{number}/advance", to_stage="execute", note="责令拆除，罚款", penalty_amount=5000)
    officer("POST", f"/api/v1/enforcement/{number}/advance", to_stage="close", note="已拆除")

    page = new_page("zh-CN", timezone_id="Asia/Shanghai")
    browser_sign_in(page, base, "zfdz", "zh-CN")
    page.goto(f"{base}{PAGE}/{number}")
    page.wait_for_selector('#enf-case[data-ready="1"][data-stage="close"]')
    expect(page.locator('#enf-facts [data-fact="console_enf_field_penalty_amount"]')).to_have_text("5000")
    close = page.get_by_role("button", name="结案并回传原案件")
    close.click()
    expect(page.locator("#advance-error")).to_contain_text("note")
    assert leader("GET", f"/api/v1/enforcement/{number}")["stage"] == "close"
    page.get_by_label(re.compile("结案结果")).fill("违建已拆除，罚款已缴")
    close.click()
    page.wait_for_selector('#enf-case[data-ready="1"][data-stage="closed"]')
    expect(page.locator('#enf-stepper li[aria-current="step"]')).to_contain_text("已结案")
    assert page.locator("#officers-form").is_hidden() and page.locator("#record-form").is_hidden()
    done = leader("GET", f"/api/v1/enforcement/{number}")
    assert done["stage"] == "closed" and done["outcome"] == "违建已拆除，罚款已缴"
    assert api_as(app, "lingdao")("GET", f"/api/v1/cases/{done['parent']['number']}")["state"] == "handled"

    watcher = new_page("en")
    browser_sign_in(watcher, base, "lingdao", "en")
    watcher.wait_for_selector('#enf-list[data-ready="1"]')
    assert watcher.locator(".enf-group-form").count() == 0  # no forms for a read-only reader
    watcher.goto(f"{base}{PAGE}/{number}?lang=en")
    watcher.wait_for_selector('#enf-case[data-ready="1"]')
    expect(watcher.locator("#advance-box")).to_contain_text("closed")
    assert watcher.locator("#officers-form").is_hidden() and watcher.locator("#record-form").is_hidden()
