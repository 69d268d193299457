"""Error answers at the edges: headers of HTTP errors survive (``Allow`` on a 405), Redis down
is a degraded readiness, and a command on a database nobody initialised says what to run."""
from __future__ import annotations

import json

from tests.conftest import make_settings


def test_405_carries_allow(client, admin):
    resp = client.delete("/api/v1/grids", headers=admin)
    assert resp.status_code == 405 and resp.json["code"] == "method_not_allowed"
    allowed = {m.strip() for m in resp.headers["Allow"].split(",")}
    assert "GET" in allowed and "DELETE" not in allowed
    assert resp.content_type == "application/json"


def test_readiness_with_redis_down_is_degraded_not_unready(pg_url, private_redis):
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(pg_url, redis_url=private_redis.url))
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json == {"status": "ready", "database": "ok", "redis": "ok"}
        private_redis.kill()
        ready = client.get("/readyz")
        assert ready.status_code == 200  # requests still succeed; notifications wait in the outbox
        assert ready.json == {"status": "degraded", "database": "ok", "redis": "down"}
        private_redis.start()
        assert client.get("/readyz").json["status"] == "ready"
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_command_on_an_uninitialised_database_says_run_init(run_cli, tmp_path):
    layer = tmp_path / "one.geojson"
    layer.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "X1", "name": "新网格", "level": "grid"},
        "geometry": {"type": "Polygon", "coordinates": [[[100, 10], [100.1, 10], [100.1, 10.1], [100, 10.1],
                                                         [100, 10]]]}}]}))
    url = f"sqlite:///{tmp_path / 'never-initialised.sqlite3'}"
    proc = run_cli(url, "grid", "import", str(layer), check=False, WANGGE_LANGUAGE="en")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "no such table" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert lines == ["error [database_not_initialised]: The database is not initialised (no tables yet): "
                     "run `wangge init` first"]
    proc = run_cli(url, "grid", "locate", "100.05", "10.05", check=False)
    assert proc.returncode == 2 and "wangge init" in proc.stderr and "Traceback" not in proc.stderr
