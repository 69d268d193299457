"""Review: the role next door and the anonymous caller on every new endpoint, and one person's
things read by another (patrols, devices, push subscriptions, notices, conflicts)."""
from __future__ import annotations

import pytest

from tests.dispatch.conftest import do, report

M = "/api/m/v1"
DESK_ONLY = [("GET", "/api/v1/sync-conflicts"), ("POST", "/api/v1/sync-conflicts/1/resolve"),
             ("GET", "/api/v1/attachments/flagged"), ("GET", "/api/v1/patrols/active"),
             ("GET", "/api/v1/patrols/track?staff_id=1"), ("GET", "/api/v1/patrols/figures?staff_id=1")]
WORKER_ONLY = [("POST", f"{M}/patrols"), ("GET", f"{M}/patrols/current"), ("POST", f"{M}/patrols/1/end"),
               ("POST", f"{M}/patrols/1/points"), ("POST", f"{M}/patrols/1/checkins"),
               ("GET", f"{M}/patrols/figures"), ("GET", f"{M}/patrols/track")]
ANY_STAFF = [("GET", f"{M}/me"), ("GET", f"{M}/me/grids"), ("GET", f"{M}/me/devices"),
             ("DELETE", f"{M}/me/devices/1"), ("GET", f"{M}/sync/pull"), ("POST", f"{M}/sync/push"),
             ("GET", f"{M}/notifications"), ("GET", f"{M}/notifications/counts"),
             ("POST", f"{M}/notifications/read"), ("GET", f"{M}/push-subscriptions"),
             ("POST", f"{M}/push-subscriptions"), ("GET", f"{M}/push-subscriptions/vapid-key"),
             ("DELETE", f"{M}/push-subscriptions/1"), ("GET", f"{M}/inbox"), ("POST", f"{M}/reports")]


@pytest.mark.parametrize(("method", "url"), DESK_ONLY + WORKER_ONLY + ANY_STAFF
                         + [("POST", "/api/v1/staff/1/devices/sign-out")])
def test_anonymous_and_a_bad_token_are_401_before_the_body_is_read(client, method, url):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer \x00"}):
        r = client.open(url, method=method, data=b"{not json", headers=headers, content_type="application/json")
        assert r.status_code == 401, (url, r.json)


@pytest.mark.parametrize(("method", "url"), DESK_ONLY)
@pytest.mark.parametrize("who", ["worker1", "env", "officer"])
def test_desk_endpoints_refuse_the_phone_roles(client, city, method, url, who):
    r = client.open(url, method=method, json={"note": "x"}, headers=city.h(who))
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"


@pytest.mark.parametrize(("method", "url"), WORKER_ONLY)
@pytest.mark.parametrize("who", ["env", "dispatcher", "leader"])
def test_patrol_endpoints_are_for_grid_workers(client, city, method, url, who):
    r = client.open(url, method=method, json={}, headers=city.h(who))
    assert r.status_code == 403


@pytest.mark.parametrize("who", ["worker1", "env", "clerk", "dispatcher"])
def test_only_admins_sign_a_persons_devices_out(client, city, who):
    r = client.post(f"/api/v1/staff/{city.staff['worker2'].id}/devices/sign-out", headers=city.h(who))
    assert r.status_code == 403


def test_another_workers_patrol_is_404_everywhere(client, city):
    pid = client.post(f"{M}/patrols", headers=city.h("worker2")).json["id"]
    other = city.h("worker1")
    for method, url, body in (("POST", f"{M}/patrols/{pid}/points",
                               {"points": [{"time": "2026-01-01T00:00:00Z", "lon": 121.4, "lat": 31.2}]}),
                              ("POST", f"{M}/patrols/{pid}/checkins", {"lon": 121.415, "lat": 31.205}),
                              ("POST", f"{M}/patrols/{pid}/end", None)):
        r = client.open(url, method=method, json=body, headers=other)
        assert r.status_code == 404, (url, r.json)
    assert client.get(f"{M}/patrols/current", headers=other).status_code == 404
    still = client.get(f"{M}/patrols/current", headers=city.h("worker2")).json
    assert still["id"] == pid and still["ended_at"] is None and still["totals"]["accepted"] == 0


def test_a_handler_never_pulls_or_lists_another_departments_case(client, city):
    number = report(client, city)["number"]  # E0102: ENV's
    do(client, city, "clerk", number, "accept")
    do(client, city, "shift", number, "open")
    env_pull = client.get(f"{M}/sync/pull", headers=city.h("env")).json
    road_pull = client.get(f"{M}/sync/pull", headers=city.h("road")).json
    assert number in [c["number"] for c in env_pull["changes"]["cases"]["updated"]]
    assert number not in str(road_pull)
    later = client.get(f"{M}/sync/pull?cursor={road_pull['cursor']}", headers=city.h("road")).json
    assert number not in str(later)
    assert number not in str(client.get(f"{M}/inbox", headers=city.h("road")).json)
    assert number not in str(client.get(f"{M}/notifications", headers=city.h("road")).json)
    assert client.get(f"/api/v1/cases/{number}", headers=city.h("road")).status_code == 404
