"""The queue's search and counts on the embedded SQLite file: the same query as on PostgreSQL
(``ILIKE`` becomes SQLite's LIKE, the phone's separators dropped by nested ``replace``), over
HTTP through the app on a file made by ``wangge init``."""
from __future__ import annotations

from tests.embedded.test_embedded_smoke import embedded_env, wangge


def test_search_and_counts_on_sqlite(tmp_path):
    from grid.accounts.service import issue_token
    from tests.factories import CaseFactory, DepartmentFactory, StaffFactory
    from wangge import create_app
    from wangge.config import Settings
    from wangge.extensions import db

    wangge(embedded_env(tmp_path / "var"), "init")
    app = create_app(Settings(data_dir=str(tmp_path / "var"), index_check_seconds=0, load_demo=False))
    with app.app_context():
        env, road = DepartmentFactory(code="ENV", name="环卫所"), DepartmentFactory(code="ROAD", name="路政")
        dispatcher = StaffFactory(roles=["dispatcher"])
        handler = StaffFactory(roles=["department_handler"], department_id=env.id)
        lid = CaseFactory(state="handling", department=road, title="井盖缺失", description="Manhole cover missing",
                          address="南京东路200号", reporter_phone="139-0000 7777")
        garbage = CaseFactory(state="handling", department=env, title="暴露垃圾", description="路边 50%_off",
                              address="南京东路100号 O'Brien's :name ?")
        headers = {who: {"Authorization": f"Bearer {issue_token(db.session, s, ttl_hours=1)[0]}"}
                   for who, s in (("dispatcher", dispatcher), ("handler", handler))}
        numbers = {"lid": lid.number, "garbage": garbage.number}
        db.session.commit()
        client = app.test_client()

        def found(who, q, **more):
            r = client.get("/api/v1/cases", query_string={"q": q, **more}, headers=headers[who])
            assert r.status_code == 200, r.json
            counts = client.get("/api/v1/cases/counts", query_string={"q": q, **more}, headers=headers[who]).json
            assert counts["total"] == len(r.json["cases"]), (q, counts)
            return {c["number"] for c in r.json["cases"]}

        assert found("dispatcher", numbers["lid"]) == {numbers["lid"]}
        assert found("dispatcher", "井盖") == {numbers["lid"]}
        assert found("dispatcher", "MANHOLE") == {numbers["lid"]}  # any case (ASCII)
        assert found("dispatcher", "南京东路") == {numbers["lid"], numbers["garbage"]}
        assert found("dispatcher", "7777") == found("dispatcher", "13900007777") == {numbers["lid"]}
        assert found("dispatcher", "0%_") == {numbers["garbage"]} and found("dispatcher", "%%") == set()
        # written into the statement (queue._inline), quoted: quotes, ':name' and '?' are characters
        assert found("dispatcher", "O'Brien's :name ?") == {numbers["garbage"]}
        assert found("dispatcher", "'; DROP TABLE cases; --") == set()
        assert found("handler", "南京东路") == {numbers["garbage"]}  # its department's only
        assert found("handler", numbers["lid"]) == set()
        first = client.get("/api/v1/cases", query_string={"q": "南京东路", "limit": 1}, headers=headers["dispatcher"]).json
        rest = client.get("/api/v1/cases", query_string={"q": "南京东路", "limit": 1, "cursor": first["next_cursor"]},
                          headers=headers["dispatcher"]).json
        assert [c["number"] for c in first["cases"] + rest["cases"]] == [numbers["garbage"], numbers["lid"]]
        assert rest["next_cursor"] is None
        bad = client.get("/api/v1/cases", query_string={"q": "x" * 101}, headers=headers["dispatcher"])
        assert bad.status_code == 422 and list(bad.json["fields"]) == ["q"]
        db.session.remove()
        db.engine.dispose()
