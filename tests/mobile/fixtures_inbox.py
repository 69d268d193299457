"""Helpers for the inbox and sync-pull tests: cases moved through the real HTTP API of the
small city (tests.dispatch.conftest), and a counter of SQL statements."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.dispatch.conftest import POINT_G1, POINT_G2, do, report  # noqa: F401

INBOX = "/api/m/v1/inbox"
PULL = "/api/m/v1/sync/pull"


def get(client, headers, path, expect=200, **params):
    r = client.get(path, headers=headers, query_string=params)
    assert r.status_code == expect, r.json
    return r.json


def pull_committed(app, headers, cursor=None):
    """A sync pull through an app of its own (committed data, no outer test transaction)."""
    r = app.test_client().get(PULL, query_string={"cursor": cursor} if cursor else {}, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def updated_descriptions(answer) -> dict:
    return {i["number"]: i["description"] for i in answer["changes"]["cases"]["updated"]}


def inbox(client, city, who, expect=200, **params):
    return get(client, city.h(who), INBOX, expect, **params)


def numbers(answer) -> list[str]:
    return [i["number"] for i in answer["items"]]


def dispatched(client, city, category="E0102", department="ENV", point=POINT_G1, who="worker1", **extra):
    """A case reported by ``who``, accepted, opened and dispatched (waiting to be signed)."""
    n = report(client, city, who=who, point=point, category=category, **extra)["number"]
    do(client, city, "clerk", n, "accept")
    c = do(client, city, "shift", n, "open")
    if c["state"] == "opened":
        do(client, city, "dispatcher", n, "dispatch", department_code=department)
    return n


@contextmanager
def count_statements(engine):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
