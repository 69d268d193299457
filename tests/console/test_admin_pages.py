"""The admins' pages: over HTTP (each page for an admin, 403 for the roles next door, the
sign-in page for nobody, every word of the scripts in both catalogs) and in Debian's chromium
(zh-CN and en): import a grid file with a deliberate overlap and watch its progress reach
done and the overlap listed and drawn; add a department and a staff account through the
forms (an error shown beside its field) and find them through the API; set a category's
time limit; explain the matrix; toggle a calendar day."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from console.admin_pages import SECTIONS, admin_words
from tests.console.conftest import screenshot
from tests.console.test_session import sign_in as form_sign_in
from tests.factories import StaffFactory
from wangge.i18n import SUPPORTED, t

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["/console/admin", *(f"/console/admin/{s}" for s in SECTIONS)]


# --- HTTP ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_admin_page_renders_for_an_admin(client, db_session, lang):
    StaffFactory(username="admin1", roles=["admin"])
    form_sign_in(client, "admin1")
    for path in PAGES:
        r = client.get(f"{path}?lang={lang}")
        assert r.status_code == 200, path
        html = r.get_data(as_text=True)
        assert "script-src 'self'" in r.headers["Content-Security-Policy"] and "<script>" not in html
        assert f"<h1>{t('console_menu_admin' if path == '/console/admin' else 'console_admin_' + path.rsplit('/', 1)[1], lang=lang)}</h1>" in html
    overview = client.get(f"/console/admin?lang={lang}").get_data(as_text=True)
    for section in SECTIONS:
        assert f'href="/console/admin/{section}"' in overview


@pytest.mark.parametrize("role", ["leader", "dispatcher", "shift_leader", "grid_worker"])
def test_the_roles_next_door_get_the_refused_page(client, db_session, role):
    StaffFactory(username=f"u-{role}", roles=[role])
    form_sign_in(client, f"u-{role}")
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 403, path
        assert 'id="refused-message"' in r.get_data(as_text=True)


def test_nobody_is_sent_to_sign_in(client, db_session):
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"] == f"/console/login?next={path}"
    assert client.get("/console/admin/nowhere").status_code == 404


def test_every_word_of_the_admin_scripts_is_in_both_catalogs_and_in_the_page():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "console/frontend/src/admin").glob("*.js"))
    keys = set(re.findall(r'"((?:console|role)_[a-z0-9_]+)"', source))
    prefixes = set(re.findall(r"t\(`((?:console|role)_[a-z_]+_)\$\{", source)) | {k for k in keys if k.endswith("_")}
    keys -= prefixes
    assert len(keys) > 100 and prefixes
    words = set(admin_words())
    assert keys - words == set()
    assert {p for p in prefixes if not any(w.startswith(p) for w in words)} == set()
    for lang in SUPPORTED:
        assert [k for k in words if t(k, lang=lang) == k] == []


# --- the browser --------------------------------------------------------------------------

def sign_in(page, base, path, locale):
    page.goto(f"{base}/console/login?next={path}")
    page.get_by_label(re.compile("账号|Account")).fill("admin")
    page.get_by_label(re.compile("密码|Password")).fill("wangge-demo")
    page.get_by_label(re.compile("密码|Password")).press("Enter")
    page.wait_for_url(re.compile(re.escape(path)))
    if locale == "en":
        page.goto(f"{base}{path}?lang=en")
    page.wait_for_selector('#admin[data-ready="1"]')


def assert_labelled(page):
    """Every control of the page has a label (the forms are built by the script)."""
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)""")
    assert unlabelled == []


