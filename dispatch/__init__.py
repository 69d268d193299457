"""Unified dispatch (统一派单): cases from intake to a closed, rated case.

One package per part, each with its models, services, schemas and views:
``intake`` (every channel's reports become cases), ``cases`` (the lifecycle as data, the
verbs, who sees what), ``clocks`` (stage deadlines over the work calendar), ``enforcement``
(referrals to the comprehensive enforcement team), ``notifications`` (outbox and channels),
``indicators`` (KPIs and exports), ``attachments`` (photos) and ``adapters`` (the 12345
hotline and Open311 translate their formats into intake). See docs/architecture.md."""
from __future__ import annotations


def init_app(app, api) -> None:
    """Register dispatch's blueprints, commands and core hooks (called by the app factory).
    Imported here, not at the top: ``import dispatch.cases.models`` must not load every view."""
    from wangge.hooks import hooks

    from . import models  # noqa: F401 - registers every table
    from .adapters.hotline import commands as hotline_commands
    from .adapters.hotline import views as hotline_views
    from .adapters.open311 import views as open311_views
    from .attachments import views as attachment_views
    from .cases import actions
    from .cases import commands as case_commands
    from .cases import views as case_views
    from .clocks import commands as clock_commands
    from .clocks.ticker import tick
    from .enforcement import service as enforcement
    from .enforcement import views as enforcement_views
    from .indicators import commands as indicator_commands
    from .indicators import views as indicator_views
    from .intake import public_views
    from .notifications.outbox import forget_new_rows, relay_after_commit

    for module in (attachment_views, case_views, enforcement_views, hotline_views, indicator_views,
                   open311_views, public_views):
        api.register_blueprint(module.blp)
    for module in (case_commands, clock_commands, hotline_commands, indicator_commands):
        for command in module.commands:
            app.cli.add_command(command)
    actions.register_effect("refer_enforcement", enforcement.refer_effect)
    registry = hooks(app)
    registry.after_commit.append(relay_after_commit)
    registry.after_rollback.append(forget_new_rows)
    registry.periodic.append(tick)
