"""Device sessions on the embedded default (SQLite, no servers): sign-in, rotation, reuse
detection revoking the family, my devices and /me/grids, through HTTP."""
from __future__ import annotations

from tests.embedded.test_embedded_smoke import embedded_env, wangge
from tests.factories import PASSWORD
from tests.mobile.fixtures_me import ME, bearer


def test_device_sessions_on_sqlite(tmp_path):
    from grid.accounts.service import create_staff
    from wangge import create_app
    from wangge.config import Settings
    from wangge.extensions import db

    wangge(embedded_env(tmp_path / "var"), "init")
    app = create_app(Settings(data_dir=str(tmp_path / "var"), index_check_seconds=0, load_demo=False))
    try:
        with app.app_context():
            create_staff(db.session, username="li", name="李", password=PASSWORD, roles=["grid_worker"])
            db.session.commit()
        client = app.test_client()
        s = client.post(f"{ME}/sessions", json={"username": "li", "password": PASSWORD, "device_id": "x",
                                                "platform": "harmonyos"})
        assert s.status_code == 201, s.json
        s = s.json
        assert client.get(f"{ME}/me/grids?crs=bd09", headers=bearer(s["access_token"])).json["features"] == []
        new = client.post(f"{ME}/sessions/refresh", json={"refresh_token": s["refresh_token"]})
        assert new.status_code == 200, new.json
        reused = client.post(f"{ME}/sessions/refresh", json={"refresh_token": s["refresh_token"]})
        assert reused.status_code == 401 and reused.json["code"] == "refresh_token_reused"
        assert client.get(f"{ME}/me", headers=bearer(new.json["access_token"])).status_code == 401
        other = client.post(f"{ME}/sessions", json={"username": "li", "password": PASSWORD, "device_id": "y",
                                                    "platform": "ios"}).json
        devices = client.get(f"{ME}/me/devices", headers=bearer(other["access_token"])).json
        assert [(d["id"], d["current"]) for d in devices] == [(other["device"]["id"], True)]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
