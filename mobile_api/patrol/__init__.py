"""Phone API part ``patrol`` (see mobile_api/__init__.py): start and end a patrol, upload GPS
points in batches, check in at a grid, my track and figures. The rules live in
``grid.patrol``; leaders' views are ``/api/v1/patrols`` (``grid.patrol.views``)."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint."""
    from .views import blp

    api.register_blueprint(blp)
