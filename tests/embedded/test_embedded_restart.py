"""``make run`` a second time on the same data: the server must still accept writes (a read
transaction left open by the start-up demo check once locked the SQLite file for good)."""
from tests.embedded.test_embedded_smoke import call, running_server


def _report(base: str, key: str) -> tuple[int, dict]:
    status, body = call(base, "/api/v1/auth/login", body={"username": "wgy001", "password": "wangge-demo"})
    assert status == 200, body
    return call(base, "/api/v1/cases", token=body["token"], body={
        "description": "路边有暴露垃圾", "category_code": "E0102", "lon": 121.4751, "lat": 31.2112,
        "idempotency_key": key})


def test_a_restarted_embedded_server_accepts_writes(tmp_path):
    data_dir = tmp_path / "var"
    with running_server(data_dir) as (base, _):
        assert _report(base, "restart-test-0001")[0] == 201
    with running_server(data_dir) as (base, _):  # the demo is there: only the check runs
        status, body = _report(base, "restart-test-0002")
        assert status == 201, body
