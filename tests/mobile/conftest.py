"""Fixtures for the phone API tests: the dispatch tests' small city, re-used."""
from tests.dispatch.conftest import city  # noqa: F401 - the fixture itself
from tests.markers import mark_by_fixtures


def pytest_collection_modifyitems(items):
    mark_by_fixtures(__file__, items)  # markers from the fixtures used (tests/markers.py)
