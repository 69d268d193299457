"""``wangge notify``: push notification keys (registered by the phone API's ``notices`` part)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from dispatch.notifications.push import generate_vapid_keys

notify_cli = AppGroup("notify", help="Notifications: keys for Web Push.")


@notify_cli.command("vapid-keys")
def vapid_keys_command():
    """Print a new VAPID key pair for Web Push. Put the first line in the environment of the
    web processes and workers; browsers subscribe with the public key, which the phone API
    also serves (GET /api/m/v1/push-subscriptions/vapid-key)."""
    private, public = generate_vapid_keys()
    click.echo(f"WANGGE_VAPID_PRIVATE_KEY={private}")
    click.echo(f"# public key (applicationServerKey): {public}")


commands = [notify_cli]
