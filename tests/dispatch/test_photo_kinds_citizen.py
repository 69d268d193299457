"""Citizens' photos (issue 8): uploaded without an account for one report, checked by
content, stored without EXIF, usable once and only by whoever holds the upload token; their
capture data is never kept, and the tracking page shows nothing of them."""
from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from PIL import Image

from dispatch.attachments.models import Attachment
from tests.dispatch.conftest import POINT_G1
from tests.dispatch.fixtures_photos import (  # noqa: F401 - media_fixture is the fixture "media"
    exif_of_file,
    hours_ago,
    latitude_bytes,
    media_fixture,
    north_of,
    photo,
    public_upload,
    upload,
)
from wangge.timeutil import utcnow


@pytest.fixture(autouse=True)
def fresh_limits(redis_conn):
    """Rate-limit counters start at zero (this run's own Redis database, flushed)."""
    return redis_conn


def address() -> dict:
    n = uuid.uuid4().int
    return {"REMOTE_ADDR": f"10.{n % 250 + 1}.{n // 250 % 250}.{n // 62500 % 250 + 1}"}


def citizen_report(client, photos, key=None, env=None, **extra):
    body = {"description": "小区门口垃圾堆积", "category_code": "E0102", "lon": POINT_G1[0], "lat": POINT_G1[1],
            "photos": photos, **extra}
    body = {k: v for k, v in body.items() if v is not None}  # None: leave the field out
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/public/reports", json=body, headers=headers, environ_base=env or address())


def token_of(client, data=None, filename="photo.jpg") -> str:
    r = public_upload(client, data or photo(taken=hours_ago(1), at=north_of(POINT_G1, 10)), filename)
    assert r.status_code == 201, r.json
    return r.json["upload_token"]


def test_a_citizen_reports_with_a_photo_stripped_of_its_capture_data(client, city, media, db_session):
    at = north_of(POINT_G1, 25)
    original = photo(taken=hours_ago(3), at=at)
    r = public_upload(client, original, "IMG_2024.jpg")
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) == {"upload_token", "expires_at", "content_type", "size"} and len(body["upload_token"]) >= 40
    row = db_session.query(Attachment).filter(Attachment.upload_token_hash.isnot(None)).one()
    assert row.uploaded_by is None and row.case_id is None and row.kind == "before"
    assert row.upload_token_hash != body["upload_token"]  # only its hash is stored
    assert (row.captured_at, row.captured_lon, row.captured_lat) == (None, None, None)
    stored = (media / row.path).read_bytes()
    assert exif_of_file(stored) == {"gps": {}, "exif": {}, "ifd0": {}} and b"Huawei" not in stored
    assert not any(p in stored for p in latitude_bytes(at[1]))

    r = citizen_report(client, [body["upload_token"]])
    assert r.status_code == 201, r.json
    number, code = r.json["number"], r.json["tracking_code"]
    case = client.get(f"/api/v1/cases/{number}", headers=city.h("dispatcher")).json
    [shown] = case["photos"]
    assert shown["id"] == row.id and shown["source"] == "citizen" and shown["kind"] == "before"
    assert shown["verb"] == "submit" and shown["event_id"] == case["events"][0]["id"]
    assert (shown["captured_at"], shown["captured_lon"], shown["flags"]) == (None, None, None)
    assert client.get(shown["url"], headers=city.h("dispatcher")).data == stored
    # the tracking page: no photo, no ids, no capture data
    page = client.get(f"/api/v1/public/reports/{code}")
    assert page.status_code == 200
    text = json.dumps(page.json)
    for word in ("photo", "attachment", "captured", "flags", "upload", str(row.id) + "]", "/api/v1/attachments"):
        assert word not in text, word
    # citizens' photos are never on the dispatcher's flagged list
    flagged = client.get("/api/v1/attachments/flagged", headers=city.h("dispatcher")).json["photos"]
    assert row.id not in [p["id"] for p in flagged]


