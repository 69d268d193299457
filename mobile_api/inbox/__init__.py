"""Phone API part ``inbox`` (see mobile_api/__init__.py): ``GET /api/m/v1/inbox``."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint."""
    from .views import blp  # imported here: importing the package must not load its views

    api.register_blueprint(blp)
