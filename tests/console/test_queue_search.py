"""The queue's search box, day range and server counts in Debian's chromium, zh-CN and en: a
dispatcher finds a hotline case by words of its text and by its number, sees the counts per
light of every matching case (the API's, not the rows loaded), is told which field a bad search
names, keeps the keyboard focus on the same row across refreshes (no jump), and shows a count
over the server's cap as "more than" (``1+``)."""
from __future__ import annotations

import dataclasses
import re

import pytest
from playwright.sync_api import expect

from tests.console.conftest import screenshot

WORDS = {"zh-CN": {"search": "搜索", "apply": "筛选", "lang": "zh"},
         "en": {"search": "Search", "apply": "Apply", "lang": "en"}}


def hotline_cases(app, marker: str, phone: str, n: int = 2) -> list[str]:
    """``n`` hotline cases entered by the demo's intake clerk, words ``marker`` in their text."""
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "shouli", "password": "wangge-demo"}).json["token"]
    numbers = []
    for i in range(n):
        r = client.post("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}, json={
            "description": f"{marker} 第{i}处", "title": f"{marker}{i}", "category_code": "E0102",
            "lon": 121.4751, "lat": 31.2112, "channel": "hotline", "reporter_phone": f"{phone}{i}",
            "address": "南京东路街道"})
        assert r.status_code == 201, r.json
        numbers.append(r.json["number"])
    return numbers


def ready(page) -> int:
    return int(page.get_attribute("#queue", "data-ready") or 0)


def wait_load(page, after: int) -> int:
    page.wait_for_function("n => Number(document.querySelector('#queue').dataset.ready || 0) > n", arg=after)
    return ready(page)


def search(page, text: str) -> None:
    before = ready(page)
    page.locator("#f-q").fill(text)
    page.locator("#f-q").press("Enter")
    wait_load(page, before)


def shown(page) -> list[str]:
    return page.eval_on_selector_all("#queue tbody tr[data-number]", "rows => rows.map(r => r.dataset.number)")


def wait_shown(page, numbers: list[str]) -> None:
    """Until the queue shows ``numbers``: the queue refreshes every second here, and a refresh
    of the previous search that lands between ``search``'s count and its own load also moves
    the count (a timeout fails the test as the comparison would)."""
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#queue tbody tr[data-number]')]"
        ".map(r => r.dataset.number)) === JSON.stringify(want)", arg=numbers, timeout=15_000)
    assert shown(page) == numbers


def page_counts(page) -> dict:
    lights = {b.get_attribute("data-light"): int(b.inner_text()) for b in page.locator("#light-counts [data-light]").all()}
    return {**lights, "total": int(page.locator("#count-total").inner_text())}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_search_counts_and_keyboard_in_the_queue(live, new_page, locale, monkeypatch):
    base, app = live
    words = WORDS[locale]
    marker = f"窨井冒水{locale[:2]}"
    phone = "1350001000" if locale == "zh-CN" else "1350002000"
    numbers = hotline_cases(app, marker, phone)

    page = new_page(locale, viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/console/login")
    page.locator("#username").fill("paiqian")
    page.locator("#password").fill("wangge-demo")
    page.locator("#password").press("Enter")
    page.wait_for_url(re.compile(r"/console/queue"))
    page.goto(f"{base}/console/queue?lang={words['lang']}&refresh=1")
    wait_load(page, 0)
    assert page.get_by_label(words["search"], exact=True).get_attribute("id") == "f-q"

    # the counts are the server's, for every case the filters match (not the 50 rows loaded)
    api = page.evaluate("async () => (await (await fetch('/api/v1/cases/counts')).json())")
    counts = page_counts(page)
    assert counts["total"] == api["total"] == sum(api["lights"].values())
    assert {k: counts[k] for k in api["lights"]} == api["lights"]

    # by words of the text: both cases, newest first; counted by the server
    search(page, marker)
    wait_shown(page, numbers[::-1])
    assert page_counts(page)["total"] == 2 and page_counts(page)["none"] == 2
    assert f"q={marker}" in page.url.replace("%E7%AA%A8%E4%BA%95%E5%86%92%E6%B0%B4", "窨井冒水")
    screenshot(page, f"queue-search-{locale}")
    # by number, exactly
    search(page, numbers[0])
    wait_shown(page, [numbers[0]])
    assert page_counts(page)["total"] == 1
    # by the reporter's phone (last digits): the dispatcher sees it in the case
    search(page, phone[-4:] + "1")
    wait_shown(page, [numbers[1]])

    # one character: the API's 422 names the field; the page says which and marks it
    search(page, "井")
    expect(page.locator("#f-q")).to_have_attribute("aria-invalid", "")
    assert page.locator("#f-q").evaluate("e => e.labels[0].textContent") in page.locator("#status").inner_text()

    # keyboard across refreshes: the focused row stays focused, the page does not move
    search(page, marker)
    wait_shown(page, numbers[::-1])
    first = page.locator(f'#queue tbody tr[data-number="{numbers[1]}"]')
    first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.number") == numbers[0]
    scrolled = page.evaluate("window.scrollY")
    wait_load(page, wait_load(page, ready(page)))  # two refreshes (every second here)
    assert page.evaluate("document.activeElement.dataset.number") == numbers[0]
    assert page.evaluate("window.scrollY") == scrolled
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.dataset.number") == numbers[1]
    # focus in the search box stays there through a refresh too
    page.locator("#f-q").focus()
    wait_load(page, ready(page))
    assert page.evaluate("document.activeElement.id") == "f-q"

    # a count that stopped at the server's cap (count_cap, here 1) is shown as "more than"
    monkeypatch.setitem(app.config, "WANGGE", dataclasses.replace(app.config["WANGGE"], count_cap=1))
    page.wait_for_function("() => document.querySelector('#count-total').textContent === '1+'", timeout=15_000)
    assert page.locator('#light-counts [data-light="none"]').inner_text() == "—"  # not counted over the cap
