"""End to end in Debian's chromium (Playwright, no browser download): a citizen reports with a
photo and tracks the code; a clerk signs in, finds the case in the queue with the keyboard and
signs out; each in zh-CN and en. Screenshots go to docs/screenshots (conftest.SCREENSHOTS)."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.console.conftest import screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
WORDS = {
    "zh-CN": {"report": "上报问题", "sent": "已收到您的上报", "received": "已收到", "queue": "案件队列",
              "sign_in": "登录", "sign_out": "退出登录", "unknown": "我不知道", "expected": "预计办结日期"},
    "en": {"report": "Report a problem", "sent": "Your report was received", "received": "Received",
           "queue": "Case queue", "sign_in": "Sign in", "sign_out": "Sign out", "unknown": "I don't know",
           "expected": "Expected to be done by"},
}


def photo(tmp_path):
    path = tmp_path / "pothole.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def report(new_page, base, locale, tmp_path, *, phone: bool) -> tuple[str, str]:
    """The citizen's report with a photo, placed by the browser's position (phone) or a tap
    on the grid map (desktop). Returns (tracking code, description)."""
    words = WORDS[locale]
    options = dict(PHONE) if phone else {"viewport": {"width": 1280, "height": 900}}
    if phone:
        options.update(geolocation={"latitude": 31.2112, "longitude": 121.4751}, permissions=["geolocation"])
    page = new_page(locale, **options)
    page.goto(f"{base}/citizen/report")
    assert page.locator("h1").inner_text() == words["report"]
    assert page.get_by_label(re.compile("类别|Kind of problem")).locator("option").first.inner_text() == words["unknown"]
    page.wait_for_selector("#map[data-ready]")
    assert int(page.get_attribute("#map", "data-ready")) > 100  # the demo city's grid outlines drawn
    description = f"人行道井盖缺失 {locale} {'phone' if phone else 'desktop'}"
    page.get_by_label(re.compile("问题描述|What is the problem")).fill(description)
    if phone:
        page.get_by_role("button", name=re.compile("使用我的位置|Use my location")).click()
    else:
        page.get_by_label(re.compile("类别|Kind of problem")).select_option("E0102")
        page.locator("#map").click(position={"x": 300, "y": 160})
    expect(page.locator("#lon")).not_to_have_value("")
    page.get_by_label(re.compile("照片|Photos")).set_input_files(str(photo(tmp_path)))
    if not phone:
        screenshot(page, f"citizen-report-desktop-{locale}")
    page.get_by_role("button", name=re.compile("^(提交|Send)$")).click()
    page.wait_for_selector("#receipt:not([hidden])")
    assert page.locator("#receipt h2").inner_text() == words["sent"]
    code = page.locator("#tracking-code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{6,16}", code)
    if phone:
        screenshot(page, f"citizen-report-phone-{locale}")
    # track it
    page.locator("#track-it").click()
    page.wait_for_selector("#progress:not([hidden])")
    assert page.locator("#p-state").inner_text() == words["received"]
    assert page.get_by_text(words["expected"]).is_visible()
    assert page.locator("#p-description").inner_text() == description
    assert page.locator("#rate").is_hidden()  # rating only after closure
    assert page.locator("#p-answers li").count() >= 1
    assert "verb_" not in page.locator("#p-answers").inner_text()  # every step in words
    screenshot(page, f"citizen-track-{'phone' if phone else 'desktop'}-{locale}")
    return code, description


def case_of(app, code):
    from sqlalchemy import select

    from dispatch.attachments.models import Attachment
    from dispatch.cases.models import Case
    from wangge.extensions import db

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.tracking_code == code))
        photos = db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
        found = (case.number, case.lon, case.lat, case.category_code, len(photos))
        db.session.remove()
    return found


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_citizen_reports_with_a_photo_and_tracks_it(live, new_page, tmp_path, locale):
    base, app = live
    for phone in (True, False):
        code, _ = report(new_page, base, locale, tmp_path, phone=phone)
        number, lon, lat, category, photos = case_of(app, code)
        assert photos == 1
        assert lon is not None and lat is not None
        if phone:
            assert (round(lon, 4), round(lat, 4)) == (121.4751, 31.2112) and category is None
        else:
            assert category == "E0102"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_clerk_finds_the_report_in_the_queue_and_signs_out(live, new_page, tmp_path, locale):
    base, app = live
    words = WORDS[locale]
    code, description = report(new_page, base, locale, tmp_path, phone=True)
    number = case_of(app, code)[0]

    page = new_page(locale, viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/console/queue")
    assert page.url.startswith(f"{base}/console/login?next=")  # anonymous: to the sign-in page
    assert page.locator("h1").inner_text() == words["sign_in"]
    page.get_by_label(re.compile("账号|Account")).fill("shouli")
    page.get_by_label(re.compile("密码|Password")).fill("wangge-demo")
    page.get_by_role("button", name=words["sign_in"]).click()
    page.wait_for_url(re.compile(r"/console/queue"))
    if locale == "en":  # the account's own language (Chinese) outranks the browser's: switch
        assert page.locator("h1").inner_text() == WORDS["zh-CN"]["queue"]
        page.get_by_role("link", name="English").click()
        page.wait_for_url(re.compile(r"lang=en"))
    assert page.locator("h1").inner_text() == words["queue"]
    row = page.locator(f'#queue tbody tr[data-number="{number}"]')
    row.wait_for()
    # filters are labelled controls; the state filter narrows the list through the API
    page.get_by_label(re.compile("^(状态|State)$")).select_option("reported")
    loads = int(page.get_attribute("#queue", "data-ready"))  # the rows above are drawn: a load ended
    page.get_by_role("button", name=re.compile("^(筛选|Apply)$")).click()
    # the filtered list and its counts drawn (the unfiltered ones stay on screen until then)
    page.wait_for_function("n => Number(document.querySelector('#queue').dataset.ready) > n", arg=loads)
    expect(row).to_be_visible()
    expect(page.locator("#status")).not_to_be_empty()
    assert "state=reported" in page.url
    counts = sum(int(b.inner_text()) for b in page.locator("#light-counts [data-light]").all())
    assert counts == page.locator("#queue tbody tr[data-number]").count() > 0
    # keyboard: focus the first row, move down and up with the arrow keys
    first = page.locator("#queue tbody tr[data-number]").first
    first.focus()
    if page.locator("#queue tbody tr[data-number]").count() > 1:
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.dataset.number") == \
            page.locator("#queue tbody tr[data-number]").nth(1).get_attribute("data-number")
        page.keyboard.press("k")
    assert page.evaluate("document.activeElement.dataset.number") == first.get_attribute("data-number")
    screenshot(page, f"queue-{locale}")
    # Enter opens the case
    page.locator(f'#queue tbody tr[data-number="{number}"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/console/cases/{number}"))
    expect(page.locator("#c-description")).to_have_text(description)
    page.go_back()
    row.wait_for()
    # a change made with the cookie but without the CSRF header is refused
    refused = page.evaluate("""async (n) => {
        const r = await fetch(`/api/v1/cases/${n}/actions/accept`, {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json'}, body: '{}'});
        return [r.status, (await r.json()).code];
    }""", number)
    assert refused == [403, "csrf_failed"]
    # sign out: back to the sign-in page, and the queue asks for sign-in again
    page.get_by_role("button", name=words["sign_out"]).click()
    page.wait_for_url(re.compile(r"/console/login$"))
    page.goto(f"{base}/console/queue")
    assert "/console/login?next=" in page.url


def test_the_queue_is_usable_with_labels_only(live, new_page):
    """Accessibility basics: every form control of the pages has a label, the table has headers."""
    base, _ = live
    page = new_page("zh-CN")
    page.goto(f"{base}/console/login")
    page.get_by_label("账号").fill("paiqian")
    page.get_by_label("密码").fill("wangge-demo")
    page.get_by_label("密码").press("Enter")
    page.wait_for_url(re.compile(r"/console/queue"))
    for path in ("/console/queue", "/citizen/report", "/citizen/track"):
        page.goto(base + path)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)""")
        assert unlabelled == [], path
        assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(base + "/console/queue")
    assert page.locator("#queue thead th[scope=col]").count() == 9
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("document.activeElement.className") == "skip"
