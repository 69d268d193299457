"""``wangge sla``: deadline sweep and outbox relay by hand (the worker runs both periodically)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from dispatch.clocks.deadlines import sweep
from dispatch.notifications.outbox import pending_count, relay_pending
from wangge.extensions import db

sla = AppGroup("sla", help="Stage deadlines (时限): sweep for warnings and overdue cases, relay notifications.")


def _relay_line(relay: dict) -> str:
    if relay.get("redis") == "inline":
        return f"notifications delivered: {relay['delivered']}, failed (will retry): {relay['failed']}"
    if relay.get("redis") == "down":
        return "Redis unreachable: notifications stay pending in the outbox"
    return (f"notifications enqueued: {relay['enqueued']}, re-enqueued: {relay['requeued']}, "
            f"still queued: {relay['alive']}")


@sla.command("sweep")
@click.option("--limit", type=int, default=10_000, show_default=True, help="clocks per threshold and run")
def sweep_command(limit):
    """Mark and notify clocks (cases' and enforcement cases') that crossed 80% or 100% of
    their limit; then relay."""

    counts = sweep(db.session, limit=limit)
    db.session.commit()
    click.echo(f"warnings: {counts['warnings']}, overdue: {counts['overdue']}")
    click.echo(_relay_line(relay_pending(db.session)))
    click.echo(f"outbox pending: {pending_count(db.session)}")


@sla.command("relay")
@click.option("--limit", type=int, default=500, show_default=True)
def relay_command(limit):
    """Hand pending outbox rows to the queue (or deliver them, when jobs run inline)."""

    click.echo(_relay_line(relay_pending(db.session, limit=limit)))
    click.echo(f"outbox pending: {pending_count(db.session)}")


commands = [sla]
