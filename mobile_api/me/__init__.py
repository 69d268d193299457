"""Phone API part ``me`` (see mobile_api/__init__.py): my profile, my grids (GeoJSON with
ETag), device sessions with refresh tokens, my devices."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint."""
    from . import views

    api.register_blueprint(views.blp)
