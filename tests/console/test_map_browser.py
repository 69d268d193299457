"""The console's map in Debian's chromium (Playwright): grid outlines of the demo city as the
base map with a level switch, case pins coloured by light, the server's clusters (a click
zooms in), a pin's popup link opening the case page; zh-CN and en; a screenshot each."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.console.conftest import screenshot

WORDS = {"zh-CN": {"title": "案件地图", "label": "案件地图：网格边界与在办案件", "red": "红灯"},
         "en": {"title": "Case map", "label": "Case map: grid outlines and open cases", "red": "Red"}}


@pytest.fixture(scope="module")
def map_cases(live):
    """Three open cases of the demo city with a clock each, in three unit grids, and two more
    without a clock at one spot (a cluster when pins are few). Returns {light: number}."""
    from sqlalchemy import select

    from grid.models import Grid
    from tests.factories import CaseFactory
    from wangge.extensions import db
    from wangge.timeutil import utcnow

    _, app = live
    now = utcnow()
    with app.app_context():
        grids = db.session.scalars(select(Grid).where(Grid.level == "grid", Grid.valid_to.is_(None))
                                   .order_by(Grid.code).limit(40)).all()
        a, b, c, d = (grids[i].geom.representative_point() for i in (5, 30, 17, 35))
        made = {
            "red": CaseFactory(state="handling", lon=a.x, lat=a.y, grid=grids[5],
                               clock_due_at=now - timedelta(hours=1), clock_warn_at=now - timedelta(hours=2)),
            "yellow": CaseFactory(state="handling", lon=c.x, lat=c.y, grid=grids[17],
                                  clock_due_at=now + timedelta(hours=1), clock_warn_at=now - timedelta(hours=1)),
            "green": CaseFactory(state="dispatched", lon=b.x, lat=b.y, grid=grids[30],
                                 clock_due_at=now + timedelta(hours=5), clock_warn_at=now + timedelta(hours=4)),
        }
        numbers = {light: case.number for light, case in made.items()}
        for _ in range(2):
            CaseFactory(state="opened", lon=d.x, lat=d.y, grid=grids[35])
        db.session.commit()
        db.session.remove()
    return numbers


def sign_in(page, base, username="paiqian"):
    page.goto(f"{base}/console/login?next=/console/map")
    page.get_by_label(re.compile("账号|Account")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill("wangge-demo")
    page.get_by_label(re.compile("密码|Password")).press("Enter")
    page.wait_for_url(re.compile(r"/console/map"))


def ready(page):
    page.wait_for_selector('#map[data-grids-ready="1"][data-pins-ready="1"]')


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_map_shows_outlines_and_pins_and_a_pin_opens_its_case(live, new_page, map_cases, locale):
    base, _ = live
    words = WORDS[locale]
    page = new_page(locale, viewport={"width": 1400, "height": 900})
    sign_in(page, base)
    if locale == "en":
        page.goto(f"{base}/console/map?lang=en")
    ready(page)
    assert page.locator("h1").inner_text() == words["title"]
    assert page.get_by_role("region", name=words["label"]).is_visible()  # the map has a label
    assert int(page.get_attribute("#map", "data-grids")) == 300  # the demo city's unit grids
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1  # outlines drawn on a canvas
    expect(page.get_by_role("link", name=re.compile("列表|as a list"))).to_have_attribute("href", "/console/queue")
    for light, number in map_cases.items():
        pin = page.locator(f'.map-pin[data-number="{number}"]')
        expect(pin).to_be_visible()
        assert f"light-{light}" in pin.get_attribute("class")
    assert int(page.locator('#map-counts [data-light="red"]').inner_text()) >= 1
    expect(page.locator("#map-status")).not_to_be_empty()
    screenshot(page, f"map-{locale}")
    # the level switch redraws the outlines: 4 streets, 12 communities
    level = page.get_by_label(re.compile("网格层级|Grid level"))
    level.select_option("street")
    page.wait_for_selector('#map[data-grids="4"][data-grids-ready="1"]')
    level.select_option("community")
    page.wait_for_selector('#map[data-grids="12"][data-grids-ready="1"]')
    # a pin's popup links to the case page
    page.locator(f'.map-pin[data-number="{map_cases["red"]}"]').click()
    link = page.locator(".leaflet-popup .map-case-link")
    expect(link).to_have_text(map_cases["red"])
    expect(page.locator(".leaflet-popup")).to_contain_text(words["red"])
    link.click()
    page.wait_for_url(re.compile(f"/console/cases/{map_cases['red']}"))
    expect(page.locator("#case-number")).to_have_text(map_cases["red"])


def test_dense_cases_are_clusters_that_zoom_in_when_clicked(live, new_page, map_cases, monkeypatch):
    from dispatch.workflow import map_views

    base, _ = live
    monkeypatch.setattr(map_views, "PIN_LIMIT", 1)  # the live server runs in this process
    page = new_page("zh-CN", viewport={"width": 1200, "height": 800})
    sign_in(page, base)
    ready(page)
    assert int(page.get_attribute("#map", "data-clusters")) >= 1
    cluster = page.locator(".map-cluster").first
    expect(cluster).to_be_visible()
    count = int(cluster.get_attribute("data-count"))
    assert count >= 2 and cluster.inner_text() == str(count)
    assert re.match(r"\d+ 件案件，点击放大", cluster.get_attribute("title"))
    zoom = int(page.get_attribute("#map", "data-zoom"))
    cluster.click()
    page.wait_for_function("z => Number(document.getElementById('map').dataset.zoom) > z && document.getElementById('map').dataset.pinsReady === '1'", arg=zoom)
    # keyboard: a marker is a focusable element with a name
    page.locator(".map-pin, .map-cluster").first.focus()
    assert page.evaluate("document.activeElement.getAttribute('title')")


def test_a_grid_worker_is_refused_the_map(live, new_page):
    base, _ = live
    page = new_page("zh-CN")
    page.goto(f"{base}/console/login")
    page.get_by_label("账号").fill("wgy001")
    page.get_by_label("密码").fill("wangge-demo")
    page.get_by_label("密码").press("Enter")
    page.wait_for_load_state()
    response = page.goto(f"{base}/console/map")
    assert response.status == 403
    assert page.get_by_role("link", name="案件地图").count() == 0
