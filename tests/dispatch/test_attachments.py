"""Photos: upload (images only, size cap), content-addressed storage with dedupe, thumbnails
made by a background job (inline, and by an rq worker on the real Redis), access by case
visibility, and attachment ids on case events (report_back with photos)."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from dispatch.attachments.models import Attachment
from dispatch.cases.models import Case
from tests.conftest import REDIS_URL, make_settings
from tests.dispatch.conftest import do, report
from tests.factories import AttachmentFactory


def png_bytes(size=(800, 600), color=(200, 40, 40), mode="RGB", mark=0):
    img = Image.new(mode, size, color if mode == "RGB" else (*color, 128))
    ImageDraw.Draw(img).rectangle([10 + mark, 10, 200, 150], fill=(0, 0, 255) if mode == "RGB" else (0, 0, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def upload(client, headers, data, filename="photo.png"):
    return client.post("/api/v1/attachments", headers=headers, data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


@pytest.fixture
def media(app, tmp_path, monkeypatch):
    """Photos go to a directory of this test's own; jobs inline unless a test says otherwise."""
    settings = app.config["WANGGE"]
    monkeypatch.setattr(settings, "media_dir", str(tmp_path / "media"))
    monkeypatch.setattr(settings, "jobs_inline", True)
    return tmp_path / "media"


def stored_files(media):
    return sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())


def test_upload_png_stores_by_hash_and_makes_thumbnail_inline(client, city, media, db_session):
    data = png_bytes()
    r = upload(client, city.h("worker1"), data)
    assert r.status_code == 201, r.json
    body = r.json
    sha = body["sha256"]
    assert body["content_type"] == "image/png" and body["size"] == len(data) and body["thumbnail_ready"]
    assert stored_files(media) == [f"{sha[:2]}/{sha}", f"{sha[:2]}/{sha}.thumb.jpg"]
    row = db_session.get(Attachment, body["id"])
    assert row.path == f"{sha[:2]}/{sha}" and row.thumbnail_path == f"{sha[:2]}/{sha}.thumb.jpg"
    assert row.uploaded_by == city.staff["worker1"].id and row.case_id is None

    got = client.get(body["url"], headers=city.h("worker1"))
    assert got.status_code == 200 and got.mimetype == "image/png" and got.data == data
    thumb = client.get(body["thumbnail_url"], headers=city.h("worker1"))
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (320, 240)
    # only the uploader sees an attachment that belongs to no case yet
    assert client.get(body["url"], headers=city.h("worker2")).status_code == 404
    assert client.get(body["url"], headers=city.h("dispatcher")).status_code == 404


def test_transparent_png_gets_a_png_thumbnail(client, city, media):
    r = upload(client, city.h("worker1"), png_bytes(size=(1000, 500), mode="RGBA"))
    assert r.status_code == 201
    thumb = client.get(r.json["thumbnail_url"], headers=city.h("worker1"))
    assert thumb.mimetype == "image/png"
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (320, 160) and img.mode == "RGBA"


def test_identical_uploads_are_stored_once(client, city, media, db_session):
    data = png_bytes(mark=5)
    first = upload(client, city.h("worker1"), data)
    retry = upload(client, city.h("worker1"), data, filename="again.png")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json["id"] == first.json["id"]
    other = upload(client, city.h("worker2"), data)  # someone else, same bytes: own row, same file
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    sha = first.json["sha256"]
    assert stored_files(media) == [f"{sha[:2]}/{sha}", f"{sha[:2]}/{sha}.thumb.jpg"]
    assert db_session.query(Attachment).filter_by(sha256=sha).count() == 2


def test_only_images_within_the_size_cap(client, city, media, app, monkeypatch):
    h = city.h("worker1")
    r = upload(client, h, b"%PDF-1.4 not an image at all", filename="scan.png")
    assert r.status_code == 422 and r.json["code"] == "not_an_image"
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    r = upload(client, h, gif.getvalue(), filename="anim.gif")
    assert r.status_code == 422 and r.json["code"] == "unsupported_image" and "GIF" in r.json["message"]
    truncated = png_bytes()[:400]
    r = upload(client, h, truncated)
    assert r.status_code == 422 and r.json["code"] == "not_an_image"
    r = client.post("/api/v1/attachments", headers=h, data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["fields"]
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1000)
    r = upload(client, h, png_bytes())
    assert r.status_code == 413 and r.json["code"] == "file_too_large"
    assert client.post("/api/v1/attachments", data={"file": (io.BytesIO(png_bytes()), "x.png")}).status_code == 401
    assert stored_files(media) == []


