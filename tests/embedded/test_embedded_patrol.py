"""Patrols on the embedded default (SQLite, no servers): the real ``wangge serve`` takes a
demo grid worker's patrol through HTTP; ``patrol_points`` is a plain table there and
``wangge patrol partitions`` says so."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from shapely.geometry import shape

from tests.embedded.test_embedded_smoke import call, running_server, wangge


def test_a_patrol_on_the_embedded_default(tmp_path):
    data_dir = tmp_path / "var"
    with running_server(data_dir) as (base, env):
        token = call(base, "/api/v1/auth/login", body={"username": "wgy001", "password": "wangge-demo"})[1]["token"]
        status, patrol = call(base, "/api/m/v1/patrols", token=token, body={})
        assert status == 201, patrol
        assert call(base, "/api/m/v1/patrols", token=token, body={})[0] == 409
        status, figures = call(base, "/api/m/v1/patrols/figures", token=token)
        assert status == 200 and figures["grids"], figures
        code = figures["grids"][0]["code"]
        status, grid = call(base, f"/api/v1/grids/{code}", token=token)
        inside = shape(grid["geometry"]).representative_point()
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
        points = [{"time": (t0 + timedelta(seconds=10 * i)).isoformat(), "lon": inside.x + 0.0001 * i,
                   "lat": inside.y, "accuracy": 5} for i in range(10)]
        points.append({**points[0], "accuracy": 500})  # a duplicate time, sent again
        status, out = call(base, f"/api/m/v1/patrols/{patrol['id']}/points", token=token, body={"points": points})
        assert status == 200 and out["accepted"] == 10 and out["rejected"]["duplicate"] == 1, out
        status, again = call(base, f"/api/m/v1/patrols/{patrol['id']}/points", token=token, body={"points": points})
        assert again["accepted"] == 0 and again["totals"] == out["totals"]
        status, figures = call(base, "/api/m/v1/patrols/figures", token=token)
        assert figures["points"] == 10 and figures["distance_m"] > 0
        assert next(g for g in figures["grids"] if g["code"] == code)["covered_m2"] > 0
        status, track = call(base, "/api/m/v1/patrols/track?crs=gcj02", token=token)
        assert status == 200 and len(track["features"]) == 1
        leader = call(base, "/api/v1/auth/login", body={"username": "lingdao", "password": "wangge-demo"})[1]["token"]
        status, active = call(base, "/api/v1/patrols/active", token=leader)
        assert status == 200 and [i["patrol_id"] for i in active["items"]] == [patrol["id"]]
        assert call(base, f"/api/m/v1/patrols/{patrol['id']}/end", token=token, body={})[0] == 200

    with sqlite3.connect(data_dir / "wangge.sqlite3") as conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'patrol_points'").fetchone()[0]
        assert "PARTITION" not in sql.upper()
        assert conn.execute("SELECT count(*) FROM patrol_points").fetchone()[0] == 10
    out = wangge(env, "patrol", "partitions", "--drop-expired")
    assert "plain table" in out.stdout