def test_an_upload_token_is_used_once_and_a_retry_of_the_same_report_is_fine(client, city, media):
    token = token_of(client)
    first = citizen_report(client, [token], key="citizen-retry-0001")
    assert first.status_code == 201
    again = citizen_report(client, [token], key="citizen-retry-0001")
    assert again.status_code == 200 and again.json["number"] == first.json["number"]
    reuse = citizen_report(client, [token])
    assert reuse.status_code == 422 and "photos" in reuse.json["fields"], reuse.json
    other_key = citizen_report(client, [token], key="citizen-retry-0002")
    assert other_key.status_code == 422


def test_an_expired_token_cannot_be_used(client, city, media, db_session):
    token = token_of(client)
    row = db_session.query(Attachment).filter(Attachment.upload_token_hash.isnot(None)).one()
    row.upload_expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    r = citizen_report(client, [token])
    assert r.status_code == 422 and "photos" in r.json["fields"]


@pytest.mark.parametrize("bad", ["1", "x" * 43, "a\\u0000b", "\\ud800abc", " ", "x" * 65, ""])
def test_what_is_not_a_live_token_is_422(client, city, media, bad):
    raw = '{"description": "d", "address": "a", "photos": ["' + bad + '"]}'  # JSON escapes as sent
    r = client.post("/api/v1/public/reports", data=raw, content_type="application/json", environ_base=address())
    assert r.status_code == 422, r.json


def test_a_citizen_cannot_use_a_staff_photo_nor_another_citizens_photo_by_id(client, city, media, db_session):
    staff_photo = upload(client, city.h("worker1"), photo(taken=hours_ago(1))).json["id"]
    token_of(client)  # someone else's upload
    theirs = db_session.query(Attachment).filter(Attachment.upload_token_hash.isnot(None)).one().id
    for guess in (staff_photo, theirs):
        r = citizen_report(client, [str(guess)])
        assert r.status_code == 422, r.json
        r = citizen_report(client, [], attachments=[guess])  # not a field of the public report
        assert r.status_code == 422, r.json
    # and staff cannot take a citizen's upload by its id either
    r = client.post("/api/v1/cases", headers=city.h("worker1"), json={
        "description": "x", "lon": POINT_G1[0], "lat": POINT_G1[1], "attachments": [theirs]})
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    assert db_session.get(Attachment, theirs).case_id is None


def test_photo_list_limits(client, city, media):
    token = token_of(client)
    assert citizen_report(client, [token, token]).status_code == 422
    assert citizen_report(client, [token] * 7).status_code == 422
    assert citizen_report(client, "not a list").status_code == 422
    assert citizen_report(client, [token]).status_code == 201


def test_not_an_image_and_a_decompression_bomb_are_refused(client, city, media, db_session):
    r = public_upload(client, b"<?php system($_GET['c']); ?>", "shell.jpg")
    assert r.status_code == 422 and r.json["code"] == "not_an_image"
    r = public_upload(client, b"\xff\xd8\xff\xe0" + b"\x00" * 64, "broken.jpg")
    assert r.status_code == 422 and r.json["code"] == "not_an_image"
    for side in (10_000, 20_000):  # 100 and 400 megapixels in a few kilobytes
        buf = io.BytesIO()
        Image.new("1", (side, side)).save(buf, "PNG")
        assert len(buf.getvalue()) < 200_000
        r = public_upload(client, buf.getvalue(), "bomb.png")
        assert r.status_code == 422 and r.json["code"] == "unsupported_image", (side, r.json)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    r = public_upload(client, gif.getvalue(), "anim.gif")
    assert r.status_code == 422 and r.json["code"] == "unsupported_image"
    r = client.post("/api/v1/public/photos", content_type="multipart/form-data", data={"other": "x"})
    assert r.status_code == 422 and "file" in r.json["fields"]
    assert db_session.query(Attachment).count() == 0


