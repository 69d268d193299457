"""``wangge photos``: upkeep of stored photos (the worker purges one batch per tick too)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from dispatch.attachments.service import count_unused_uploads, purge_unused_uploads
from wangge.cli import progress
from wangge.extensions import db
from wangge.timeutil import utcnow

photos = AppGroup("photos", help="Stored photos (照片): purge citizens' uploads no report used.")


@photos.command("purge")
@click.option("--batch", type=click.IntRange(1, 10_000), default=200, show_default=True,
              help="rows deleted and committed at a time")
def purge_command(batch):
    """Delete citizens' uploads whose token expired unused (longer ago than
    WANGGE_PUBLIC_PHOTO_PURGE_MARGIN_MINUTES), with their files when no other photo shares them."""
    now = utcnow()
    total = count_unused_uploads(db.session, now)
    rows = files = 0
    with progress(total, "purging unused uploads") as bar:
        while True:
            done = purge_unused_uploads(db.session, now=now, limit=batch)
            rows, files = rows + done["rows"], files + done["files"]
            bar.update(done["rows"])
            if done["rows"] < batch:
                break
    click.echo(f"unused uploads deleted: {rows}, stored files removed: {files}")


commands = [photos]
