"""Review: two users (or two devices) racing on one object, against a committed database:
never a 500, never two of what must be one."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import PASSWORD
from tests.mobile.fixtures_review import committed, race

M = "/api/m/v1"
ROUNDS = 3


def twice(method, url, **kwargs) -> list:
    return [lambda c: getattr(c, method)(url, **kwargs)] * 2


def test_two_registrations_of_one_push_token_at_once(fresh_pg_url):
    """Two phones of one person (or a retry racing its original) register the same vendor
    token at the same moment: one row, answers 201 and 200 with the same id, no 500."""
    from dispatch.notifications.models import PushSubscription
    from wangge.extensions import db

    with committed(fresh_pg_url) as (app, make_staff):
        _, h = make_staff("grid_worker")
        for round_ in range(ROUNDS):
            body = {"vendor": "huawei", "token": f"tok-race-{round_}", "device": "P60"}
            answers = race(app, twice("post", f"{M}/push-subscriptions", json=body, headers=h))
            assert sorted(code for code, _ in answers) == [200, 201], answers
            assert answers[0][1]["id"] == answers[1][1]["id"]
        with app.app_context():
            assert db.session.scalar(select(func.count(PushSubscription.id))) == ROUNDS
            db.session.remove()


def test_two_devices_mark_the_same_notices_read_at_once(fresh_pg_url):
    """Two devices of one person mark the same notices read at the same moment (by ids and
    by up_to): each notice is marked once (the counts add up), no 500."""
    from dispatch.notifications import notify
    from wangge.extensions import db

    with committed(fresh_pg_url) as (app, make_staff):
        sid, h = make_staff("grid_worker")
        with app.app_context():
            notify.add_many(db.session, [(f"review-{i}", "case_event",
                                          {"recipients": [{"kind": "staff", "id": sid}],
                                           "text_zh": f"通知{i}", "text_en": f"n{i}"}) for i in range(5)])
            db.session.commit()
            db.session.remove()
        ids = [i["id"] for i in app.test_client().get(f"{M}/notifications", headers=h).json["items"]]
        assert len(ids) == 5
        answers = race(app, [lambda c: c.post(f"{M}/notifications/read", json={"ids": ids}, headers=h),
                             lambda c: c.post(f"{M}/notifications/read", json={"up_to": max(ids)}, headers=h)])
        assert [code for code, _ in answers] == [200, 200], answers
        assert sum(body["marked"] for _, body in answers) == 5
        assert all(body["unread"] == 0 for _, body in answers)


def test_two_sign_ins_on_one_device_at_once_leave_one_session(fresh_pg_url):
    """The same phone signs in twice at the same moment (a double tap): signing in on a device
    replaces its earlier session, so one session of that device stays signed in."""
    from grid.models import DeviceSession
    from wangge.extensions import db

    with committed(fresh_pg_url) as (app, make_staff):
        sid, _ = make_staff("grid_worker", username="shuangji")
        for round_ in range(ROUNDS):
            body = {"username": "shuangji", "password": PASSWORD, "device_id": f"dev-{round_}",
                    "platform": "android"}
            answers = race(app, twice("post", f"{M}/sessions", json=body))
            assert [code for code, _ in answers] == [201, 201], answers
            with app.app_context():
                live = db.session.scalar(select(func.count(DeviceSession.id)).where(
                    DeviceSession.staff_id == sid, DeviceSession.device_id == f"dev-{round_}",
                    DeviceSession.revoked_at.is_(None)))
                db.session.remove()
            assert live == 1


def test_two_patrol_starts_and_two_uploads_of_one_batch_at_once(fresh_pg_url):
    """Two starts at once: one 201, one 409 ``patrol_open`` naming it. The same batch uploaded
    twice at once (a retry racing its original): the points are stored and counted once."""
    from datetime import UTC, datetime, timedelta

    with committed(fresh_pg_url) as (app, make_staff):
        _, h = make_staff("grid_worker")
        answers = race(app, twice("post", f"{M}/patrols", headers=h))
        assert sorted(code for code, _ in answers) == [201, 409], answers
        created = next(body for code, body in answers if code == 201)
        refused = next(body for code, body in answers if code == 409)
        assert refused["code"] == "patrol_open" and refused["details"]["patrol_id"] == created["id"]
        now = datetime.now(UTC)
        points = [{"time": (now - timedelta(seconds=30 - i)).isoformat(), "lon": 121.405 + i * 1e-5,
                   "lat": 31.205, "accuracy": 5} for i in range(20)]
        url = f"{M}/patrols/{created['id']}/points"
        answers = race(app, twice("post", url, json={"points": points}, headers=h))
        assert [code for code, _ in answers] == [200, 200], answers
        assert sorted(body["accepted"] for _, body in answers) == [0, 20]
        current = app.test_client().get(f"{M}/patrols/current", headers=h).json
        assert current["totals"]["accepted"] == 20 and current["totals"]["rejected"]["duplicate"] == 0


def test_a_device_signed_out_while_it_refreshes(fresh_pg_url):
    """The owner signs a lost phone out while the phone refreshes: whichever runs first, the
    device ends signed out and no token it holds (old or new) works."""
    with committed(fresh_pg_url) as (app, make_staff):
        make_staff("grid_worker", username="diushi")
        for round_ in range(ROUNDS):
            client = app.test_client()
            owner = client.post(f"{M}/sessions", json={"username": "diushi", "password": PASSWORD,
                                                       "device_id": f"desk-{round_}", "platform": "web"}).json
            lost = client.post(f"{M}/sessions", json={"username": "diushi", "password": PASSWORD,
                                                      "device_id": f"lost-{round_}", "platform": "android"}).json
            oh = {"Authorization": f"Bearer {owner['access_token']}"}
            answers = race(app, [
                lambda c, lost=lost: c.post(f"{M}/sessions/refresh", json={"refresh_token": lost["refresh_token"]}),
                lambda c, lost=lost, oh=oh: c.delete(f"{M}/me/devices/{lost['device']['id']}", headers=oh)])
            assert answers[1][0] == 200, answers
            tokens = [lost["access_token"]]
            if answers[0][0] == 200:
                tokens.append(answers[0][1]["access_token"])
                assert client.post(f"{M}/sessions/refresh",
                                   json={"refresh_token": answers[0][1]["refresh_token"]}).status_code == 401
            else:
                assert answers[0][1]["code"] == "refresh_token_revoked", answers
            for token in tokens:
                assert client.get(f"{M}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
            assert client.get(f"{M}/me", headers=oh).status_code == 200
