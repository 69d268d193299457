"""Phone API part ``push`` (see mobile_api/__init__.py)."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint, commands and hooks."""
