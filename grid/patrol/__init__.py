"""Patrols (巡查): a grid worker's walk through their grids, its GPS track, check-ins, and the
figures leaders and the indicators read (patrol coverage, patrol time). The phone API's views
are ``mobile_api.patrol``; this part keeps the rules (``service``), the track table's day
partitions (``partitions``), the leaders' views (``views``, ``/api/v1/patrols``) and
``wangge patrol`` (``commands``)."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint, commands and hooks (called by grid.init_app).
    Imported here, not at the top: ``import grid.patrol.models`` must not load the views."""
    from wangge.hooks import hooks

    from . import commands, partitions, views

    api.register_blueprint(views.blp)
    for command in commands.commands:
        app.cli.add_command(command)
    hooks(app).periodic.append(partitions.periodic)
