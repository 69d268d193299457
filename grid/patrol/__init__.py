"""Patrols (巡查): a grid worker's walk through their grids, its GPS track, check-ins, and the
figures leaders and the indicators read (patrol coverage, patrol time). The phone API's views
are ``mobile_api.patrol``; this part keeps the rules."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint, commands and hooks (called by grid.init_app)."""
