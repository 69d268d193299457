"""An app on a database of its own whose work is committed (for races: ``fresh_pg_url``), and
running requests against it from several threads at the same moment."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from tests.conftest import make_settings


def dispose(app) -> None:
    """Drop the app's session and close its engines' connections (so the database can go)."""
    from wangge.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@contextmanager
def own_app(database_url: str, **settings):
    """``with own_app(fresh_pg_url) as app``: an app on that database; disposed on the way out."""
    from wangge import create_app

    app = create_app(make_settings(database_url, **settings))
    try:
        yield app
    finally:
        dispose(app)


def race(app, calls, *, name: str = "race", timeout: float = 60) -> list:
    """Run each ``call(client)`` in its own thread (``{name}-{i}``, own test client, session and
    connection), released together by a barrier; their answers (status, json) in order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i, call):
        client = app.test_client()
        barrier.wait()
        r = call(client)
        answers[i] = (r.status_code, r.json)

    threads = [threading.Thread(target=run, args=(i, c), name=f"{name}-{i}") for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert all(a is not None for a in answers), answers
    return answers


def post_race(app, requests, *, name: str = "race", timeout: float = 60) -> list:
    """``race`` of POSTs: ``requests`` are (url, json body, headers); request i in thread ``{name}-{i}``."""
    return race(app, [_poster(url, body, headers) for url, body, headers in requests], name=name, timeout=timeout)


def _poster(url, body, headers):
    return lambda client: client.post(url, json=body, headers=headers)
