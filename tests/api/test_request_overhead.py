"""What the app does on every request besides the work the request asks for (issue 10): the
before/after-request hooks (sign-in, role check, input guard, limiter, session, language)
must not run SQL they do not need. Counted per request on committed PostgreSQL (statements
plus each BEGIN and COMMIT, as ``tests/dispatch/test_intake_round_trips.py``)."""
from __future__ import annotations

import pytest
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from dispatch.intake.schemas import CaseCreateSchema
from mobile_api.push.schemas import PhoneCaseView
from tests.committed import own_app
from tests.dispatch.test_intake_round_trips import BODY, _counter, _post, _world

TOKEN_SELECT = "SELECT api_tokens.id"


@pytest.fixture
def world(fresh_pg_url):
    with own_app(fresh_pg_url, index_check_seconds=3600, token_check_seconds=3600) as app:
        headers = _world(app)
        far = {**BODY, "lon": 121.409, "lat": 31.209}  # ~550 m away: not a possible duplicate
        numbers = [_post(app, "/api/v1/cases", body, headers["worker"], f"overhead-{i:04d}").json["number"]
                   for i, body in enumerate((BODY, far))]
        yield app, headers, numbers


def _count(app, counter, method: str, path: str, **kwargs):
    with counter.counting():
        r = app.test_client().open(path, method=method, **kwargs)
    return r, counter.trips, list(counter.statements)


def test_requests_that_need_no_database_touch_none(world):
    app, headers, numbers = world
    counter = _counter(app)
    for method, path, kw, status in (
            ("GET", "/healthz", {}, 200),
            ("GET", "/healthz", {"headers": headers["worker"]}, 200),  # a token on a public route: not resolved
            ("GET", f"/api/v1/cases/{numbers[0]}", {}, 401),           # no token: refused before any SQL
            ("GET", "/api/v1/no-such-route", {"headers": headers["worker"]}, 404),
            ("GET", "/api/openapi.json", {}, 200),
            ("DELETE", "/api/m/v1/me/devices/99999999999", {"headers": headers["worker"]}, 404)):  # beyond int ids
        r, trips, statements = _count(app, counter, method, path, **kw)
        assert r.status_code == status, (path, r.status_code, r.json)
        assert trips == 0, (method, path, statements)


def test_a_signed_in_request_costs_its_hooks_one_statement_then_none(world):
    """Sign-in and the role check are one SELECT (token, staff, roles) the first time a process
    sees a token, none after it (``grid.accounts.token_cache``); the answer's language and time
    zone come with it: a refused request reads nothing else, not the staff row."""
    app, headers, numbers = world
    counter = _counter(app)
    with app.app_context():
        from grid.accounts.service import issue_token
        from tests.factories import StaffFactory
        from wangge.extensions import db

        fresh = {"Authorization": f"Bearer {issue_token(db.session, StaffFactory(roles=['grid_worker']), ttl_hours=1)[0]}"}
        db.session.commit()  # a new role: the credentials version moved, the cache starts again
        db.session.remove()
    assert app.test_client().get("/api/v1/cases", headers=headers["worker"]).status_code == 200  # cached again
    for method, path, kw, status in (
            ("POST", "/api/v1/matrix", {"json": {}}, 403),           # a role the worker lacks
            ("POST", "/api/v1/cases", {"json": {}}, 422),            # a body the schema refuses
            ("POST", "/api/v1/cases?lang=en", {"json": {"description": 5}}, 422)):
        r, trips, statements = _count(app, counter, method, path, headers=headers["worker"], **kw)
        assert r.status_code == status, r.json
        assert r.json["message"]
        assert trips == 0, statements  # the worker's token is in this process's cache
        r, trips, statements = _count(app, counter, method, path, headers=fresh, **kw)
        assert r.status_code == status, r.json
        if path == "/api/v1/matrix":  # the first request with this token
            assert len(statements) == 1 and statements[0].startswith(TOKEN_SELECT), statements
            assert trips == 3, statements  # BEGIN, the token, ROLLBACK
        else:
            assert trips == 0, statements


def test_reading_a_case_costs_a_fixed_number_of_statements(world):
    """An authenticated GET of a case: the view's own reads (the token is in the process's
    cache); the same for any case (none grows with the events or other cases), nothing read
    twice."""
    app, headers, numbers = world
    counter = _counter(app)
    seen = []
    for number in numbers:
        r, trips, statements = _count(app, counter, "GET", f"/api/v1/cases/{number}", headers=headers["worker"])
        assert r.status_code == 200, r.json
        assert not any(s.startswith(TOKEN_SELECT) for s in statements), statements  # cached
        assert sum(s.startswith("SELECT staff.") for s in statements) <= 1, statements
        seen.append(len(statements))
    assert seen[0] == seen[1] and seen[0] <= 6, seen


def test_argument_schemas_are_built_once():
    """webargs would build a schema given as a class on every request (deep-copying its
    fields); the project's parser keeps one instance per class."""
    parser = Blueprint.ARGUMENTS_PARSER
    assert isinstance(parser, FlaskParser)
    first = parser._get_schema(CaseCreateSchema, None)
    assert isinstance(first, CaseCreateSchema)
    assert parser._get_schema(CaseCreateSchema, None) is first


def test_an_answer_sent_as_built_must_equal_its_dump(world):
    """``wangge.answers.as_built`` skips the response schema's dump; in testing it checks that
    the dump would have given the same answer."""
    from wangge.answers import as_built

    app, _headers, _numbers = world
    good = {"number": "3101012026000001", "tracking_code": "ABC", "state": "reported", "state_name": "已上报",
            "version": 1, "category_code": "C0101", "grid_code": None, "address": None, "lon": 121.4,
            "lat": 31.2, "crs": "wgs84", "reported_at": "2026-01-01T08:00:00+08:00",
            "possible_duplicate_of": None, "allowed_verbs": []}
    with app.test_request_context():
        assert as_built(good, PhoneCaseView).get_json() == good
        with pytest.raises(AssertionError):
            as_built({**good, "secret": "not in the schema"}, PhoneCaseView)
        with pytest.raises(AssertionError):
            as_built({**good, "version": "1"}, PhoneCaseView)  # the dump would write 1
