"""Phone API part ``sync`` (see mobile_api/__init__.py): the pull half of offline sync,
``GET /api/m/v1/sync/pull``, from the change feed (``mobile_api.sync.models``) and a registry
of sources (``mobile_api.sync.sources``); the push half is the part ``push``. The feed's
retention (``retention``) runs on the worker's tick and as ``wangge sync prune``."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's sources, blueprint, command and periodic job."""
    from wangge.hooks import hooks

    from . import (  # imported here: importing the package must not load its views
        cases,
        commands,
        grids,
        notices,
        retention,
    )
    from .sources import register
    from .views import blp

    register("cases", cases.source, cases.load)
    register("grids", grids.source, grids.load)
    register("notifications", notices.source, notices.load)
    api.register_blueprint(blp)
    for command in commands.commands:
        app.cli.add_command(command)
    hooks(app).periodic.append(retention.periodic)
