"""Unified dispatch (统一派单): cases from intake to a closed, rated case.

One package per part, each with its models, services, schemas and views, in layers (a part
imports only the parts before it; tests/docs/test_architecture.py checks it):

1. ``cases`` - the case record: models, the lifecycle table (data), who sees which case;
2. ``attachments`` - photos; ``notifications`` - the outbox, channels, event notices;
3. ``clocks`` - stage deadlines over the work calendar, the sweep and its notices;
4. ``workflow`` - the verbs that move a case (``act``), how cases look, the case API;
5. ``intake`` (every channel's reports become cases), ``enforcement`` (referrals to the
   comprehensive enforcement team on the same machinery), ``indicators`` (KPIs, exports);
6. ``adapters`` - the 12345 hotline and Open311 translate their formats into intake.

Where a lower part must reach a higher one (a verb's side effect, who sees a case, whose
clock a deadline notice is about), the higher part registers itself here in ``init_app``."""
from __future__ import annotations


def init_app(app, api) -> None:
    """Register dispatch's blueprints, commands and hooks (called by the app factory).
    Imported here, not at the top: ``import dispatch.cases.models`` must not load every view."""
    from wangge.hooks import hooks

    from . import (
        diagrams,
        models,  # noqa: F401 - registers every table
    )
    from .adapters.hotline import commands as hotline_commands
    from .adapters.hotline import views as hotline_views
    from .adapters.open311 import views as open311_views
    from .attachments import commands as attachment_commands
    from .attachments import views as attachment_views
    from .attachments.service import purge_tick
    from .cases import scope
    from .clocks import commands as clock_commands
    from .clocks import notices
    from .clocks.ticker import tick
    from .enforcement import notices as enforcement_notices
    from .enforcement import scope as enforcement_scope
    from .enforcement import service as enforcement
    from .enforcement import views as enforcement_views
    from .indicators import commands as indicator_commands
    from .indicators import rollup
    from .indicators import views as indicator_views
    from .intake import correct, public_views, staff_views
    from .notifications.outbox import forget_new_rows, relay_after_commit, relay_loop
    from .workflow import actions, map_views
    from .workflow import views as case_views

    for module in (attachment_views, case_views, enforcement_views, hotline_views, indicator_views,
                   map_views, open311_views, public_views, staff_views):
        api.register_blueprint(module.blp)
    for module in (attachment_commands, diagrams, clock_commands, hotline_commands, indicator_commands):
        for command in module.commands:
            app.cli.add_command(command)
    actions.register_effect("refer_enforcement", enforcement.refer_effect)
    actions.register_effect("reclassify", correct.reclassify)
    actions.register_effect("relocate", correct.relocate)
    scope.register_visibility(enforcement_scope.referred_cases)
    notices.register_owner("enforcement_id", enforcement_notices.deadline_notices)
    registry = hooks(app)
    registry.after_commit.append(relay_after_commit)
    registry.after_rollback.append(forget_new_rows)
    registry.frequent.append(relay_loop)
    registry.periodic.append(tick)
    registry.periodic.append(purge_tick)
    registry.periodic.append(rollup.tick)