def square(x, y, size=0.01):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def run_jobs(app):
    """The rq worker, here: the live server queued the job on the test's Redis."""
    from rq import Queue, SimpleWorker

    from wangge.jobs import redis_connection

    settings = app.config["WANGGE"]
    with app.app_context():
        conn = redis_connection(settings.redis_url)
        SimpleWorker([Queue(settings.queue_name, connection=conn)], connection=conn).work(burst=True)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_import_a_grid_file_see_its_progress_and_the_overlap_on_the_map(live, new_page, tmp_path, locale):
    base, app = live
    tag = "ZH" if locale == "zh-CN" else "EN"
    x = 119.0 if tag == "ZH" else 119.5  # far from the demo city: these two overlap only each other
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f"OV{tag}1", "name": f"重叠甲{tag}", "level": "district"},
         "geometry": square(x, 30.0)},
        {"type": "Feature", "properties": {"code": f"OV{tag}2", "name": f"重叠乙{tag}", "level": "district"},
         "geometry": square(x + 0.005, 30.0)}]}
    path = tmp_path / "overlap.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    page = new_page(locale, viewport={"width": 1400, "height": 1000})
    sign_in(page, base, "/console/admin/grids", locale)
    expect(page.locator('#admin-map[data-grids-ready="1"]')).to_be_attached()
    assert_labelled(page)
    page.get_by_label(re.compile("^(文件|File)$")).set_input_files(str(path))
    page.get_by_label(re.compile("坐标系|Coordinate system")).select_option("wgs84")
    page.locator("#import-submit").click()
    expect(page.locator('#import-progress-box[data-state="queued"]')).to_be_visible()
    run_jobs(app)
    expect(page.locator('#import-progress-box[data-state="done"]')).to_be_visible()
    assert page.locator("#import-progress").evaluate("p => [p.value, p.max]") == [2, 2]
    expect(page.locator("#import-status")).to_contain_text(re.compile("新增 2|2 created"))

    # The check ran after the import: the overlap listed and drawn over the outlines.
    expect(page.locator('#topology-list[data-ready="1"]')).to_be_attached()
    overlap = page.locator(f'#topology-list li.problem-overlap[data-codes="OV{tag}1 OV{tag}2"]')
    expect(overlap).to_have_count(1)
    expect(overlap).to_contain_text(f"OV{tag}1")
    assert int(page.get_attribute("#admin-map", "data-problems")) >= 1
    assert page.locator(".leaflet-overlay-pane svg path").count() >= 1
    overlap.get_by_role("button").focus()
    page.keyboard.press("Enter")  # keyboard: the problem is shown on the map
    # the new districts are in the list of their level
    expect(page.locator(f'#grids-table tr[data-id="OV{tag}1"]')).to_be_visible()
    screenshot(page, f"admin-grids-{locale}")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_add_a_department_and_a_staff_account_through_the_forms(live, new_page, locale):
    base, _ = live
    tag = "zh" if locale == "zh-CN" else "en"
    page = new_page(locale, viewport={"width": 1400, "height": 1100})
    sign_in(page, base, "/console/admin/departments", locale)

    assert_labelled(page)
    form = page.locator("#department-form")
    form.get_by_label(re.compile("^(编码|Code)$")).fill(f"PARK{tag}")
    form.get_by_label(re.compile("^(名称|Name)$")).fill(f"园林绿化 {tag}")
    form.get_by_label(re.compile("^(类型|Kind)$")).select_option("functional")
    form.get_by_role("button", name=re.compile("保存|Save")).click()
    expect(page.locator(f'#departments-table tr[data-id="PARK{tag}"]')).to_be_visible()
    dept = page.request.get(f"{base}/api/v1/departments/PARK{tag}").json()
    assert dept["kind"] == "functional" and dept["active"] is True

    page.goto(f"{base}/console/admin/staff" + ("?lang=en" if tag == "en" else ""))
    page.wait_for_selector('#admin[data-ready="1"]')
    assert_labelled(page)
    form = page.locator("#staff-form")
    form.get_by_label(re.compile("^(账号|Username)$")).fill(f"gardener-{tag}")
    form.get_by_label(re.compile("^(名称|Name)$")).fill(f"园丁 {tag}")
    form.get_by_label(re.compile("^(密码|Password)$")).fill("short")
    form.get_by_label(t("role_department_handler", lang=tag)).check()
    form.get_by_label(re.compile("^(部门|Department)$")).select_option(f"PARK{tag}")
    form.get_by_role("button", name=re.compile("保存|Save")).click()
    # The API's answer names the field; the message stands beside it.
    expect(page.locator("#staff-form-password-error")).not_to_be_empty()
    expect(form.get_by_label(re.compile("^(密码|Password)$"))).to_have_attribute("aria-invalid", "true")
    form.get_by_label(re.compile("^(密码|Password)$")).fill("a-long-enough-secret")
    form.get_by_role("button", name=re.compile("保存|Save")).click()
    expect(page.locator(f'#staff-table tr[data-id="gardener-{tag}"]')).to_be_visible()
    screenshot(page, f"admin-staff-{locale}")

    made = [s for s in page.request.get(f"{base}/api/v1/staff").json() if s["username"] == f"gardener-{tag}"]
    assert len(made) == 1 and made[0]["roles"] == ["department_handler"]
    assert made[0]["department"]["code"] == f"PARK{tag}" and made[0]["active"] is True
    # Deactivate, from the list.
    page.get_by_role("button", name=f"{t('console_admin_deactivate', lang=tag)} gardener-{tag}").click()
    expect(page.locator(f'#staff-table tr[data-id="gardener-{tag}"]')).to_contain_text(t("console_no", lang=tag))
    assert page.request.get(f"{base}/api/v1/staff/{made[0]['id']}").json()["active"] is False


