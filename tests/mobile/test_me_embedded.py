"""Device sessions on the embedded default: the real ``wangge serve`` on SQLite with the demo
city, over real HTTP: sign-in, my grids (gzip, ETag), rotation, reuse detection, and two
refreshes racing with one token."""
from __future__ import annotations

import gzip
import json
import threading
import urllib.request

import pytest

from grid.demo import DEMO_PASSWORD
from tests.embedded.test_embedded_smoke import call, running_server
from tests.mobile.fixtures_me import ME


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("me") / "var") as (base, _env):
        yield base


def _sign_in(base, device_id):
    status, body = call(base, f"{ME}/sessions", body={"username": "wgy001", "password": DEMO_PASSWORD,
                                                      "device_id": device_id, "platform": "harmonyos"})
    assert status == 201, body
    return body


def _get(base, path, token, **headers):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}", **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_sign_in_my_grids_gzip_and_etag_on_sqlite(served):
    s = _sign_in(served, "e1")
    status, headers, plain = _get(served, f"{ME}/me/grids?crs=gcj02", s["access_token"])
    assert status == 200 and "Content-Encoding" not in headers
    collection = json.loads(plain)
    assert any(f["properties"]["mine"] for f in collection["features"])
    assert any(not f["properties"]["mine"] for f in collection["features"])
    status, headers, zipped = _get(served, f"{ME}/me/grids?crs=gcj02", s["access_token"], **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(zipped)) == collection
    status, _, body = _get(served, f"{ME}/me/grids?crs=gcj02", s["access_token"],
                           **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


def test_rotation_and_reuse_on_sqlite(served):
    s = _sign_in(served, "e2")
    status, new = call(served, f"{ME}/sessions/refresh", body={"refresh_token": s["refresh_token"]})
    assert status == 200, new
    status, reused = call(served, f"{ME}/sessions/refresh", body={"refresh_token": s["refresh_token"]})
    assert status == 401 and reused["code"] == "refresh_token_reused"
    assert call(served, f"{ME}/me", token=new["access_token"])[0] == 401


def test_two_refreshes_racing_on_sqlite(served):
    for round_ in range(3):
        s = _sign_in(served, f"race-{round_}")
        barrier, answers = threading.Barrier(2), []

        def go(s=s, barrier=barrier, answers=answers):
            barrier.wait()
            answers.append(call(served, f"{ME}/sessions/refresh", body={"refresh_token": s["refresh_token"]}))

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(status for status, _ in answers) == [200, 401], answers
        loser = next(body for status, body in answers if status == 401)
        winner = next(body for status, body in answers if status == 200)
        assert loser["code"] == "refresh_token_reused"
        assert call(served, f"{ME}/me", token=winner["access_token"])[0] == 401
