"""``wangge sync``: the change feed's retention by hand (the worker's tick prunes too, a
bounded number of batches per tick)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from mobile_api.sync import retention
from wangge.cli import progress
from wangge.config import current_settings
from wangge.extensions import db

sync_cli = AppGroup("sync", help="Offline sync (离线同步): the change feed the phones pull from.")


@sync_cli.command("prune")
@click.option("--days", type=click.IntRange(1, 36600), default=None,
              help="delete feed rows older than N days (default WANGGE_SYNC_FEED_RETENTION_DAYS)")
@click.option("--batch", type=click.IntRange(1, 100000), default=retention.BATCH, show_default=True,
              help="rows deleted per statement and commit")
def prune_command(days, batch):
    """Delete the change feed's rows older than the retention, in batches; phones whose
    cursor is older than what was deleted start again with a snapshot."""
    session = db.session
    days = current_settings().sync_feed_retention_days if days is None else days
    before = retention.cutoff(days)
    total = retention.expired(session, before)
    session.commit()
    with progress(total, "pruning") as bar:
        done = retention.prune(session, days=days, batch=batch, on_batch=bar.update)
    h = retention.horizon(session)
    click.echo(f"deleted {done['deleted']} feed rows created before {before.isoformat()} "
               f"(retention {days} days); horizon: id {h.pruned_id if h else 0}, "
               f"txid {h.pruned_txid if h and h.pruned_txid is not None else '-'}, "
               f"{h.pruned_rows if h else 0} rows pruned in all")


commands = [sync_cli]
