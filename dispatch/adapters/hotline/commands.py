"""``wangge hotline import FILE``: 12345 hotline orders from CSV or XLSX."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from dispatch.adapters.hotline.service import HotlineFileError, import_table, read_file
from dispatch.intake import rules
from wangge.cli import fail, progress
from wangge.errors import ApiError
from wangge.extensions import db

hotline = AppGroup("hotline", help="12345 hotline orders (12345 热线工单).")


@hotline.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", type=click.Choice(rules.CRS_CHOICES, case_sensitive=False),
              help="coordinate system of lon/lat for rows without a crs column value "
                   "(no default: a row with a point must say its system)")
@click.option("--skip-invalid", is_flag=True, help="import the valid rows, report and skip the rest")
def hotline_import(file, crs, skip_invalid):
    """Import hotline orders from CSV (UTF-8 with/without BOM, or GBK) or XLSX (first sheet).
    Every row is checked first; any bad row means nothing is written (exit 2), unless
    --skip-invalid. Importing the same file again creates nothing new. Columns: docs/hotline.md."""
    try:
        table = read_file(file)
    except HotlineFileError as exc:
        click.echo(f"error [invalid_file]: {exc}", err=True)
        sys.exit(2)
    except ApiError as err:
        fail(err)
    click.echo(f"read {len(table.rows)} rows from {file}", err=True)
    if table.ignored:
        click.echo(f"ignored columns: {', '.join(table.ignored)}", err=True)
    try:
        with progress(len(table.rows), "importing") as bar:
            result = import_table(db.session, table, crs=crs, skip_invalid=skip_invalid, progress=bar.update)
        db.session.commit()
    except ApiError as err:
        db.session.rollback()
        if err.code == "invalid_rows":
            click.echo(f"error [{err.code}]: {err.message}", err=True)
            for line in _row_problems(err.details):
                click.echo(f"  {line}", err=True)
            sys.exit(2)
        fail(err)
    for line in _row_problems(result.skipped):
        click.echo(f"skipped {line}")
    click.echo(result.summary())


def _row_problems(details: list[dict]) -> list[str]:
    """``line 3 received_at [受理时间]='x': message`` (the file's header when it differs)."""
    out = []
    for p in details:
        header = f" [{p['header']}]" if p["header"] != p["column"] else ""
        out.append(f"line {p['line']} {p['column']}{header}={p['value']!r}: {p['message']}")
    return out


commands = [hotline]
