"""``wangge matrix`` commands."""
from __future__ import annotations

import io

import click
from flask.cli import AppGroup

from grid.matrix.service import export_csv, import_csv
from wangge.cli import fail, progress
from wangge.errors import ApiError
from wangge.extensions import db

matrix_cli = AppGroup("matrix", help="Responsibility matrix CSV import/export.")


@matrix_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--replace", is_flag=True, help="also delete rules not in the file")
def matrix_import(file, replace):
    """Import the responsibility matrix from CSV (category_code, grid_code, department_code, note)."""


    text = file.read()
    rows = max(text.count("\n") - 1, 0)
    try:
        with progress(rows, "importing") as bar:
            counts = import_csv(db.session, io.StringIO(text), replace=replace, progress=bar.update)
        db.session.commit()
    except ApiError as err:
        db.session.rollback()
        fail(err)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@matrix_cli.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8-sig"))
def matrix_export(file):
    """Export the responsibility matrix to CSV ('-' for standard output)."""


    n = export_csv(db.session, file)
    click.echo(f"exported {n} rules", err=True)


commands = [matrix_cli]
