"""The grid registry: grids, departments, staff, categories, responsibility, time limits, calendar."""
from __future__ import annotations


def init_app(app, api) -> None:
    """Register the registry's blueprints, commands and core hooks (called by the app factory).
    Imported here, not at the top: ``import grid.models`` must not load every view and command."""
    from wangge.hooks import hooks

    from . import accounts, catalog, cli, demo, roles
    from .api import blueprints

    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    cli.register(app)
    registry = hooks(app)
    registry.token_resolver = accounts.resolve_token
    registry.role_label = roles.role_label
    registry.on_init.append(catalog.init_catalog)
    registry.demo = (demo.demo_loaded, demo.load_demo)
