"""``wangge report kpi``: the evaluation indicators of a period as XLSX, CSV or JSON.
``wangge indicators rebuild|fold|status``: the roll-up the indicators are read from."""
from __future__ import annotations

import json
import sys
import time

import click
from flask.cli import AppGroup

from dispatch.indicators import kpi, rollup
from wangge.config import current_settings
from wangge.extensions import db

report = AppGroup("report", help="Reports: evaluation indicators (综合评价).")


@report.command("kpi")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="first local day of the period (included)")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="last local day of the period (included)")
@click.option("--by", type=click.Choice(["department", "grid", "worker", "category"]), default="department",
              show_default=True)
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "json"]), default="xlsx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="file to write (default: kpi-BY-FROM-TO.EXT; '-' writes CSV/JSON to stdout)")
def kpi_command(first, last, by, fmt, output):
    """Every indicator of docs/domain.md §4 per group, computed from the event log. Days are
    local days in WANGGE_TIMEZONE."""


    first, last = first.date(), last.date()
    if last < first:
        raise click.BadParameter("must not be before --from", param_hint="--to")
    settings = current_settings()
    try:
        weights = kpi.parse_weights(settings.kpi_weights)
    except kpi.WeightsError as exc:
        click.echo(f"error [kpi_weights]: {exc}", err=True)
        sys.exit(2)
    start, end = kpi.local_period(first, last, settings.timezone)
    steps = 9  # the grouped queries of kpi.compute
    with click.progressbar(length=steps, label=f"computing by {by}", file=sys.stderr, show_pos=True) as bar:
        rows = kpi.compute(db.session, start, end, by, weights=weights, progress=lambda _name: bar.update(1))
    period = {"from": first.isoformat(), "to": last.isoformat(), "timezone": settings.timezone,
              "start": start.isoformat(), "end": end.isoformat()}
    output = output or f"kpi-{by}-{first.isoformat()}-{last.isoformat()}.{fmt}"
    if fmt == "xlsx":
        if output == "-":
            raise click.BadParameter("XLSX needs a file", param_hint="--output")
        kpi.to_xlsx(rows, output, period=period)
    else:
        stream = sys.stdout if output == "-" else open(output, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8",
                                                       newline="")
        try:
            if fmt == "csv":
                kpi.to_csv(rows, stream)
            else:
                json.dump({"period": period, "by": by, "rows": rows}, stream, ensure_ascii=False, indent=1)
                stream.write("\n")
        finally:
            if stream is not sys.stdout:
                stream.close()
    if output != "-":
        click.echo(f"{len(rows)} rows by {by}, {first} to {last} -> {output}", err=True)


indicators = AppGroup("indicators", help="The indicators' roll-up (docs/indicators.md).")


@indicators.command("rebuild")
@click.option("--batch", type=click.IntRange(1, 50000), default=20000, show_default=True,
              help="cases recomputed per transaction")
def rebuild_command(batch):
    """Recompute the roll-up of every case (after the upgrade to migration 0015, or to
    repair). Answers stay exact while it runs; safe to interrupt and run again."""
    start = time.perf_counter()

    def progress(done, total):
        click.echo(f"{done:,}/{total:,} cases ({done / total:.0%}) {time.perf_counter() - start:.0f} s", err=True)

    total = rollup.rebuild(db.session, batch=batch, progress=progress)
    click.echo(f"roll-up rebuilt: {total:,} cases in {time.perf_counter() - start:.1f} s")


@indicators.command("fold")
def fold_command():
    """Fold the cases changed since the last fold (what the worker's tick does)."""
    n = 0
    while taken := rollup.fold(db.session):
        db.session.commit()
        n += taken
    click.echo(f"folded {n:,} changes")


@indicators.command("status")
def status_command():
    """How many changes wait to be folded."""
    click.echo(f"{rollup.dirty_count(db.session):,} changes wait to be folded")


commands = [report, indicators]
