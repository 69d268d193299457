"""The grid registry (网格): grids, departments, staff, categories, responsibility, time limits, calendar.

One package per part, each with its services, schemas, views and commands, in this order (a
part imports only the parts before it; ``lint-imports`` checks that there are no cycles):

1. ``grids`` - the grid layer: import, topology, point-to-grid lookup (``locator``), ``/grids``, ``/geo``;
   ``catalog`` - categories and their time limits (``limits``); ``calendar`` - the work calendar
   (``workcal``) and deadlines; ``departments`` - departments and which kinds take dispatched cases;
2. ``matrix`` - the responsibility matrix (category x grid -> department);
3. ``accounts`` - sign-in, tokens, staff and their grid assignments (``/auth``, ``/staff``);
4. ``patrol`` - patrols and GPS tracks (its own ``models`` module: activity, not registry).

The tables stay in one ``models`` module (see docs/architecture.md); ``roles``, ``demo`` (the demo
city and ``wangge demo load``) and ``data/`` belong to the whole registry."""
from __future__ import annotations


def init_app(app, api) -> None:
    """Register the registry's blueprints, commands and core hooks (called by the app factory).
    Imported here, not at the top: ``import grid.models`` must not load every view and command."""
    from wangge.hooks import hooks

    from . import demo, roles
    from .accounts import commands as account_commands
    from .accounts import service as accounts
    from .accounts import staff_views
    from .accounts import views as auth_views
    from .calendar import commands as calendar_commands
    from .calendar import views as calendar_views
    from .catalog import commands as catalog_commands
    from .catalog import service as catalog
    from .catalog import views as category_views
    from .departments import views as department_views
    from .grids import commands as grid_commands
    from .grids import geo_views
    from .grids import views as grid_views
    from .matrix import commands as matrix_commands
    from .matrix import views as matrix_views
    from .patrol import init_part as patrol_part

    for module in (auth_views, grid_views, geo_views, department_views, staff_views, category_views,
                   matrix_views, calendar_views):  # the OpenAPI document's order
        api.register_blueprint(module.blp)
    for module in (grid_commands, matrix_commands, catalog_commands, calendar_commands, account_commands,
                   demo):
        for command in module.commands:
            app.cli.add_command(command)
    patrol_part(app, api)
    registry = hooks(app)
    registry.token_resolver = accounts.resolve_token
    registry.role_label = roles.role_label
    registry.on_init.append(catalog.init_catalog)
    registry.demo = (demo.demo_loaded, demo.load_demo)