def test_jpeg_and_webp_accepted(client, city, media):
    for fmt, mime in (("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        buf = io.BytesIO()
        Image.new("RGB", (640, 480), (10, 200, 10)).save(buf, fmt)
        r = upload(client, city.h("worker1"), buf.getvalue(), filename=f"p.{fmt.lower()}")
        assert r.status_code == 201 and r.json["content_type"] == mime


def test_report_back_with_photos_shows_them_on_the_case(client, city, media, db_session):
    n = report(client, city, category="E0102")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # E0102 is auto-dispatched to ENV
    do(client, city, "env", n, "sign")
    ids = [upload(client, city.h("env"), png_bytes(mark=m)).json["id"] for m in (1, 2)]
    c = do(client, city, "env", n, "report_back", note="已清运", attachments=ids)
    assert c["state"] == "handled"
    assert c["events"][-1]["verb"] == "report_back" and c["events"][-1]["attachments"] == ids
    events = client.get(f"/api/v1/cases/{n}/events", headers=city.h("dispatcher")).json
    assert events[-1]["attachments"] == ids
    case = db_session.query(Case).filter_by(number=n).one()
    assert {a.case_id for a in db_session.query(Attachment).filter(Attachment.id.in_(ids))} == {case.id}
    # whoever may see the case sees its photos; others do not
    for who, status in (("env", 200), ("dispatcher", 200), ("leader", 200), ("worker1", 200),
                        ("road", 404), ("worker2", 404)):
        assert client.get(f"/api/v1/attachments/{ids[0]}", headers=city.h(who)).status_code == status, who
        assert client.get(f"/api/v1/attachments/{ids[0]}/thumbnail", headers=city.h(who)).status_code == status


def test_thumbnail_by_rq_worker(client, city, media, app, monkeypatch, redis_conn, db_session):
    monkeypatch.setattr(app.config["WANGGE"], "jobs_inline", False)
    r = upload(client, city.h("worker1"), png_bytes(size=(400, 1000), mark=9))
    assert r.status_code == 201 and r.json["thumbnail_ready"] is False
    sha = r.json["sha256"]
    job_id = f"wangge-thumb-{sha}"
    queue = Queue("wangge", connection=redis_conn)

    def thumbnail_jobs():  # the queue is shared (notifications from the outbox relay use it too)
        return [j for j in queue.job_ids if j.startswith("wangge-thumb-")]

    assert thumbnail_jobs() == [job_id]
    pending = client.get(r.json["thumbnail_url"], headers=city.h("worker1"))
    assert pending.status_code == 404 and pending.json["code"] == "thumbnail_pending"
    assert pending.headers["Retry-After"]
    assert thumbnail_jobs() == [job_id]  # asked again: the job is already waiting, not a second one
    for other in set(queue.job_ids) - {job_id}:
        queue.remove(other)  # not this test's to run

    worker = SimpleWorker([queue], connection=redis_conn)
    assert worker.work(burst=True)
    assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FINISHED
    db_session.expire_all()
    assert db_session.get(Attachment, r.json["id"]).thumbnail_path == f"{sha[:2]}/{sha}.thumb.jpg"
    thumb = client.get(r.json["thumbnail_url"], headers=city.h("worker1"))
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (128, 320)


def test_rq_worker_job_builds_its_own_app(fresh_pg_url, tmp_path, monkeypatch, redis_conn):
    """Outside any app context (as in a real ``rq worker``) the job creates its own app from the
    environment, finds the committed upload and records the thumbnail."""
    from grid.accounts.service import issue_token
    from tests.factories import StaffFactory
    from wangge import create_app
    from wangge.extensions import db

    media = tmp_path / "media"
    for key, value in {"WANGGE_DATABASE_URL": fresh_pg_url, "WANGGE_REDIS_URL": REDIS_URL,
                       "WANGGE_MEDIA_DIR": str(media), "WANGGE_LOAD_DEMO": "0",
                       "WANGGE_JOBS_INLINE": "0"}.items():
        monkeypatch.setenv(key, value)
    app = create_app(make_settings(fresh_pg_url, media_dir=str(media)))
    with app.app_context():
        secret, _ = issue_token(db.session, StaffFactory(roles=["grid_worker"]), ttl_hours=1)
        db.session.commit()
    try:
        client = app.test_client()
        r = upload(client, {"Authorization": f"Bearer {secret}"}, png_bytes(mark=3))
        assert r.status_code == 201 and not r.json["thumbnail_ready"]
        worker = SimpleWorker([Queue("wangge", connection=redis_conn)], connection=redis_conn)
        assert worker.work(burst=True)
        with app.app_context():
            row = db.session.get(Attachment, r.json["id"])
            assert row.thumbnail_path is not None and (media / row.thumbnail_path).is_file()
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_a_photo_cannot_be_taken_from_another_case_or_another_uploader(client, city, db_session):
    """Attaching checks ownership: someone else's upload, or a photo already on another case,
    is refused and nothing moves."""
    mine = AttachmentFactory(uploader=city.staff["worker1"], filename="a.png", content_type="image/png", size=1)
    first = report(client, city, attachments=[mine.id])
    assert first["events"][0]["attachments"] == [mine.id]
    # worker2 cannot attach worker1's photo, nor take it from the first case
    r = client.post("/api/v1/cases", json={"description": "x", "category_code": "E0102", "lon": 121.415,
                                           "lat": 31.205, "attachments": [mine.id]}, headers=city.h("worker2"))
    assert r.status_code == 422 and "attachments" in r.json["fields"]
    second = report(client, city, who="worker1", point=(121.415, 31.205), category="C0101")
    r = client.post(f"/api/v1/cases/{second['number']}/actions/request_void",
                    json={"note": "dup", "attachments": [mine.id]}, headers=city.h("clerk"))
    assert r.status_code == 422
    db_session.expire_all()
    assert db_session.get(Attachment, mine.id).case_id is not None
