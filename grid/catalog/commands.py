"""``wangge catalog`` commands."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from grid.catalog.service import load_catalog
from wangge.extensions import db

catalog_cli = AppGroup("catalog", help="Category catalog.")


@catalog_cli.command("load")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
def catalog_load(file):
    """Load (upsert) the category catalog; default: the catalog shipped with Wangge."""


    counts = load_catalog(db.session, file)
    db.session.commit()
    click.echo(f"{counts['categories']} categories, {counts['limits']} limits")


commands = [catalog_cli]