def test_a_nul_byte_in_the_file_name_is_dropped(client, city, media, db_session):
    r = public_upload(client, photo(taken=hours_ago(1)), "evil\x00.php\x00.jpg")
    assert r.status_code == 201, r.json
    row = db_session.query(Attachment).one()
    assert "\x00" not in row.filename and row.filename == "evil.php.jpg"


def test_too_large_is_413(client, city, media, app, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1000)
    r = public_upload(client, photo(taken=hours_ago(1)))
    assert r.status_code == 413 and r.json["code"] == "file_too_large"


def test_an_anonymous_flood_of_uploads_is_429(client, city, media, app, monkeypatch):
    monkeypatch.setattr(app.config["WANGGE"], "public_photo_rate_limit", "3 per hour")
    env = address()
    data = photo(taken=hours_ago(1))
    answers = [client.post("/api/v1/public/photos", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "p.jpg")}, environ_base=env).status_code
               for _ in range(5)]
    assert answers == [201, 201, 201, 429, 429]
    refused = client.post("/api/v1/public/photos", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(b"x"), "p.jpg")}, environ_base=env)
    assert refused.status_code == 429 and refused.json["code"] == "rate_limited" and refused.headers["Retry-After"]
    # another address is not held back
    other = client.post("/api/v1/public/photos", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(data), "p.jpg")}, environ_base=address())
    assert other.status_code == 201


def test_two_reports_racing_for_one_upload_token_only_one_gets_it(fresh_pg_url):
    """Committed data, two threads with their own sessions released together: the photo is
    claimed by a conditional UPDATE, so exactly one report has it and the other is refused
    (422 when it saw the photo taken, 409 ``attachment_taken`` when both checked first)."""
    import threading

    from sqlalchemy import select

    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(fresh_pg_url))
    try:
        for round_ in range(4):
            r = public_upload(app.test_client(), photo(taken=hours_ago(1), color=(round_, 9, 9)))
            assert r.status_code == 201, r.json
            token = r.json["upload_token"]
            barrier, answers = threading.Barrier(2), [None, None]

            def run(i, barrier, answers, token):
                client = app.test_client()
                barrier.wait()
                answers[i] = citizen_report(client, [token], address=f"测试路{i}号", lon=None, lat=None)

            threads = [threading.Thread(target=run, args=(i, barrier, answers, token)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            codes = sorted(a.status_code for a in answers)
            assert codes[0] == 201 and codes[1] in (409, 422), [(a.status_code, a.json) for a in answers]
            loser = next(a for a in answers if a.status_code != 201)
            assert loser.json["code"] in ("attachment_taken", "validation_error")
        with app.app_context():
            rows = db.session.scalars(select(Attachment)).all()
            assert len(rows) == 4 and all(a.case_id is not None and a.event_id is not None for a in rows)
            cases_with_photos = {a.case_id for a in rows}
            assert len(cases_with_photos) == 4
            from dispatch.cases.models import Case
            assert db.session.query(Case).count() == 4  # the refused report left nothing behind
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_an_enforcement_record_cannot_take_a_citizens_upload_by_id(client, city, media, db_session):
    from tests.dispatch.test_enforcement import API, enf_number, opened_case, post
    from tests.dispatch.test_photo_kinds import uploaded

    token_of(client)
    theirs = db_session.query(Attachment).filter(Attachment.upload_token_hash.isnot(None)).one().id
    n = opened_case(client, city)
    r = client.post(f"/api/v1/cases/{n}/actions/refer_enforcement", json={"note": "违法建设"},
                    headers=city.h("dispatcher"))
    assert r.status_code == 200, r.json
    number = enf_number(r.json)
    h = city.h("zfleader")
    assert post(client, h, f"{API}/{number}/records", 422, note="现场照片", attachments=[theirs])["fields"]["attachments"]
    assert db_session.get(Attachment, theirs).case_id is None
    mine = uploaded(client, city, photo(taken=hours_ago(1), color=(5, 5, 5)), who="zfleader")
    post(client, h, f"{API}/{number}/records", 201, note="现场照片", attachments=[mine])
