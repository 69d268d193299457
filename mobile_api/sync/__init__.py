"""Phone API part ``sync`` (see mobile_api/__init__.py): the pull half of offline sync,
``GET /api/m/v1/sync/pull``, from the change feed (``mobile_api.sync.models``) and a registry
of sources (``mobile_api.sync.sources``); the push half is the part ``push``."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's sources and blueprint."""
    from . import (  # imported here: importing the package must not load its views
        cases,
        grids,
        notices,
    )
    from .sources import register
    from .views import blp

    register("cases", cases.source, cases.load)
    register("grids", grids.source, grids.load)
    register("notifications", notices.source, notices.load)
    api.register_blueprint(blp)
