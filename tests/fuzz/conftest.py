"""Markers of this folder's tests from the fixtures they use (see tests/markers.py)."""
from tests.markers import mark_by_fixtures


def pytest_collection_modifyitems(items):
    mark_by_fixtures(__file__, items)
