"""The ``postgis``, ``redis`` and ``shared`` markers (declared in pyproject.toml), set from
what a test uses, so ``pytest -m "not postgis and not redis"`` runs what needs no server
(the embedded and unit tests and the few others) and ``-m "not shared"`` what needs no
``../shared`` data.

A marker follows from the fixtures a test requests, directly or through other fixtures:

- ``postgis``: the run's PostGIS database (``pg_template``, under ``pg_url``,
  ``fresh_pg_url``, ``app``, ``db_session``, ``client``, ``login``, ``city`` ...) or a private
  PostgreSQL cluster (``private_pg``) or a private primary with its replica (``replica_pair``);
- ``redis``: a Redis server, the test server (``redis_conn``) or one of the test's own
  (``private_redis``, ``own_redis``). Tests that only configure the app with the test Redis
  are not marked: the app keeps working without Redis (jobs and relays wait or run inline);
- ``shared``: the ``shared_data`` fixture. A test that calls ``tests.conftest.shared_file``
  carries ``@pytest.mark.shared`` itself (a call cannot be seen from its fixtures).

Each test folder's ``conftest.py`` applies this to its own tests::

    def pytest_collection_modifyitems(items):
        mark_by_fixtures(__file__, items)
"""
from __future__ import annotations

from pathlib import Path

import pytest

NEEDS = {
    "postgis": {"pg_template", "private_pg", "replica_pair"},
    "redis": {"redis_conn", "private_redis", "own_redis"},
    "shared": {"shared_data"},
}


def mark_by_fixtures(conftest_file: str, items: list[pytest.Item]) -> None:
    """Add the markers to the items under the folder of ``conftest_file``."""
    folder = Path(conftest_file).resolve().parent
    for item in items:
        if folder not in item.path.resolve().parents:
            continue
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in NEEDS.items():
            if used & fixtures and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
