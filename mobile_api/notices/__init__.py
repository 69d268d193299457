"""Phone API part ``notices``: my notifications (read / unread, counts) and the devices that
receive my push messages. The services are ``dispatch.notifications.personal`` (the inbox,
and ``changed_since`` for the sync pull) and ``dispatch.notifications.subscriptions``; the
push channel is ``dispatch.notifications.push``."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint and the ``wangge notify`` commands."""
    from dispatch.notifications.commands import commands

    from .views import blp

    api.register_blueprint(blp)
    for command in commands:
        app.cli.add_command(command)
