"""``wangge patrol``: the track table's day partitions by hand (the worker's tick does the
same every ``WANGGE_SWEEP_INTERVAL_SECONDS``)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from wangge.config import current_settings
from wangge.extensions import db

from . import partitions

patrol_cli = AppGroup("patrol", help="Patrols (巡查): the GPS track table's day partitions.")


@patrol_cli.command("partitions")
@click.option("--ensure-days", type=click.IntRange(0, 3660), default=None,
              help="create partitions from yesterday to N days ahead (default WANGGE_PATROL_PARTITIONS_AHEAD)")
@click.option("--drop-expired", is_flag=True,
              help="drop partitions (PostgreSQL) or delete rows (SQLite) older than WANGGE_PATROL_RETENTION_DAYS")
def partitions_command(ensure_days, drop_expired):
    """Create the day partitions ahead, optionally drop the expired ones, and list them."""
    session = db.session
    if not partitions.is_postgres(session):
        click.echo("SQLite: patrol_points is a plain table (no partitions)")
        if drop_expired:
            for line in partitions.drop_expired(session):
                click.echo(f"deleted {line}")
        session.commit()
        return
    created = partitions.ensure_ahead(session, ensure_days)
    dropped = partitions.drop_expired(session) if drop_expired else []
    session.commit()
    for day in created:
        click.echo(f"created {partitions.partition_name(day)}")
    for name in dropped:
        click.echo(f"dropped {name}")
    names = sorted(partitions.existing(session))
    click.echo(f"{len(names)} partitions ({names[0] if names else '-'} .. {names[-1] if names else '-'}), "
               f"retention {current_settings().patrol_retention_days} days")


commands = [patrol_cli]
