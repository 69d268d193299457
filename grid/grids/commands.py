"""``wangge grid`` commands."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from geo.io import GeoFormatError, read_features
from grid.grids import locator
from grid.grids import service as grids
from grid.grids.service import check_topology, import_features
from wangge.cli import fail, progress
from wangge.errors import ApiError
from wangge.extensions import db

grid_cli = AppGroup("grid", help="Grid layer: import, locate, check.")

CRS_CHOICE = click.Choice(["wgs84", "gcj02", "bd09"], case_sensitive=False)


@grid_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", type=CRS_CHOICE, default="wgs84", show_default=True,
              help="coordinate system of the file")
@click.option("--code-field", default="code", show_default=True)
@click.option("--name-field", default="name", show_default=True)
@click.option("--level-field", default="level", show_default=True)
@click.option("--parent-field", default="parent", show_default=True)
@click.option("--level", type=click.Choice(["district", "street", "community", "grid"]),
              help="level for features without one")
@click.option("--parent", help="parent code for features without one")
@click.option("--fix", is_flag=True, help="repair invalid polygons with make_valid and report the changes")
@click.option("--skip-invalid", is_flag=True, help="import the valid features, report and skip the rest")
@click.option("--encoding", help="attribute encoding of a Shapefile (default: .cpg, else utf-8/gbk)")
def grid_import(file, crs, code_field, name_field, level_field, parent_field, level, parent, fix,
                skip_invalid, encoding):
    """Import grids from GeoJSON or an ESRI Shapefile. Nothing is written if any feature is
    invalid, unless --skip-invalid."""


    try:
        features = read_features(file, code_field=code_field, name_field=name_field, level_field=level_field,
                                 parent_field=parent_field, default_level=level, default_parent=parent,
                                 encoding=encoding)
    except GeoFormatError as exc:
        click.echo(f"error [invalid_file]: {exc}", err=True)
        sys.exit(2)
    click.echo(f"read {len(features)} features from {file}", err=True)
    try:
        with progress(len(features), "importing") as bar:
            result = import_features(db.session, features, crs=crs, fix=fix, skip_invalid=skip_invalid,
                                     source=Path(file).name, progress=bar.update)
        db.session.commit()
    except ApiError as err:
        db.session.rollback()
        fail(err)
    for f in result.fixes:
        click.echo(f"fixed feature #{f.index} code={f.code}: {f.what}")
    for p in result.skipped:
        click.echo(f"skipped feature #{p.index} code={p.code}: {p.reason} ({p.detail})")
    click.echo(f"created {len(result.created)}, redrawn {len(result.redrawn)}, unchanged "
               f"{len(result.unchanged)}, skipped {len(result.skipped)}, fixed {len(result.fixes)}")


@grid_cli.command("locate", context_settings={"ignore_unknown_options": True})  # LON may be negative
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--crs", type=CRS_CHOICE, default="wgs84", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def grid_locate(lon, lat, crs, as_json):
    """Which grid is LON LAT in: code, name, level chain, grid workers."""


    grid = locator.locate(db.session, lon, lat, crs)
    if grid is None:
        click.echo(f"outside: ({lon}, {lat}) [{crs}] is not in any grid", err=True)
        sys.exit(1)
    chain = grids.chain(db.session, grid)
    workers = grids.workers_of(db.session, grid.code)
    if as_json:
        click.echo(json.dumps({"code": grid.code, "name": grid.name, "level": grid.level,
                               "chain": [[g.code, g.name, g.level] for g in chain],
                               "workers": [[w.name, w.phone] for w in workers]}, ensure_ascii=False))
        return
    click.echo(f"{grid.code}  {grid.name}  ({grid.level})")
    click.echo("  " + " > ".join(f"{g.name} [{g.code}]" for g in chain))
    click.echo("  workers: " + (", ".join(f"{w.name} {w.phone or ''}".strip() for w in workers) or "none"))


@grid_cli.command("check")
@click.option("--min-area", type=float, default=1.0, show_default=True, help="ignore slivers below (m²)")
@click.option("--json", "as_json", is_flag=True)
def grid_check(min_area, as_json):
    """Topology report: overlaps between siblings, gaps inside parents, children leaving parents."""


    report = check_topology(db.session, min_area_m2=min_area)
    data = report.to_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for o in data["overlaps"]:
            click.echo(f"overlap  {o['code_a']} / {o['code_b']}: {o['area_m2']} m²")
        for gp in data["gaps"]:
            click.echo(f"gap      inside {gp['parent_code']}: {gp['area_m2']} m²")
        for e in data["escapes"]:
            click.echo(f"escape   {e['code']} leaves {e['parent_code']}: {e['area_m2']} m²")
        click.echo(f"{len(data['overlaps'])} overlaps, {len(data['gaps'])} gaps, {len(data['escapes'])} escapes")
    sys.exit(0 if report.ok else 1)


commands = [grid_cli]
