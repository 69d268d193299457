"""Review: the phone API with its Redis stopped (a private redis-server, killed). Signing in,
a report through /api/m/v1/reports, a push batch, a photo upload (its thumbnail job cannot be
queued), a citizen's photo and report: all kept in PostgreSQL, and the notices they cause land
in the personal inbox, which needs no Redis."""
from __future__ import annotations

import io
from datetime import UTC, datetime

from shapely.geometry import box
from sqlalchemy import func, select

from tests.factories import PASSWORD
from tests.mobile.fixtures_review import committed
from tests.servers import PrivateRedis

M = "/api/m/v1"
POINT = (121.405, 31.205)


def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_phone_api_keeps_everything_with_redis_down(fresh_pg_url, tmp_path):
    redis = PrivateRedis()
    redis.start()
    try:
        _scenario(fresh_pg_url, tmp_path, redis)
    finally:
        redis.kill()


def _scenario(fresh_pg_url, tmp_path, redis):
    from dispatch.cases.models import Case
    from mobile_api.push.models import SyncPushItem
    from tests.factories import (
        AssignmentFactory,
        DepartmentFactory,
        GridFactory,
        ResponsibilityFactory,
    )
    from wangge.extensions import db

    with committed(fresh_pg_url, redis_url=redis.url, media_dir=str(tmp_path / "media")) as (app, make_staff):
        with app.app_context():
            GridFactory(code="310101001", name="测试街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21),
                        area_m2=1)
            GridFactory(code="31010100100101", name="一号网格", parent_code="310101001",
                        geom=box(121.40, 31.20, 121.41, 31.21), area_m2=1)
            env = DepartmentFactory(code="ENV", name="环卫所")
            dc = DepartmentFactory(code="DC", name="指挥中心", kind="dispatch_center")
            ResponsibilityFactory(category_code="E0102", department=env)
            env_id, dc_id = env.id, dc.id
            db.session.commit()
            db.session.remove()
        worker_id, _ = make_staff("grid_worker", username="wang")
        _, clerk = make_staff("intake_clerk", department_id=dc_id)
        _, shift = make_staff("shift_leader", department_id=dc_id)
        _, handler = make_staff("department_handler", department_id=env_id)
        with app.app_context():
            AssignmentFactory(staff_id=worker_id, grid_code="31010100100101",
                              valid_from=datetime(2020, 1, 1, tzinfo=UTC))
            db.session.commit()
            db.session.remove()
        redis.kill()  # from here on Redis is gone

        client = app.test_client()
        signed = client.post(f"{M}/sessions", json={"username": "wang", "password": PASSWORD,
                                                    "device_id": "redis-down", "platform": "android"})
        assert signed.status_code == 201, signed.json
        worker = {"Authorization": f"Bearer {signed.json['access_token']}"}
        refreshed = client.post(f"{M}/sessions/refresh", json={"refresh_token": signed.json["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.json
        worker = {"Authorization": f"Bearer {refreshed.json['access_token']}"}

        photo = client.post("/api/v1/attachments", headers=worker, content_type="multipart/form-data",
                            data={"file": (io.BytesIO(png()), "a.png"), "kind": "before"})
        assert photo.status_code == 201, photo.json
        body = {"description": "路边有暴露垃圾", "category_code": "E0102", "lon": POINT[0], "lat": POINT[1],
                "attachments": [photo.json["id"]]}
        one = client.post(f"{M}/reports", json={**body, "client_id": "redis-down-1"}, headers=worker)
        assert one.status_code == 201, one.json
        batch = {"items": [{"client_id": f"redis-down-b{i}", "type": "report",
                            "report": {**body, "attachments": [], "description": f"井盖缺失 {i}"}}
                           for i in range(3)]}
        pushed = client.post(f"{M}/sync/push", json=batch, headers=worker)
        assert pushed.status_code == 200, pushed.json
        assert pushed.json["counts"] == {"created": 3}
        again = client.post(f"{M}/sync/push", json=batch, headers=worker)
        assert again.status_code == 200 and again.json["counts"] == {"already_done": 3}

        # the desk dispatches the phone's report: the department's handler is told in the inbox
        number = one.json["number"]
        for who, verb in ((clerk, "accept"), (shift, "open")):
            r = client.post(f"/api/v1/cases/{number}/actions/{verb}", json={}, headers=who)
            assert r.status_code == 200, r.json
        notices = client.get(f"{M}/notifications", headers=handler)
        assert notices.status_code == 200
        assert number in [n["case_number"] for n in notices.json["items"]]
        assert client.get(f"{M}/notifications/counts", headers=handler).json["unread"] >= 1
        inbox = client.get(f"{M}/inbox", headers=handler)
        assert inbox.status_code == 200 and number in [i["number"] for i in inbox.json["items"]]
        pull = client.get(f"{M}/sync/pull", headers=worker)
        assert pull.status_code == 200

        # a citizen's photo and report
        citizen_photo = client.post("/api/v1/public/photos", content_type="multipart/form-data",
                                    data={"file": (io.BytesIO(png()), "c.png")})
        assert citizen_photo.status_code == 201, citizen_photo.json
        public = client.post("/api/v1/public/reports", json={
            "description": "小区门口垃圾没人清", "lon": POINT[0], "lat": POINT[1],
            "photos": [citizen_photo.json["upload_token"]]})
        assert public.status_code == 201, public.json

        with app.app_context():
            assert db.session.scalar(select(func.count(Case.id))) == 5
            assert db.session.scalar(select(func.count(SyncPushItem.id))) == 3
            db.session.remove()