def test_a_time_limit_the_matrix_explained_and_a_calendar_day(live, new_page):
    base, _ = live
    page = new_page("en", viewport={"width": 1400, "height": 1000})
    sign_in(page, base, "/console/admin/catalog", "en")
    api = page.request

    # Catalog: set a small class's own limit for a stage.
    category = next(c for c in api.get(f"{base}/api/v1/categories").json() if c["parent_code"])
    page.get_by_role("button", name=f"Time limits {category['code']}").click()
    expect(page.locator('#limits-table[data-ready="1"]')).to_be_attached()
    assert_labelled(page)
    limit = page.locator("#limit-form")
    limit.get_by_label("Stage").select_option("handle")
    limit.get_by_label("Amount").fill("3")
    limit.get_by_label("Unit").select_option("work_days")
    limit.get_by_role("button", name="Set limit").click()
    expect(page.locator("#limits-table tr", has_text="Handle")).to_contain_text("This category")
    limits = {r["stage"]: r for r in api.get(f"{base}/api/v1/categories/{category['code']}/limits").json()}
    assert (limits["handle"]["amount"], limits["handle"]["unit"], limits["handle"]["from"]) == (3, "work_days", category["code"])

    # Matrix: the explain tool says what the API says.
    page.goto(f"{base}/console/admin/matrix?lang=en")
    page.wait_for_selector('#admin[data-ready="1"]')
    grid = api.get(f"{base}/api/v1/grids?level=grid&geometry=false&limit=1").json()["features"][0]["properties"]["code"]
    small = [c["code"] for c in api.get(f"{base}/api/v1/categories").json() if c["parent_code"]]
    rule = next(r for r in api.get(f"{base}/api/v1/matrix").json() if r["category_code"] in small)
    expected = api.get(f"{base}/api/v1/matrix/explain?category={rule['category_code']}&grid={grid}&lang=en").json()
    assert_labelled(page)
    explain = page.locator("#explain-form")
    explain.get_by_label("Category").select_option(rule["category_code"])
    explain.get_by_label("Grid code").fill(grid)
    explain.get_by_role("button", name="Explain").click()
    expect(page.locator('#explain-answer[data-ready="1"]')).to_be_attached()
    expect(page.locator("#explain-department")).to_contain_text(expected["department"]["code"])
    expect(page.locator("#explain-reason")).to_have_text(expected["reason"])
    assert page.locator("#explain-answer tbody tr").count() == len(expected["checked"])
    explain.get_by_label("Grid code").fill("NO-SUCH-GRID")
    explain.get_by_role("button", name="Explain").click()
    expect(page.locator("#explain-form-error")).to_contain_text("NO-SUCH-GRID")

    # Calendar: a day pressed flips and becomes a local change; removing it restores it.
    page.goto(f"{base}/console/admin/calendar?lang=en")
    page.wait_for_selector('#calendar-months[data-ready="1"]')
    assert_labelled(page)
    year = page.get_attribute("#calendar-months", "data-year")
    day = f"{year}-07-15"
    button = page.locator(f'#calendar-months button[data-day="{day}"]')
    before = button.get_attribute("data-workday") == "true"
    button.focus()
    page.keyboard.press("Enter")
    flipped = page.locator(f'#calendar-months button[data-day="{day}"][data-source="override"]')
    expect(flipped).to_have_attribute("data-workday", str(not before).lower())
    answer = api.get(f"{base}/api/v1/calendar?from={day}&to={day}").json()[0]
    assert answer["is_workday"] is (not before) and answer["source"] == "override"
    page.get_by_role("button", name=f"Back to the official calendar {day}").click()
    expect(page.locator(f'#calendar-months button[data-day="{day}"]')).to_have_attribute("data-workday", str(before).lower())
    assert api.get(f"{base}/api/v1/calendar?from={day}&to={day}").json()[0]["source"] != "override"
