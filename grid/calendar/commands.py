"""``wangge calendar`` commands."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from grid.calendar.service import load_schedule, parse_schedule
from wangge.cli import fail
from wangge.errors import ApiError
from wangge.extensions import db

calendar_cli = AppGroup("calendar", help="Work calendar overrides.")


@calendar_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def calendar_load(file):
    """Load a year's schedule: CSV date,kind,name (kind = holiday | workday) or JSON."""


    try:
        rows = parse_schedule(Path(file).read_text(encoding="utf-8-sig"), file)
        n = load_schedule(db.session, rows)
        db.session.commit()
    except ApiError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"loaded {n} days")


commands = [calendar_cli]
