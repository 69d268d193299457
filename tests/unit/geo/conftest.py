"""Fixtures for the geo package tests (no app, no database)."""

from pathlib import Path

import pytest

# /work/main/tests/unit/geo/conftest.py -> parents[3] is the repo root; shared/ is its sibling.
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"


@pytest.fixture
def shared_data():
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared reference data not present at {data.resolve()}")
    return data
